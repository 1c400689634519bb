//! The on-disk bytes of the log: segment headers, message headers, blob headers and the
//! small fixed payloads. `docs/format.md` is the byte-by-byte specification of what
//! this file encodes; the two change together.
//!
//! All integers are little-endian. Every checksum is CRC-32C (Castagnoli).
//!
//! Decoding treats its input as untrusted: any malformed byte yields
//! [`Error::Corruption`] naming the file, the offset and the failed check. Nothing here
//! panics on input, and a length read from disk is checked against a caller-supplied
//! bound before anyone allocates for it.
//!
//! Position rule: a message's lsn is its position in the log, so a message read at file
//! offset `o` of a segment whose header says `segment_lsn = s` and which starts at file
//! offset `b` must carry `lsn = s + (o - b)` ([`MessageHeader::check_lsn`]). A message
//! written to the wrong place (a misdirected write, a stale segment) fails that check
//! even when its checksum is intact.
//!
//! Run nonce: every open draws a [`Nonce`] (from [`crate::io::Storage::nonce`]), writes
//! it into each segment header it starts, and seeds the checksum of every message in
//! those segments (and of every blob header it writes) with it. A later run reuses an
//! lsn only when the header that recorded it was lost (damage, a misdirected write);
//! the crashed run's messages left at those lsns then fail the new segment's
//! checksum. For a fixed message the checksum is a bijection of the seed, so two
//! different nonces never give the same checksum: an old message is rejected with
//! certainty, not with probability.

use crate::error::{Error, Result};

/// A log sequence number: the logical byte position of a message in the log.
pub type Lsn = u64;

/// Segment header magic, "PGLS".
pub const SEGMENT_MAGIC: [u8; 4] = *b"PGLS";
/// Blob file header magic, "PGLB".
pub const BLOB_MAGIC: [u8; 4] = *b"PGLB";
/// The format version this build writes. Version 2 added Vouch messages, version 3
/// Closed and Truncate records, version 4 the segment table file beside the log
/// (`table.rs`); this build also reads versions 1 to 3.
pub const FORMAT_VERSION: u16 = 4;
/// The oldest format version this build reads.
pub const OLDEST_READ_VERSION: u16 = 1;
/// Bytes of a segment header.
pub const SEGMENT_HEADER_LEN: usize = 40;
/// Bytes of a message header.
pub const MESSAGE_HEADER_LEN: usize = 28;
/// Bytes of a blob file header.
pub const BLOB_HEADER_LEN: usize = 32;

/// A run's nonce: seeds the checksums of everything the run writes (module doc).
/// Nonce 0 gives exactly the plain CRC-32C.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Nonce(pub u32);

impl Nonce {
    /// The nonce a run draws from `random` (64 bits of storage randomness), never one
    /// of `taken` (the nonces of headers still on disk).
    pub fn draw(random: u64, taken: &[Nonce]) -> Nonce {
        let mut n = Nonce((random ^ (random >> 32)) as u32);
        while taken.contains(&n) {
            n = Nonce(n.0.wrapping_add(1));
        }
        n
    }

    /// CRC-32C of `bytes`, seeded with this nonce.
    pub fn crc(self, bytes: &[u8]) -> u32 {
        crc32c::crc32c_append(self.0, bytes)
    }
}

/// The nonces a run writes with: its own, and, when it continues the segment a cleanly
/// closed run ended in (`recovery.rs`, step 6), that segment's nonce for the messages
/// it adds there. Every message is checksummed with its segment header's nonce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunNonces {
    /// This run's nonce: in every segment header it writes.
    pub own: Nonce,
    /// The continued segment's end and nonce, if this run continues one.
    pub resumed: Option<(Lsn, Nonce)>,
}

impl RunNonces {
    /// The nonce of the segment holding `lsn`, for lsns this run writes.
    pub fn at(&self, lsn: Lsn) -> Nonce {
        match self.resumed {
            Some((end, nonce)) if lsn < end => nonce,
            _ => self.own,
        }
    }
}

/// What a stored message means: the user's kinds ([`crate::Kind`]) and the log's own
/// records. Kind 0 is never written: zeroed or never-written space reads
/// as kind 0 and is rejected as "no message".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum StoredKind {
    /// A page fragment appended to a page's stack, payload inline.
    Append = 1,
    /// A page replacement (consolidated page), payload inline.
    Replace = 2,
    /// An append whose payload is in a blob file; the payload is the blob's lsn.
    AppendBlob = 3,
    /// A replacement whose payload is in a blob file; the payload is the blob's lsn.
    ReplaceBlob = 4,
    /// A page was freed.
    Free = 5,
    /// The meta page (named roots).
    Meta = 6,
    /// A counter's high-water mark (the page cache's id counter, say).
    Counter = 7,
    /// Persisted configuration that must match at reopen.
    Config = 8,
    /// An aborted reservation: its bytes are skipped by recovery.
    Cancelled = 9,
    /// Fills the rest of a segment; skipped by recovery.
    Pad = 10,
    /// Opens an atomic batch; payload is the batch's end (the lsn just past its last
    /// message).
    BatchManifest = 11,
    /// Starts every buffer write: the page id field holds the stable lsn when the
    /// write was made (every lsn below it was durable), the payload is empty, and the
    /// checksum is unseeded (see [`Vouch`]). Skipped by iteration.
    Vouch = 12,
    /// Written last by a clean close, after every message reserved before it: no lsn
    /// at or past its end was handed out. A header alone (no payload, page id 0),
    /// checksummed with its segment's nonce. Lets the next open continue in the same
    /// segment (`recovery.rs`, step 6). Skipped by iteration.
    Closed = 13,
    /// Written by `Log::truncate_before`: the payload (a u64) is the lsn below which
    /// the log may be reclaimed (Linear mode). Recovery takes the highest one it reads
    /// as the log's durable start. Skipped by iteration.
    Truncate = 14,
    /// Written by a resumed run right after its first Vouch (`mark.rs`): the payload
    /// (a u64) is a random draw of that run, so two copies of one store that both
    /// resumed the segment their copy ended in differ from there on, though their
    /// segments share a nonce. Skipped by iteration. Added within format version 4:
    /// a build from before it reads a log holding one as damaged.
    Resumed = 15,
}

impl StoredKind {
    /// Every kind, in code order.
    pub const ALL: [StoredKind; 15] = [
        StoredKind::Append,
        StoredKind::Replace,
        StoredKind::AppendBlob,
        StoredKind::ReplaceBlob,
        StoredKind::Free,
        StoredKind::Meta,
        StoredKind::Counter,
        StoredKind::Config,
        StoredKind::Cancelled,
        StoredKind::Pad,
        StoredKind::BatchManifest,
        StoredKind::Vouch,
        StoredKind::Closed,
        StoredKind::Truncate,
        StoredKind::Resumed,
    ];

    /// The kind with code `code`, if any.
    pub fn from_code(code: u8) -> Option<StoredKind> {
        StoredKind::ALL.into_iter().find(|k| *k as u8 == code)
    }

    /// True for kinds whose payload is a blob pointer.
    pub fn is_blob(self) -> bool {
        matches!(self, StoredKind::AppendBlob | StoredKind::ReplaceBlob)
    }
}

/// Where bytes being decoded came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    /// File name.
    pub file: &'a str,
    /// Offset of the first byte of the structure being decoded.
    pub offset: u64,
}

impl Place<'_> {
    fn corrupt(&self, reason: impl Into<String>) -> Error {
        Error::corruption(self.file, self.offset, reason)
    }
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Takes exactly `N` bytes from the front of `bytes`, or reports a short read.
fn exact<'b, const N: usize>(
    bytes: &'b [u8],
    place: &Place<'_>,
    what: &str,
) -> Result<&'b [u8; N]> {
    bytes
        .first_chunk::<N>()
        .ok_or_else(|| place.corrupt(format!("{what} needs {N} bytes, {} present", bytes.len())))
}

/// The header at the start of every segment.
///
/// | bytes | field |
/// |---|---|
/// | 0..4 | magic `PGLS` |
/// | 4..6 | format version (u16) |
/// | 6..8 | log2 of the segment size (u16) |
/// | 8..16 | segment lsn: lsn of the segment's first byte (u64) |
/// | 16..24 | stable lsn known when the segment was started (u64) |
/// | 24..32 | previous end: where the log before this segment ended (u64) |
/// | 32..36 | nonce of the run that wrote the segment (u32) |
/// | 36..40 | CRC-32C of bytes 0..36 |
///
/// `stable lsn <= previous end <= segment lsn`. A segment that directly follows the
/// one before it has `previous end == segment lsn`; the first segment an open writes
/// after recovery has `previous end` = the recovered tip, declaring the lsns between
/// void (see `recovery.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// The lsn of the segment's first byte (the header's own first byte).
    pub segment_lsn: Lsn,
    /// Every lsn below this was durable when the segment was started. Recovery uses it
    /// to tell a torn tail (legal after a crash) from rot inside acknowledged data.
    pub stable_lsn: Lsn,
    /// The end of the log this segment continues.
    pub prev_end: Lsn,
    /// log2 of the segment size the log was written with.
    pub size_log2: u16,
    /// The writing run's nonce: seeds the checksum of every message in the segment.
    pub nonce: Nonce,
}

const SEGMENT_CRC_AT: usize = 36;

impl SegmentHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; SEGMENT_HEADER_LEN] {
        assert!(
            self.stable_lsn <= self.prev_end && self.prev_end <= self.segment_lsn,
            "segment header out of order: {self:?}"
        );
        let mut b = [0; SEGMENT_HEADER_LEN];
        b[0..4].copy_from_slice(&SEGMENT_MAGIC);
        b[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[6..8].copy_from_slice(&self.size_log2.to_le_bytes());
        b[8..16].copy_from_slice(&self.segment_lsn.to_le_bytes());
        b[16..24].copy_from_slice(&self.stable_lsn.to_le_bytes());
        b[24..32].copy_from_slice(&self.prev_end.to_le_bytes());
        b[32..36].copy_from_slice(&self.nonce.0.to_le_bytes());
        let crc = crc32c::crc32c(&b[..SEGMENT_CRC_AT]);
        b[SEGMENT_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a header. A newer format version is `Unsupported`; anything
    /// else malformed is `Corruption`.
    pub fn decode(bytes: &[u8], place: Place<'_>) -> Result<SegmentHeader> {
        let b = exact::<SEGMENT_HEADER_LEN>(bytes, &place, "segment header")?;
        if b[0..4] != SEGMENT_MAGIC {
            return Err(place.corrupt("segment header: bad magic"));
        }
        if u32_at(b, SEGMENT_CRC_AT) != crc32c::crc32c(&b[..SEGMENT_CRC_AT]) {
            return Err(place.corrupt("segment header: checksum mismatch"));
        }
        let version = u16_at(b, 4);
        if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) {
            return Err(Error::Unsupported(format!(
                "{}@{}: segment format version {version}, this build reads {FORMAT_VERSION}",
                place.file, place.offset
            )));
        }
        let header = SegmentHeader {
            segment_lsn: u64_at(b, 8),
            stable_lsn: u64_at(b, 16),
            prev_end: u64_at(b, 24),
            size_log2: u16_at(b, 6),
            nonce: Nonce(u32_at(b, 32)),
        };
        if !(8..=30).contains(&header.size_log2) {
            return Err(place.corrupt("segment header: segment size out of range"));
        }
        if header.stable_lsn > header.prev_end || header.prev_end > header.segment_lsn {
            return Err(place
                .corrupt("segment header: stable lsn, previous end and segment lsn out of order"));
        }
        Ok(header)
    }
}

/// The header in front of every message's payload.
///
/// | bytes | field |
/// |---|---|
/// | 0 | kind (1..=14) |
/// | 1..4 | zero |
/// | 4..8 | payload length (u32) |
/// | 8..16 | page id (u64) |
/// | 16..24 | lsn (u64): the log position of byte 0 of this header |
/// | 24..28 | CRC-32C, seeded with the segment's nonce, of bytes 0..24 followed by the payload |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeader {
    /// What the message means.
    pub kind: StoredKind,
    /// Payload bytes following the header.
    pub len: u32,
    /// The page the message is about (0 where none).
    pub pid: u64,
    /// The message's position in the log.
    pub lsn: Lsn,
    /// CRC-32C over header bytes 0..24 and the payload, seeded with the nonce.
    pub crc: u32,
}

impl MessageHeader {
    /// A header for `payload` in a segment of run `nonce`, with its checksum computed.
    /// A payload over `u32::MAX`
    /// bytes cannot be described by the format and is `InvalidArgument` (the log sends
    /// values that large to blobs long before this).
    pub fn new(
        kind: StoredKind,
        pid: u64,
        lsn: Lsn,
        payload: &[u8],
        nonce: Nonce,
    ) -> Result<MessageHeader> {
        let len = u32::try_from(payload.len()).map_err(|_| {
            Error::InvalidArgument(format!(
                "inline payload of {} bytes exceeds u32",
                payload.len()
            ))
        })?;
        let mut h = MessageHeader {
            kind,
            len,
            pid,
            lsn,
            crc: 0,
        };
        h.crc = h.checksum(payload, nonce);
        Ok(h)
    }

    fn prefix(&self) -> [u8; 24] {
        let mut b = [0; 24];
        b[0] = self.kind as u8;
        b[4..8].copy_from_slice(&self.len.to_le_bytes());
        b[8..16].copy_from_slice(&self.pid.to_le_bytes());
        b[16..24].copy_from_slice(&self.lsn.to_le_bytes());
        b
    }

    /// The checksum these header fields and `payload` should carry in a segment of run
    /// `nonce`. A Vouch's is unseeded whatever `nonce` is (see [`Vouch`]).
    pub fn checksum(&self, payload: &[u8], nonce: Nonce) -> u32 {
        let nonce = if self.kind == StoredKind::Vouch {
            Nonce(0)
        } else {
            nonce
        };
        crc32c::crc32c_append(nonce.crc(&self.prefix()), payload)
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; MESSAGE_HEADER_LEN] {
        let mut b = [0; MESSAGE_HEADER_LEN];
        b[..24].copy_from_slice(&self.prefix());
        b[24..28].copy_from_slice(&self.crc.to_le_bytes());
        b
    }

    /// Decodes a header; rejects kind 0 or unknown, nonzero reserved bytes, and a
    /// payload length above `max_len` (so no caller allocates more than can exist).
    pub fn decode(bytes: &[u8], max_len: u64, place: Place<'_>) -> Result<MessageHeader> {
        let b = exact::<MESSAGE_HEADER_LEN>(bytes, &place, "message header")?;
        let kind = match StoredKind::from_code(b[0]) {
            Some(kind) => kind,
            None if b[0] == 0 => return Err(place.corrupt("no message here (kind 0)")),
            None => return Err(place.corrupt(format!("unknown message kind {}", b[0]))),
        };
        if b[1..4] != [0, 0, 0] {
            return Err(place.corrupt("message header: reserved bytes not zero"));
        }
        let len = u32_at(b, 4);
        if u64::from(len) > max_len {
            return Err(place.corrupt(format!(
                "message length {len} exceeds the {max_len} bytes that can follow"
            )));
        }
        Ok(MessageHeader {
            kind,
            len,
            pid: u64_at(b, 8),
            lsn: u64_at(b, 16),
            crc: u32_at(b, 24),
        })
    }

    /// Checks the payload against the header's checksum, for a message in a segment of
    /// run `nonce`.
    pub fn check_payload(&self, payload: &[u8], nonce: Nonce, place: Place<'_>) -> Result<()> {
        if payload.len() != self.len as usize {
            return Err(place.corrupt(format!(
                "payload is {} bytes, header says {}",
                payload.len(),
                self.len
            )));
        }
        if self.checksum(payload, nonce) != self.crc {
            return Err(place.corrupt("message checksum mismatch"));
        }
        Ok(())
    }

    /// Checks the position rule: the message must carry the lsn of where it was found.
    pub fn check_lsn(&self, expected: Lsn, place: Place<'_>) -> Result<()> {
        if self.lsn != expected {
            return Err(place.corrupt(format!(
                "message carries lsn {} but sits at lsn {expected}",
                self.lsn
            )));
        }
        Ok(())
    }

    /// Bytes the message occupies in the log: header plus payload.
    pub fn total_len(&self) -> u64 {
        MESSAGE_HEADER_LEN as u64 + u64::from(self.len)
    }
}

/// Bytes of a Vouch message (a message header with no payload).
pub const VOUCH_LEN: usize = MESSAGE_HEADER_LEN;

/// A Vouch message: the record at the start of every buffer write saying which lsns
/// were durable when the write was made, so that recovery tells damage below them
/// (corruption) from a torn tail (a crash), whichever segment holds the damage.
///
/// It is a message header of kind 12 with `len = 0`, `pid` = the stable lsn, `lsn` =
/// its own position, and a checksum seeded with nonce 0 (the plain CRC-32C), not the
/// run's: recovery also looks for Vouch messages in slots whose segment header was
/// destroyed, where the run's nonce is unknown. A Vouch never claims more than its own
/// position (`stable <= lsn`: the buffer holding it was not durable yet), so one left
/// by an earlier run at a reused lsn vouches for nothing past where it sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vouch {
    /// Its position in the log.
    pub lsn: Lsn,
    /// Every lsn below this was durable when the Vouch was written.
    pub stable: Lsn,
}

impl Vouch {
    /// The Vouch message at `lsn` for `stable`.
    pub fn new(lsn: Lsn, stable: Lsn) -> Vouch {
        assert!(
            stable <= lsn,
            "a vouch past its own position: {stable} > {lsn}"
        );
        Vouch { lsn, stable }
    }

    /// The message's bytes.
    pub fn encode(&self) -> [u8; VOUCH_LEN] {
        let mut h = MessageHeader {
            kind: StoredKind::Vouch,
            len: 0,
            pid: self.stable,
            lsn: self.lsn,
            crc: 0,
        };
        h.crc = h.checksum(&[], Nonce(0));
        h.encode()
    }

    /// The Vouch in `bytes` (at least [`VOUCH_LEN`] of them), if they hold a valid one:
    /// kind 12, zero reserved bytes and length, a matching plain checksum, and
    /// `stable <= lsn`. Cheap to reject: the kind byte is checked first.
    pub fn decode(bytes: &[u8]) -> Option<Vouch> {
        let b = bytes.first_chunk::<VOUCH_LEN>()?;
        if b[0] != StoredKind::Vouch as u8 || b[1..8] != [0; 7] {
            return None;
        }
        let (stable, lsn) = (u64_at(b, 8), u64_at(b, 16));
        let valid = crc32c::crc32c(&b[..24]) == u32_at(b, 24) && stable <= lsn;
        valid.then_some(Vouch { lsn, stable })
    }
}

/// The header of a blob file (one large value per file, named for its lsn).
///
/// | bytes | field |
/// |---|---|
/// | 0..4 | magic `PGLB` |
/// | 4..6 | format version (u16) |
/// | 6..8 | zero |
/// | 8..16 | lsn of the log message pointing at this blob (u64) |
/// | 16..24 | value length (u64) |
/// | 24..28 | CRC-32C of the value |
/// | 28..32 | CRC-32C, seeded with the writing run's nonce, of bytes 0..28 |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobHeader {
    /// The lsn of the message that points here; also the blob's file name.
    pub lsn: Lsn,
    /// Value bytes after the header.
    pub len: u64,
    /// CRC-32C of the value.
    pub value_crc: u32,
    /// The writing run's nonce (not stored: it seeds the header checksum, and the
    /// reader knows it from the segment of the message pointing here).
    pub nonce: Nonce,
}

impl BlobHeader {
    /// A header for `value`, written by run `nonce`.
    pub fn new(lsn: Lsn, value: &[u8], nonce: Nonce) -> BlobHeader {
        BlobHeader {
            lsn,
            len: value.len() as u64,
            value_crc: crc32c::crc32c(value),
            nonce,
        }
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; BLOB_HEADER_LEN] {
        let mut b = [0; BLOB_HEADER_LEN];
        b[0..4].copy_from_slice(&BLOB_MAGIC);
        b[4..6].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        b[8..16].copy_from_slice(&self.lsn.to_le_bytes());
        b[16..24].copy_from_slice(&self.len.to_le_bytes());
        b[24..28].copy_from_slice(&self.value_crc.to_le_bytes());
        let crc = self.nonce.crc(&b[..28]);
        b[28..32].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes a blob header written by run `nonce`; `file_len` bounds the value length.
    pub fn decode(
        bytes: &[u8],
        file_len: u64,
        nonce: Nonce,
        place: Place<'_>,
    ) -> Result<BlobHeader> {
        let b = exact::<BLOB_HEADER_LEN>(bytes, &place, "blob header")?;
        if b[0..4] != BLOB_MAGIC {
            return Err(place.corrupt("blob header: bad magic"));
        }
        if u32_at(b, 28) != nonce.crc(&b[..28]) {
            return Err(place.corrupt("blob header: checksum mismatch"));
        }
        let version = u16_at(b, 4);
        if !(OLDEST_READ_VERSION..=FORMAT_VERSION).contains(&version) || u16_at(b, 6) != 0 {
            return Err(place.corrupt("blob header: unknown version or reserved bytes"));
        }
        let header = BlobHeader {
            lsn: u64_at(b, 8),
            len: u64_at(b, 16),
            value_crc: u32_at(b, 24),
            nonce,
        };
        if header.len > file_len.saturating_sub(BLOB_HEADER_LEN as u64) {
            return Err(place.corrupt(format!("blob length {} exceeds the file", header.len)));
        }
        Ok(header)
    }

    /// Checks the value against the header.
    pub fn check_value(&self, value: &[u8], place: Place<'_>) -> Result<()> {
        if value.len() as u64 != self.len || crc32c::crc32c(value) != self.value_crc {
            return Err(place.corrupt("blob value checksum mismatch"));
        }
        Ok(())
    }
}

/// Encodes a u64 payload (Counter, BatchManifest, blob pointers).
pub fn encode_u64(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

/// Decodes a u64 payload, which must be exactly 8 bytes.
pub fn decode_u64(payload: &[u8], place: Place<'_>) -> Result<u64> {
    let b: [u8; 8] = payload
        .try_into()
        .map_err(|_| place.corrupt(format!("expected an 8-byte payload, got {}", payload.len())))?;
    Ok(u64::from_le_bytes(b))
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const AT: Place<'static> = Place {
        file: "seg",
        offset: 64,
    };

    #[test]
    fn segment_header_round_trips_and_rejects_every_single_bit_flip() {
        let h = SegmentHeader {
            segment_lsn: 1 << 20,
            stable_lsn: 12345,
            prev_end: 23456,
            size_log2: 20,
            nonce: Nonce(0xdead_beef),
        };
        let bytes = h.encode();
        assert_eq!(SegmentHeader::decode(&bytes, AT).expect("decode"), h);
        for bit in 0..SEGMENT_HEADER_LEN * 8 {
            let mut bad = bytes;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                SegmentHeader::decode(&bad, AT).is_err(),
                "bit {bit} flip accepted"
            );
        }
    }

    #[test]
    fn message_header_round_trips_and_payload_checksum_covers_header_fields() {
        let payload = b"hello pages";
        let n = Nonce(3);
        let h = MessageHeader::new(StoredKind::Append, 7, 4096, payload, n).expect("small payload");
        let back = MessageHeader::decode(&h.encode(), 1 << 20, AT).expect("decode");
        assert_eq!(back, h);
        back.check_payload(payload, n, AT).expect("payload ok");
        assert!(back.check_payload(b"hello pageZ", n, AT).is_err());
        let other_pid = MessageHeader { pid: 8, ..back };
        assert!(
            other_pid.check_payload(payload, n, AT).is_err(),
            "pid is covered by the crc"
        );
        let other_lsn = MessageHeader { lsn: 4097, ..back };
        assert!(
            other_lsn.check_payload(payload, n, AT).is_err(),
            "lsn is covered by the crc"
        );
    }

    #[test]
    fn a_message_of_another_run_fails_whatever_the_nonces() {
        let payload = b"same bytes, another run";
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            rng = rng
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let (a, b) = (Nonce((rng >> 32) as u32), Nonce(rng as u32));
            if a == b {
                continue;
            }
            let h = MessageHeader::new(StoredKind::Replace, 9, 512, payload, a).expect("small");
            h.check_payload(payload, a, AT).expect("own run");
            let err = h.check_payload(payload, b, AT).expect_err("other run");
            assert!(err.is_corruption(), "{err}");
        }
    }

    #[test]
    fn nonce_zero_is_the_plain_checksum_and_draws_avoid_taken_nonces() {
        assert_eq!(Nonce(0).crc(b"abc"), crc32c::crc32c(b"abc"));
        let taken = [Nonce(7), Nonce(8)];
        assert_eq!(Nonce::draw(7, &taken), Nonce(9));
        assert_eq!(Nonce::draw(5 << 32, &[]), Nonce(5));
    }

    #[test]
    fn zeroed_space_is_not_a_message_and_lengths_are_bounded() {
        let err = MessageHeader::decode(&[0; MESSAGE_HEADER_LEN], 100, AT).expect_err("kind 0");
        assert!(err.to_string().contains("kind 0"), "{err}");
        let h = MessageHeader::new(StoredKind::Replace, 1, 0, &[1; 200], Nonce(1)).expect("small");
        let err = MessageHeader::decode(&h.encode(), 199, AT).expect_err("too long");
        assert!(err.is_corruption());
        assert!(
            MessageHeader::decode(&h.encode()[..10], 1000, AT).is_err(),
            "short input"
        );
    }

    #[test]
    fn a_message_found_at_the_wrong_lsn_is_rejected() {
        let h =
            MessageHeader::new(StoredKind::Free, 3, 8192, &[], Nonce(1)).expect("empty payload");
        h.check_lsn(8192, AT).expect("right place");
        let err = h.check_lsn(8192 + 512, AT).expect_err("misplaced");
        assert!(err.to_string().contains("sits at lsn"), "{err}");
    }

    /// A valid segment header that says format version `v`.
    fn header_of_version(v: u8) -> [u8; SEGMENT_HEADER_LEN] {
        let mut b = SegmentHeader {
            segment_lsn: 0,
            stable_lsn: 0,
            prev_end: 0,
            size_log2: 10,
            nonce: Nonce(1),
        }
        .encode();
        b[4] = v;
        let crc = crc32c::crc32c(&b[..SEGMENT_CRC_AT]);
        b[SEGMENT_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        b
    }

    #[test]
    fn newer_format_versions_are_unsupported_not_corrupt() {
        let b = header_of_version(9);
        assert!(matches!(
            SegmentHeader::decode(&b, AT),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn blob_header_round_trips_and_bounds_length_by_the_file() {
        let value = vec![5; 1000];
        let n = Nonce(41);
        let h = BlobHeader::new(777, &value, n);
        let bytes = h.encode();
        let back = BlobHeader::decode(&bytes, 1032, n, AT).expect("decode");
        assert_eq!(back, h);
        back.check_value(&value, AT).expect("value");
        assert!(back.check_value(&value[1..], AT).is_err());
        assert!(
            BlobHeader::decode(&bytes, 1031, n, AT).is_err(),
            "file too short for the value"
        );
        assert!(
            BlobHeader::decode(&bytes, 1032, Nonce(42), AT).is_err(),
            "a blob of another run"
        );
    }

    #[test]
    fn u64_payloads_must_be_exactly_eight_bytes() {
        assert_eq!(decode_u64(&encode_u64(99), AT).expect("decode"), 99);
        assert!(decode_u64(&[1; 7], AT).is_err());
        assert!(decode_u64(&[1; 9], AT).is_err());
    }

    #[test]
    fn every_kind_code_round_trips_and_others_are_rejected() {
        for k in StoredKind::ALL {
            assert_eq!(StoredKind::from_code(k as u8), Some(k));
        }
        let known = StoredKind::ALL
            .iter()
            .filter(|k| (0..=255).contains(&(**k as u8)))
            .count();
        assert_eq!(known, 15);
        assert_eq!(StoredKind::from_code(0), None);
        assert_eq!(StoredKind::from_code(16), None);
    }

    #[test]
    fn a_vouch_round_trips_and_every_single_bit_flip_is_rejected() {
        let v = Vouch::new(4096 + 40, 1000);
        let b = v.encode();
        assert_eq!(Vouch::decode(&b), Some(v));
        for bit in 0..VOUCH_LEN * 8 {
            let mut bad = b;
            bad[bit / 8] ^= 1 << (bit % 8);
            assert_eq!(Vouch::decode(&bad), None, "bit {bit}");
        }
        assert_eq!(Vouch::decode(&b[..VOUCH_LEN - 1]), None, "short");
        // Read as a message, it passes the scan's checks under any run's nonce.
        let h = MessageHeader::decode(&b, 0, AT).expect("header");
        h.check_payload(&[], Nonce(77), AT)
            .expect("unseeded checksum");
    }

    #[test]
    fn a_vouch_past_its_own_position_is_rejected() {
        let mut b = Vouch::new(500, 500).encode();
        b[8..16].copy_from_slice(&501u64.to_le_bytes());
        let crc = crc32c::crc32c(&b[..24]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(Vouch::decode(&b), None);
    }

    #[test]
    fn version_1_logs_are_still_read() {
        SegmentHeader::decode(&header_of_version(1), AT).expect("version 1");
    }
}
