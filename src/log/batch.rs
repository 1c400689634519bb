//! Atomic batches (I5): a batch's messages are recovered all together or not at all.
//!
//! `Log::pin_batch` reserves a BatchManifest message first and holds the stable lsn at
//! or below it. Messages reserved through the [`Batch`] follow it in the log. `seal`
//! writes the batch's end (the lsn just past its last message) into the manifest and
//! turns the hold into "until every lsn below the end is written", so no
//! acknowledgement can cover the manifest while part of the batch could still be lost.
//! Recovery cuts the log at any manifest whose end lies past the recovered tip, and the
//! accountant keeps the manifest's segment until the batch is durable.
//!
//! The manifest's reservation stays open until `seal`, so its IO buffer is not written
//! before: a batch must fit in the ring's other buffers (`io_bufs - 1` of them), or
//! `try_reserve` on it returns `WouldBlock` for good. Dropping a batch without `seal`
//! seals it with the messages it has: completed messages cannot be taken back, and
//! aborted ones are Cancelled either way.

use super::format::{Lsn, StoredKind, encode_u64};
use super::handle::{Log, Pointer};
use super::kind::Kind;
use super::reservation::Reservation;
use crate::error::Result;

/// An open atomic batch.
#[derive(Debug)]
#[must_use = "a dropped batch is sealed with what it holds"]
pub struct Batch<'a> {
    manifest: Option<Reservation<'a>>,
    end: Lsn,
}

impl Log {
    /// Opens an atomic batch, waiting while every IO buffer is busy.
    /// Refused on a page cache's log, as [`Log::reserve`] is.
    pub fn pin_batch(&self) -> Result<Batch<'_>> {
        self.inner.user_may_write()?;
        self.open_batch(true)
    }

    /// [`Log::pin_batch`] that returns `WouldBlock` instead of waiting.
    pub fn try_pin_batch(&self) -> Result<Batch<'_>> {
        self.inner.user_may_write()?;
        self.open_batch(false)
    }

    /// Appends every value of `values` as one atomic batch of plain messages (see
    /// [`Log::append`]): after a crash, all of them are recovered or none. Returns
    /// their pointers, in order; durable once a flush covers the last one.
    pub fn append_batch(&self, values: &[&[u8]]) -> Result<Vec<Pointer>> {
        let mut batch = self.pin_batch()?;
        let pointers = values
            .iter()
            .map(|v| batch.append(v))
            .collect::<Result<Vec<_>>>()?;
        batch.seal()?;
        Ok(pointers)
    }

    /// Opens a batch without the page-cache check: for the page cache's own batches.
    pub(crate) fn open_batch(&self, block: bool) -> Result<Batch<'_>> {
        let r = self.reserve_any(StoredKind::BatchManifest, 0, &encode_u64(0), block)?;
        // The manifest's buffer cannot be written while `r` is held, so the stable lsn
        // is still at or below it.
        self.inner.stable.hold(r.lsn());
        let end = r.end();
        Ok(Batch {
            manifest: Some(r),
            end,
        })
    }
}

impl<'a> Batch<'a> {
    /// The manifest's lsn: the batch's first lsn.
    pub fn lsn(&self) -> Lsn {
        self.manifest.as_ref().map_or(0, Reservation::lsn)
    }

    fn log(&self) -> &'a Log {
        self.manifest.as_ref().expect("open batch").log()
    }

    /// Reserves a message in the batch (see [`Log::reserve`]).
    pub fn reserve(&mut self, kind: Kind, pid: u64, value: &[u8]) -> Result<Reservation<'a>> {
        let r = self.log().reserve_any(kind.stored(), pid, value, true)?;
        self.end = self.end.max(r.end());
        Ok(r)
    }

    /// Reserves a message in the batch without waiting.
    pub fn try_reserve(&mut self, kind: Kind, pid: u64, value: &[u8]) -> Result<Reservation<'a>> {
        let r = self.log().reserve_any(kind.stored(), pid, value, false)?;
        self.end = self.end.max(r.end());
        Ok(r)
    }

    /// Reserves and completes a message in the batch.
    pub fn write(&mut self, kind: Kind, pid: u64, value: &[u8]) -> Result<Pointer> {
        self.reserve(kind, pid, value)?.complete()
    }

    /// Appends `value` to the batch as a plain message (see [`Log::append`]).
    pub fn append(&mut self, value: &[u8]) -> Result<Pointer> {
        self.write(Kind::Append, 0, value)
    }

    /// Closes the batch; returns the manifest's lsn. Complete or abort the batch's
    /// reservations first: the batch becomes stable only once they are written.
    pub fn seal(mut self) -> Result<Lsn> {
        self.seal_inner()
    }

    fn seal_inner(&mut self) -> Result<Lsn> {
        let Some(mut r) = self.manifest.take() else {
            return Ok(0);
        };
        let lsn = r.lsn();
        let inner = &r.log().inner;
        r.fill(&encode_u64(self.end))?;
        inner.stable.seal_hold(lsn, self.end);
        inner.space.lock().record_batch(lsn, self.end);
        r.complete()?;
        Ok(lsn)
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // An error here has poisoned the log already.
        let _ = self.seal_inner();
    }
}
