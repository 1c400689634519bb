//! Zeroing bytes on disk that must never be read as log again: headers of segments
//! leaving the log, and what recovery cut off.
//!
//! Both are ordering steps of the protocols in `segment.rs` (a segment is reused, and
//! the jump segments depending on it leave the log, only after its header is zero on
//! disk) and `recovery.rs` (the tip and stale headers are zero on disk before the jump
//! header is written). Each round is written and then synced once; nothing that
//! depends on it happens before the sync returns.

use crate::error::Result;
use crate::failpoints::failpoint;
use crate::io::File;

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

/// Zeroes the headers of segments leaving the log, round after round: `step(done)`
/// reports the offsets zeroed in the last round (empty at first) to the accountant and
/// returns the next round's offsets. Returns the segments released and the syncs
/// issued (one per round).
pub fn release_segments(
    file: &dyn File,
    header_len: usize,
    mut step: impl FnMut(&[u64]) -> Vec<u64>,
) -> Result<(u64, u64)> {
    let (mut released, mut syncs) = (0, 0);
    let mut round = step(&[]);
    while !round.is_empty() {
        let ranges: Vec<(u64, usize)> = round.iter().map(|&at| (at, header_len)).collect();
        zero_ranges(file, &ranges)?;
        released += round.len() as u64;
        syncs += 1;
        round = step(&round);
    }
    Ok((released, syncs))
}
