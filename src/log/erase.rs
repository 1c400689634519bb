//! Zeroing bytes on disk that must never be read as log again: headers of segments
//! leaving the log, and what recovery cut off.
//!
//! Both are ordering steps of the protocols in `segment.rs` (a segment is reused, and
//! the jump segments depending on it leave the log, only after its header is zero on
//! disk, and its header is zeroed only after a segment table without it is durable:
//! `table.rs`) and `recovery.rs` (the tip and stale headers are zero on disk before
//! the jump header is written). Each round is written and then synced once; nothing
//! that depends on it happens before the sync returns.

use crate::error::Result;
use crate::failpoints::failpoint;
use crate::io::File;

use super::table::SegmentTable;

/// Writes zeros over each `(file offset, len)` range, then syncs. Does nothing for an
/// empty list.
pub fn zero_ranges(file: &dyn File, ranges: &[(u64, usize)]) -> Result<()> {
    if ranges.is_empty() {
        return Ok(());
    }
    for &(at, len) in ranges {
        failpoint!("erase::zero::write");
        file.write_at(&vec![0; len], at)?;
    }
    failpoint!("erase::zero::sync");
    file.sync()
}

/// One round of releases: the file offsets of the headers to zero, and the segment
/// table that no longer lists their segments (`table.rs`, rule 2).
#[derive(Debug)]
pub struct Round {
    /// Headers to zero.
    pub offsets: Vec<u64>,
    /// The segments in the log without them.
    pub table: SegmentTable,
}

/// Zeroes the headers of segments leaving the log, round after round: `step(done)`
/// reports the offsets zeroed in the last round (empty at first) to the accountant and
/// returns the next round. Each round first makes its table durable (`publish`), then
/// zeroes and syncs. Returns the segments released and the syncs issued (three per
/// round: two for the table, one for the headers).
pub fn release_segments(
    file: &dyn File,
    header_len: usize,
    mut step: impl FnMut(&[u64]) -> Round,
    mut publish: impl FnMut(&SegmentTable) -> Result<()>,
) -> Result<(u64, u64)> {
    let (mut released, mut syncs) = (0, 0);
    let mut round = step(&[]);
    while !round.offsets.is_empty() {
        publish(&round.table)?;
        let ranges: Vec<(u64, usize)> = round.offsets.iter().map(|&at| (at, header_len)).collect();
        zero_ranges(file, &ranges)?;
        released += round.offsets.len() as u64;
        syncs += 3;
        round = step(&round.offsets);
    }
    Ok((released, syncs))
}
