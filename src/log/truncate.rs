//! Bounding a write-ahead log: [`Log::truncate_before`].
//!
//! A write-ahead log is replayed from its last checkpoint, so what lies before the
//! checkpoint can go (raft-engine's `compact_to`, okaywal's checkpoints). In Linear
//! mode `truncate_before(lsn)` writes a Truncate record naming `lsn` and waits until
//! it is durable. From then on:
//!
//! - iteration starts at `lsn` at the earliest, and a read below it is
//!   `Error::InvalidArgument`;
//! - every segment wholly below `lsn` leaves the log once the usual reuse rules hold
//!   (`segment.rs`): its header is zeroed and synced, its slot is reused by the next
//!   segment, and Free slots at the end of the file are cut off; the blob files of
//!   messages below `lsn` are removed;
//! - recovery starts the log there (`recovery.rs`, step 8), and a log whose first
//!   segments are missing with no Truncate record reaching them is still damage.
//!
//! So a log that is truncated behind its checkpoints stays within about the span
//! between two checkpoints plus two segments, whatever it has written in total.

use super::blob;
use super::format::{Lsn, StoredKind, encode_u64};
use super::handle::Log;
use crate::config::SegmentMode;
use crate::error::{Error, Result};

impl Log {
    /// Makes everything below `lsn` reclaimable (Linear mode): writes a Truncate
    /// record, waits until it is durable, then releases the segments wholly below
    /// `lsn` and removes the blob files of messages below it (module doc). `lsn` must
    /// not be past the end of what was reserved; a value at or below an earlier
    /// truncation changes nothing. Gc mode reclaims superseded messages by itself and
    /// refuses this call (`Error::InvalidArgument`).
    pub fn truncate_before(&self, lsn: Lsn) -> Result<()> {
        let inner = &self.inner;
        if inner.config.segment_mode != SegmentMode::Linear {
            return Err(Error::InvalidArgument(
                "truncate_before is for Linear mode; a Gc log reclaims superseded messages itself"
                    .to_string(),
            ));
        }
        if lsn <= inner.space.lock().truncated() {
            return Ok(());
        }
        let record = self.reserve_any(StoredKind::Truncate, 0, &encode_u64(lsn), true)?;
        if lsn > record.lsn() {
            let at = record.lsn();
            record.abort()?;
            return Err(Error::InvalidArgument(format!(
                "truncate_before({lsn}): past the end of the log (next lsn {at})"
            )));
        }
        let at = record.complete()?.lsn;
        self.make_stable(at)?;
        inner.space.lock().truncate(lsn);
        inner.apply_truncation(lsn)
    }
}

impl super::handle::Inner {
    /// The Truncate record for `lsn` is durable: release what it lets go.
    fn apply_truncation(&self, lsn: Lsn) -> Result<()> {
        let stable = self.stable.stable_end();
        let dead = self.space.lock().stabilize(stable);
        self.remove_blobs(&dead)?;
        let blobs = blob::blobs_from(self.storage.as_ref(), 0).map_err(|e| self.fail(e))?;
        let below: Vec<Lsn> = blobs.into_iter().filter(|&b| b < lsn).collect();
        self.remove_blobs(&below)?;
        self.release_segments()
    }
}
