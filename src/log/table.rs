//! The segment table: a durable list of the segments in the log, kept in its own file
//! (`segments`) beside it, so that recovery can tell a segment that left the log from
//! one whose header was destroyed.
//!
//! Without it, the two look alike: a segment leaves the log by having its header
//! zeroed, and a misdirected write or bit rot over a live segment's header also leaves
//! no valid header. In Gc mode the walk (`recovery.rs`, step 2) accepts a gap in the
//! lsns as freed segments when a header vouches that everything below it was stable,
//! so a destroyed header used to lose that segment's messages without a report.
//!
//! The table records the segments in the log (their lsns) and the *frontier*: the lsn
//! at or above which every segment was placed after the table was written. Its rules:
//!
//! 1. Every writable open of an existing log writes a table before it writes
//!    anything to the log (the recovered segments and the run's first segment;
//!    `handle.rs`); a new log's table is written right after the log file is
//!    created whole (a new log has no gap to explain), so a table that lists
//!    segments always belongs to a log that existed: a missing, empty or all-zero
//!    log file beside it is damage, not a new log.
//! 2. Before any segment's header is zeroed to release it, a table that no longer
//!    lists it is durable (`erase.rs`, one table per release round; rounds are
//!    serialized, so tables land in the order they were computed).
//!
//! So in the newest durable table, a listed segment was in the log when it was
//! written and has not been released since (releasing it would have written a newer
//! table), and a segment at or past the frontier was placed since and has not been
//! released either. Recovery (`recovery.rs`) therefore requires, below the recovered
//! tip, every listed segment and every segment-aligned lsn at or past the frontier
//! that no void covers, to be a segment it recovered; one that is missing had its
//! header destroyed: `Error::Corruption` under `AbsoluteConsistency`, a cut there
//! under `TolerateCorruptTail`.
//!
//! The table is read only when recovery needs it. A missing table is normal for a log
//! written before format version 4 (no header of version 4 in the file): then the walk
//! keeps the older rule. A missing or damaged table where a version-4 header exists is
//! damage, and reported as such only if the recovered log has a gap it must explain.
//!
//! The bytes are specified in `docs/format.md` ("Segment table file").

use crate::error::{Error, Result};
use crate::io::{Storage, small_file};

use super::format::{FORMAT_VERSION, Lsn};
use super::recovery::MAX_IO_BUFS;
use super::voids::Voids;

/// The name of the segment table file a log keeps beside its log file: back it up
/// and move it with the log (without it, an open that needs it reports
/// `Error::Corruption`).
pub const SEGMENT_TABLE_FILE: &str = "segments";
/// The name a new table is written under before it is renamed to [`SEGMENT_TABLE_FILE`].
pub const NEW_SEGMENT_TABLE_FILE: &str = "segments.new";

/// Segment table magic, "PGLT".
const TABLE_MAGIC: [u8; 4] = *b"PGLT";
/// Bytes before the list of segment lsns.
const HEAD_LEN: usize = 24;
/// Bytes of the trailing checksum.
const CRC_LEN: usize = 4;

/// The segments in the log when the table was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentTable {
    /// Every segment placed after the table was written starts at or above this.
    pub frontier: Lsn,
    /// The lsns of the segments in the log, ascending.
    pub segments: Vec<Lsn>,
}

/// What an open found in the table file.
#[derive(Debug, Clone)]
pub enum Found {
    /// No table file.
    Missing,
    /// A valid table.
    Table(SegmentTable),
    /// A table file that does not decode: the error says where and why.
    Damaged(Error),
}

impl SegmentTable {
    /// The file's bytes for a log of `2^size_log2`-byte segments.
    pub fn encode(&self, size_log2: u16) -> Vec<u8> {
        let count = u32::try_from(self.segments.len()).expect("fewer than 2^32 segments");
        let mut b = Vec::with_capacity(HEAD_LEN + 8 * self.segments.len() + CRC_LEN);
        b.extend_from_slice(&TABLE_MAGIC);
        b.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&size_log2.to_le_bytes());
        b.extend_from_slice(&self.frontier.to_le_bytes());
        b.extend_from_slice(&count.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        for lsn in &self.segments {
            b.extend_from_slice(&lsn.to_le_bytes());
        }
        let crc = crc32c::crc32c(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// Decodes and checks a table written for segments of `size` bytes. Any malformed
    /// field is `Error::Corruption` naming the table file and the offset.
    pub fn decode(b: &[u8], size: u64) -> Result<SegmentTable> {
        let bad = |at: usize, why: &str| {
            Error::corruption(SEGMENT_TABLE_FILE, at as u64, why.to_string())
        };
        if b.len() < HEAD_LEN + CRC_LEN {
            return Err(bad(0, "segment table: shorter than its header"));
        }
        let body = b.len() - CRC_LEN;
        if crc32c::crc32c(&b[..body]).to_le_bytes() != b[body..] {
            return Err(bad(body, "segment table: checksum mismatch"));
        }
        if b[0..4] != TABLE_MAGIC {
            return Err(bad(0, "segment table: bad magic"));
        }
        let word = |at: usize| u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"));
        let half = |at: usize| u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"));
        if u16::from_le_bytes([b[4], b[5]]) != FORMAT_VERSION {
            return Err(bad(4, "segment table: unknown version"));
        }
        if u64::from(u16::from_le_bytes([b[6], b[7]])) != u64::from(size.trailing_zeros()) {
            return Err(bad(6, "segment table: written for another segment size"));
        }
        let frontier = word(8);
        let count = half(16) as usize;
        if half(20) != 0 || (body - HEAD_LEN) / 8 != count || (body - HEAD_LEN) % 8 != 0 {
            return Err(bad(16, "segment table: length does not match its count"));
        }
        let segments: Vec<Lsn> = (0..count).map(|i| word(HEAD_LEN + 8 * i)).collect();
        let ordered = segments.windows(2).all(|w| w[0] < w[1]);
        let aligned = segments.iter().all(|&l| l % size == 0 && l < frontier);
        if frontier % size != 0 || !ordered || !aligned {
            return Err(bad(
                HEAD_LEN,
                "segment table: lsns out of order or past the frontier",
            ));
        }
        Ok(SegmentTable { frontier, segments })
    }

    /// The lowest segment lsn below `tip` that the log must hold by this table (module
    /// doc) but the recovered `chain` (segment lsns, ascending) lacks.
    pub fn first_missing(&self, chain: &[Lsn], voids: &Voids, tip: Lsn, size: u64) -> Option<Lsn> {
        let held = |lsn: Lsn| chain.binary_search(&lsn).is_ok();
        let listed = self.segments.iter().copied().find(|&l| l < tip && !held(l));
        let mut at = self.frontier;
        let placed = loop {
            if at >= tip {
                break None;
            }
            if held(at) {
                at += size;
            } else if let Some(end) = voids.end_of_cover(at) {
                at = end.div_ceil(size) * size;
            } else {
                break Some(at);
            }
        };
        match (listed, placed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Reads the table file of a log whose file is `log_len` bytes long. A table lists
/// the segments in the file's slots and at most one placed but not yet written per IO
/// buffer (the file grows when they are written), so a longer file is damage and is
/// never read whole.
pub fn read(storage: &dyn Storage, size: u64, log_len: u64) -> Result<Found> {
    let most = log_len.div_ceil(size) + MAX_IO_BUFS + 1;
    let max_len = (HEAD_LEN + CRC_LEN) as u64 + 8 * most;
    let bytes = match small_file::read(storage, SEGMENT_TABLE_FILE, max_len) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => return Ok(Found::Missing),
        Err(e @ Error::Corruption { .. }) => return Ok(Found::Damaged(e)),
        Err(e) => return Err(e),
    };
    Ok(match SegmentTable::decode(&bytes, size) {
        Ok(t) => Found::Table(t),
        Err(e) => Found::Damaged(e),
    })
}

/// Makes `table` the durable segment table (`small_file::replace`: two syncs).
pub fn write(storage: &dyn Storage, table: &SegmentTable, size: u64) -> Result<()> {
    let bytes = table.encode(size.trailing_zeros() as u16);
    small_file::replace(storage, SEGMENT_TABLE_FILE, NEW_SEGMENT_TABLE_FILE, &bytes)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const SEG: u64 = 1024;

    fn table(frontier: Lsn, segments: &[Lsn]) -> SegmentTable {
        SegmentTable {
            frontier,
            segments: segments.to_vec(),
        }
    }

    #[test]
    fn a_table_round_trips_and_every_flipped_bit_is_caught() {
        let t = table(8 * SEG, &[0, 2 * SEG, 5 * SEG]);
        let bytes = t.encode(10);
        assert_eq!(bytes.len(), HEAD_LEN + 3 * 8 + CRC_LEN);
        assert_eq!(SegmentTable::decode(&bytes, SEG).expect("decodes"), t);
        for bit in 0..bytes.len() * 8 {
            let mut b = bytes.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            assert!(SegmentTable::decode(&b, SEG).is_err(), "bit {bit}");
        }
        for len in 0..bytes.len() {
            assert!(
                SegmentTable::decode(&bytes[..len], SEG).is_err(),
                "len {len}"
            );
        }
        assert!(SegmentTable::decode(&bytes, 2 * SEG).is_err(), "other size");
    }

    #[test]
    fn a_table_with_a_valid_checksum_but_bad_fields_is_corruption() {
        let reseal = |mut b: Vec<u8>| {
            let body = b.len() - CRC_LEN;
            let crc = crc32c::crc32c(&b[..body]);
            b[body..].copy_from_slice(&crc.to_le_bytes());
            b
        };
        let good = table(8 * SEG, &[0, 2 * SEG]).encode(10);
        let mut unordered = good.clone();
        unordered[HEAD_LEN..HEAD_LEN + 8].copy_from_slice(&(3 * SEG).to_le_bytes());
        let mut count = good.clone();
        count[16] = 200;
        let mut past = good.clone();
        past[8..16].copy_from_slice(&SEG.to_le_bytes());
        for b in [unordered, count, past] {
            let err = SegmentTable::decode(&reseal(b), SEG).expect_err("bad fields");
            assert!(matches!(err, Error::Corruption { .. }), "{err}");
        }
    }

    #[test]
    fn missing_segments_are_listed_ones_and_unvoided_ones_past_the_frontier() {
        let none = Voids::new(Vec::new());
        let t = table(4 * SEG, &[0, 2 * SEG]);
        // Slot 1 was released (not listed, below the frontier): a legitimate gap.
        assert_eq!(
            t.first_missing(&[0, 2 * SEG, 4 * SEG], &none, 5 * SEG, SEG),
            None
        );
        // A listed segment missing below the tip.
        assert_eq!(
            t.first_missing(&[0, 4 * SEG], &none, 5 * SEG, SEG),
            Some(2 * SEG)
        );
        // A listed segment past the tip is not required.
        assert_eq!(t.first_missing(&[0], &none, 2 * SEG, SEG), None);
        // Past the frontier, every segment up to the tip must be there...
        assert_eq!(
            t.first_missing(&[0, 2 * SEG, 4 * SEG, 6 * SEG], &none, 7 * SEG, SEG),
            Some(5 * SEG)
        );
        // ...unless a void covers it (a later open's jump).
        let jump = Voids::new(vec![(4 * SEG + 100, 6 * SEG)]);
        assert_eq!(
            t.first_missing(&[0, 2 * SEG, 4 * SEG, 6 * SEG], &jump, 7 * SEG, SEG),
            None
        );
    }
}
