//! Reading one segment's messages from untrusted bytes: shared by recovery and by
//! iteration.
//!
//! A scan starts after the segment header and stops at the first of:
//! - fewer than a message header's bytes left in the segment: the segment is complete;
//! - a Pad message ending exactly at the segment's end: complete;
//! - a position where the log was cut by an earlier recovery (`stop_at`): a clean stop;
//! - anything that is not a valid message at its place: zeros, an unknown kind, a
//!   length past the segment, a wrong lsn (the position rule), a bad checksum (which
//!   is seeded with the nonce of the segment header's run, so a message an earlier run
//!   left at a reused lsn is bad too), a malformed fixed payload, or the end of the
//!   bytes read: a stop with the reason.
//!
//! Nothing here panics on input or allocates beyond the slice it is given.

use super::format::{
    Lsn, MESSAGE_HEADER_LEN, MessageHeader, Nonce, Place, SEGMENT_HEADER_LEN, StoredKind,
    decode_u64,
};
use crate::error::Error;

/// One message found by a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its lsn.
    pub lsn: Lsn,
    /// Its stored kind (blob kinds as stored).
    pub kind: StoredKind,
    /// Its page id.
    pub pid: u64,
    /// Offset of its payload in the scanned slice.
    pub payload_at: usize,
    /// Payload length.
    pub payload_len: usize,
    /// The u64 payload of blob pointers and batch manifests.
    pub word: Option<u64>,
    /// The nonce of the run that wrote it (its blob, if any, is checked against it).
    pub nonce: Nonce,
}

/// How a scan ended.
#[derive(Debug)]
pub enum ScanEnd {
    /// The segment is complete: the next lsn is the next segment's start.
    Complete,
    /// Stopped at a cut made by an earlier recovery.
    Cut,
    /// Stopped at bytes that are not a valid message.
    Invalid(Error),
}

/// A segment's bytes and where they came from.
#[derive(Debug, Clone, Copy)]
pub struct SegmentBytes<'a> {
    /// The segment's bytes from its start (may be shorter than the segment).
    pub bytes: &'a [u8],
    /// The segment's lsn.
    pub lsn: Lsn,
    /// Segment size.
    pub size: u64,
    /// File name, for errors.
    pub file: &'a str,
    /// File offset of the segment's start.
    pub file_offset: u64,
    /// The nonce in the segment's header.
    pub nonce: Nonce,
}

/// Scans `seg`, calling `visit` for each valid message that is not a Pad or
/// Cancelled (Vouch messages included: their `word` is the stable lsn they vouch
/// for). Returns the lsn where the scan ended and why.
pub fn scan(
    seg: SegmentBytes<'_>,
    stop_at: &dyn Fn(Lsn) -> bool,
    visit: &mut dyn FnMut(Found),
) -> (Lsn, ScanEnd) {
    let mut cursor = Cursor::new();
    loop {
        match cursor.next(seg, stop_at) {
            Step::Message(found) => visit(found),
            Step::End(lsn, why) => return (lsn, why),
        }
    }
}

/// One step of a scan.
#[derive(Debug)]
pub enum Step {
    /// The next valid message that is not a Pad or Cancelled.
    Message(Found),
    /// The scan ended at this lsn, for this reason: the caller stops here.
    End(Lsn, ScanEnd),
}

/// A scan's position in one segment: [`scan`] one message at a time, for a reader
/// that yields messages as it goes instead of collecting them.
#[derive(Debug, Clone, Copy)]
pub struct Cursor {
    pos: u64,
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor::new()
    }
}

impl Cursor {
    /// At the segment's first message, right after its header.
    pub fn new() -> Cursor {
        Cursor {
            pos: SEGMENT_HEADER_LEN as u64,
        }
    }

    /// The next step of the scan of `seg` (the same segment on every call).
    pub fn next(&mut self, seg: SegmentBytes<'_>, stop_at: &dyn Fn(Lsn) -> bool) -> Step {
        loop {
            let lsn = seg.lsn + self.pos;
            if stop_at(lsn) {
                return Step::End(lsn, ScanEnd::Cut);
            }
            if seg.size - self.pos < MESSAGE_HEADER_LEN as u64 {
                return Step::End(seg.lsn + seg.size, ScanEnd::Complete);
            }
            let (found, total) = match one(seg, self.pos) {
                Ok(x) => x,
                Err(e) => return Step::End(lsn, ScanEnd::Invalid(e)),
            };
            match found.kind {
                StoredKind::Pad if self.pos + total == seg.size => {
                    self.pos = seg.size;
                    return Step::End(seg.lsn + seg.size, ScanEnd::Complete);
                }
                StoredKind::Pad => {
                    let at = seg.file_offset + self.pos;
                    let e = Error::corruption(seg.file, at, "pad does not end its segment");
                    return Step::End(lsn, ScanEnd::Invalid(e));
                }
                StoredKind::Cancelled => self.pos += total,
                _ => {
                    self.pos += total;
                    return Step::Message(found);
                }
            }
        }
    }
}

/// Decodes and checks the message at segment offset `pos`; returns it and its length.
fn one(seg: SegmentBytes<'_>, pos: u64) -> Result<(Found, u64), Error> {
    let place = Place {
        file: seg.file,
        offset: seg.file_offset + pos,
    };
    let at = pos as usize;
    let available = seg.bytes.len().saturating_sub(at);
    let header_bytes = &seg.bytes[at.min(seg.bytes.len())..];
    let max_len = seg.size - pos - MESSAGE_HEADER_LEN as u64;
    let header = MessageHeader::decode(header_bytes, max_len, place)?;
    header.check_lsn(seg.lsn + pos, place)?;
    let total = header.total_len();
    if (available as u64) < total {
        return Err(Error::corruption(
            seg.file,
            place.offset,
            "message runs past the end of the file",
        ));
    }
    let payload_at = at + MESSAGE_HEADER_LEN;
    let payload = &seg.bytes[payload_at..payload_at + header.len as usize];
    header.check_payload(payload, seg.nonce, place)?;
    let word = match header.kind {
        StoredKind::AppendBlob
        | StoredKind::ReplaceBlob
        | StoredKind::BatchManifest
        | StoredKind::Truncate
        | StoredKind::Resumed => Some(decode_u64(payload, place)?),
        StoredKind::Vouch if header.pid > header.lsn || header.len != 0 => {
            return Err(Error::corruption(
                seg.file,
                place.offset,
                "vouch past its own position",
            ));
        }
        StoredKind::Vouch => Some(header.pid),
        _ => None,
    };
    let found = Found {
        lsn: header.lsn,
        kind: header.kind,
        pid: header.pid,
        payload_at,
        payload_len: payload.len(),
        word,
        nonce: seg.nonce,
    };
    Ok((found, total))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::log::format::SegmentHeader;

    const SEG: u64 = 512;
    const N: Nonce = Nonce(77);

    fn segment(messages: &[(StoredKind, &[u8])]) -> Vec<u8> {
        let mut b = SegmentHeader {
            segment_lsn: SEG,
            stable_lsn: 0,
            prev_end: SEG,
            size_log2: 9,
            nonce: N,
        }
        .encode()
        .to_vec();
        for (kind, payload) in messages {
            let lsn = SEG + b.len() as u64;
            let h = MessageHeader::new(*kind, 3, lsn, payload, N).expect("small");
            b.extend_from_slice(&h.encode());
            b.extend_from_slice(payload);
        }
        b
    }

    fn run(bytes: &[u8], stop: Option<Lsn>) -> (Lsn, ScanEnd, Vec<Found>) {
        run_as(bytes, stop, N)
    }

    fn run_as(bytes: &[u8], stop: Option<Lsn>, nonce: Nonce) -> (Lsn, ScanEnd, Vec<Found>) {
        let mut found = Vec::new();
        let seg = SegmentBytes {
            bytes,
            lsn: SEG,
            size: SEG,
            file: "log",
            file_offset: 0,
            nonce,
        };
        let (end, why) = scan(seg, &|l| Some(l) == stop, &mut |f| found.push(f));
        (end, why, found)
    }

    #[test]
    fn scan_skips_cancelled_and_stops_at_zeros() {
        let b = segment(&[
            (StoredKind::Append, b"one"),
            (StoredKind::Cancelled, b"xx"),
            (StoredKind::Append, b""),
        ]);
        let mut padded = b.clone();
        padded.resize(SEG as usize, 0);
        let (end, why, found) = run(&padded, None);
        assert_eq!(found.len(), 2);
        assert_eq!(end, SEG + b.len() as u64);
        assert!(matches!(why, ScanEnd::Invalid(e) if e.to_string().contains("kind 0")));
    }

    #[test]
    fn a_pad_to_the_end_completes_the_segment_and_a_cut_stops_cleanly() {
        let b = segment(&[(StoredKind::Append, b"one")]);
        let pad_len = SEG as usize - b.len() - MESSAGE_HEADER_LEN;
        let full = segment(&[
            (StoredKind::Append, b"one"),
            (StoredKind::Pad, &vec![0; pad_len]),
        ]);
        assert_eq!(full.len(), SEG as usize);
        let (end, why, found) = run(&full, None);
        assert!(matches!(why, ScanEnd::Complete));
        assert_eq!((end, found.len()), (2 * SEG, 1));
        let (end, why, found) = run(&full, Some(SEG + b.len() as u64));
        assert!(matches!(why, ScanEnd::Cut));
        assert_eq!((end, found.len()), (SEG + b.len() as u64, 1));
    }

    #[test]
    fn messages_of_another_run_end_the_scan_where_they_start() {
        let b = segment(&[(StoredKind::Append, b"old run"), (StoredKind::Free, b"")]);
        let (end, why, found) = run_as(&b, None, Nonce(N.0 + 1));
        assert!(found.is_empty());
        assert_eq!(end, SEG + SEGMENT_HEADER_LEN as u64);
        assert!(matches!(why, ScanEnd::Invalid(e) if e.to_string().contains("checksum")));
    }

    #[test]
    fn a_message_cut_short_by_the_file_end_is_invalid_not_a_panic() {
        let b = segment(&[(StoredKind::Append, b"hello")]);
        for cut in SEGMENT_HEADER_LEN..b.len() {
            let (end, why, found) = run(&b[..cut], None);
            assert!(found.is_empty() && end == SEG + SEGMENT_HEADER_LEN as u64);
            assert!(matches!(why, ScanEnd::Invalid(_)), "cut at {cut}");
        }
    }
}
