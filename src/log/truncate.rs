//! Bounding a write-ahead log: [`Log::truncate_before`] and its non-blocking twin.
//!
//! A write-ahead log is replayed from its last checkpoint, so what lies before the
//! checkpoint can go (raft-engine's `compact_to`, okaywal's checkpoints). In Linear
//! mode `truncate_before(lsn)` writes a Truncate record naming `lsn`; the truncation
//! takes effect once that record is durable (the blocking call waits for it; the
//! non-blocking one leaves it to the next flush). From then on:
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
//! between two checkpoints plus three segments, whatever it has written in total.

use super::blob;
use super::format::{Lsn, StoredKind, encode_u64};
use super::handle::{Inner, Log};
use crate::config::SegmentMode;
use crate::error::{Error, Result};

impl Log {
    /// Makes everything below `lsn` reclaimable (Linear mode): writes a Truncate
    /// record, waits until it is durable, then releases the segments wholly below
    /// `lsn` and removes the blob files of messages below it (module doc). `lsn` must
    /// not be past the end of what was reserved; a value at or below an earlier
    /// truncation changes nothing. Gc mode reclaims superseded messages by itself and
    /// refuses this call (`Error::InvalidArgument`), and so does the log of a page
    /// cache ([`crate::PageCache::log`]), whose pages live in it. Waits like
    /// [`Log::make_stable`] for its record: called while this thread holds an open
    /// reservation or batch, which that record would wait for, it is
    /// `Error::WouldDeadlock` and writes nothing.
    pub fn truncate_before(&self, lsn: Lsn) -> Result<()> {
        let inner = &self.inner;
        if let Some(held) = super::held::blocking_stable(inner.id(), Lsn::MAX) {
            return Err(super::held::deadlock(held, "truncate_before"));
        }
        let Some(at) = self.write_truncate_record(lsn, true)? else {
            return Ok(());
        };
        self.make_stable(at)
    }

    /// [`Log::truncate_before`] that never waits: `Error::WouldBlock` if the record
    /// cannot be reserved now (nothing written), or if it is written but not yet
    /// durable (the truncation then takes effect at the flush that makes it so);
    /// `Error::WouldDeadlock`, with nothing written, while this thread holds an open
    /// reservation or batch.
    pub fn try_truncate_before(&self, lsn: Lsn) -> Result<()> {
        let inner = &self.inner;
        if let Some(held) = super::held::blocking_stable(inner.id(), Lsn::MAX) {
            return Err(super::held::deadlock(held, "try_truncate_before"));
        }
        let Some(at) = self.write_truncate_record(lsn, false)? else {
            return Ok(());
        };
        self.try_make_stable(at)
    }

    /// Writes the Truncate record for `lsn` and registers it to take effect once
    /// durable; returns its lsn, or None if an earlier truncation already covers `lsn`.
    fn write_truncate_record(&self, lsn: Lsn, block: bool) -> Result<Option<Lsn>> {
        let inner = &self.inner;
        if inner.page_cache {
            return Err(Error::InvalidArgument(
                "truncate_before on a page cache's log: its pages live in the log, and every page with a fragment below the cut would be lost (a page cache reclaims space by garbage collection in Gc mode)"
                    .to_string(),
            ));
        }
        if inner.config.segment_mode != SegmentMode::Linear {
            return Err(Error::InvalidArgument(
                "truncate_before is for Linear mode; a Gc log reclaims superseded messages itself"
                    .to_string(),
            ));
        }
        if lsn <= inner.space.lock().truncated() {
            return Ok(None);
        }
        let next = inner.ring.claimed_end();
        if lsn > next {
            return Err(Error::InvalidArgument(format!(
                "truncate_before({lsn}): past the end of the log (next lsn {next})"
            )));
        }
        let record = self.reserve_any(StoredKind::Truncate, 0, &encode_u64(lsn), block)?;
        if lsn > record.lsn() {
            let at = record.lsn();
            record.abort()?;
            return Err(Error::InvalidArgument(format!(
                "truncate_before({lsn}): past the end of the log (next lsn {at})"
            )));
        }
        let end = record.end();
        inner.space.lock().truncate_when_stable(lsn, end);
        Ok(Some(record.complete()?.lsn))
    }
}

impl Inner {
    /// Removes the blob files below a truncation point that took effect (the space
    /// bookkeeping says which, once).
    pub(crate) fn remove_truncated_blobs(&self) -> Result<()> {
        let Some(lsn) = self.space.lock().take_truncation() else {
            return Ok(());
        };
        let blobs = blob::blobs_from(self.storage.as_ref(), 0).map_err(|e| self.fail(e))?;
        let below: Vec<Lsn> = blobs.into_iter().filter(|&b| b < lsn).collect();
        self.remove_blobs(&below)
    }
}
