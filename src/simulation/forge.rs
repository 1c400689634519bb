//! The resurrecting liar (`--liar resurrect`): a disk outside the legal model that,
//! at a power cut, puts aborted messages back where their Cancelled records reached
//! the disk, checksum and segment nonce and all, as if the abort had never been
//! written. A message the engine cancelled must never come back; the log oracle
//! (I2) and the page oracle (no cut matches) must both catch it.

use crate::io::SimStorage;
use crate::log::LOG_FILE;
use crate::log::aborted::AbortedMessage;
use crate::log::format::{
    MESSAGE_HEADER_LEN, MessageHeader, Nonce, Place, SEGMENT_HEADER_LEN, SegmentHeader, StoredKind,
};

/// Forges each of `aborted` back whose Cancelled record is on `disk` at its place
/// (a segment of `segment_size` bytes may have been reused since: then it is not);
/// the number forged.
pub(crate) fn forge_back(disk: &SimStorage, aborted: &[AbortedMessage], segment_size: u64) -> u64 {
    let Some(image) = disk.read_file(LOG_FILE) else {
        return 0;
    };
    let mut forged = 0;
    for a in aborted {
        let Some(bytes) = forgery(&image, a, segment_size) else {
            continue;
        };
        forged += u64::from(disk.forge(LOG_FILE, a.ptr.file_offset, &bytes).is_ok());
    }
    forged
}

/// The bytes that put `a` back, if its Cancelled record is where it was.
fn forgery(image: &[u8], a: &AbortedMessage, segment_size: u64) -> Option<Vec<u8>> {
    let place = Place {
        file: LOG_FILE,
        offset: 0,
    };
    let at = usize::try_from(a.ptr.file_offset).ok()?;
    let bytes = image.get(at..at.checked_add(MESSAGE_HEADER_LEN)?)?;
    let h = MessageHeader::decode(bytes, u64::MAX, place).ok()?;
    if h.kind != StoredKind::Cancelled || h.lsn != a.ptr.lsn {
        return None;
    }
    let nonce = segment_nonce(image, at, a.ptr.lsn, segment_size)?;
    let header = MessageHeader::new(a.kind, a.pid, a.ptr.lsn, &a.payload, nonce).ok()?;
    let mut bytes = header.encode().to_vec();
    bytes.extend_from_slice(&a.payload);
    Some(bytes)
}

/// The nonce in the header of the segment holding the message at file offset `at`
/// (lsn `lsn`): the liar restores the message as the engine wrote it.
fn segment_nonce(image: &[u8], at: usize, lsn: u64, segment_size: u64) -> Option<Nonce> {
    let start = at.checked_sub((lsn % segment_size) as usize)?;
    let bytes = image.get(start..start + SEGMENT_HEADER_LEN)?;
    let place = Place {
        file: LOG_FILE,
        offset: start as u64,
    };
    SegmentHeader::decode(bytes, place).ok().map(|h| h.nonce)
}
