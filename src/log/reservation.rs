//! Reservations: claimed log space that the caller completes or aborts.
//!
//! `Log::reserve` claims the space, copies the message in (header and payload, or a
//! blob pointer after the blob file is durable) and returns a [`Reservation`]. While it
//! is held, its IO buffer cannot be written. `complete()` keeps the message; `abort()`
//! turns it into a Cancelled message (payload zeroed) that recovery and iteration skip,
//! and removes its blob file if it had one. Dropping a reservation aborts it.
//!
//! A reservation is completed on the thread that made it (it is not `Send`): the
//! thread's open claims are what `held.rs` checks before a call waits.

use std::marker::PhantomData;

use super::aborted::AbortedMessage;
use super::blob;
use super::format::{Lsn, MESSAGE_HEADER_LEN, MessageHeader, StoredKind, encode_u64};
use super::handle::{Log, Pointer};
use super::held;
use super::iobuf::Claim;
use super::kind::Kind;
use super::stats::Counter;
use crate::error::{Error, Result};

/// Claimed space in the log holding one message. Complete or abort it on the thread
/// that made it: it is not `Send`.
///
/// ```compile_fail
/// # use std::sync::Arc;
/// # use pagelog::{Config, Kind, Log};
/// # let log = Log::open(Config::for_simulation(), Arc::new(pagelog::io::SimStorage::new(1))).unwrap();
/// let r = log.reserve(Kind::Append, 0, b"x").unwrap();
/// std::thread::scope(|s| {
///     s.spawn(move || r.complete());
/// });
/// ```
#[must_use = "a dropped reservation is aborted"]
#[derive(Debug)]
pub struct Reservation<'a> {
    log: &'a Log,
    claim: Claim,
    kind: StoredKind,
    pid: u64,
    blob: Option<Lsn>,
    done: bool,
    /// Not `Send`: registered with this thread's open claims (`held.rs`).
    _thread: PhantomData<*const ()>,
}

impl Log {
    /// Reserves space for a message of `kind` about page `pid` with `value`, waiting
    /// while every IO buffer is busy. A value above the blob threshold goes to its own
    /// blob file (Append and Replace only). When every buffer is busy and the next
    /// one holds a reservation of this thread (it could never be freed), this is
    /// `Error::WouldDeadlock` instead of a wait (`held.rs`).
    ///
    /// On the log of a [`crate::PageCache`] (its [`crate::PageCache::log`]) this and
    /// every other write ([`Log::write`], [`Log::append`], [`Log::pin_batch`],
    /// [`Log::append_batch`]) is `Error::InvalidArgument`: a message the page cache did
    /// not write would be damage to it, and its next open would fail.
    pub fn reserve(&self, kind: Kind, pid: u64, value: &[u8]) -> Result<Reservation<'_>> {
        self.inner.user_may_write()?;
        self.reserve_any(kind.stored(), pid, value, true)
    }

    /// [`Log::reserve`] that returns `WouldBlock` instead of waiting
    /// (`WouldDeadlock` as it does).
    pub fn try_reserve(&self, kind: Kind, pid: u64, value: &[u8]) -> Result<Reservation<'_>> {
        self.inner.user_may_write()?;
        self.reserve_any(kind.stored(), pid, value, false)
    }

    /// Reserves and completes: the message's pointer.
    pub fn write(&self, kind: Kind, pid: u64, value: &[u8]) -> Result<Pointer> {
        self.reserve(kind, pid, value)?.complete()
    }

    /// Appends `value` as one message (an [`Kind::Append`] to page 0), for a log used
    /// as a plain write-ahead log; waits while every IO buffer is busy. The message is
    /// durable once [`Log::flush`] or [`Log::make_stable`] covers its lsn. The pointer
    /// reads it back ([`Log::read`]); its lsn orders it and bounds
    /// [`Log::truncate_before`].
    pub fn append(&self, value: &[u8]) -> Result<Pointer> {
        self.write(Kind::Append, 0, value)
    }

    pub(crate) fn reserve_any(
        &self,
        kind: StoredKind,
        pid: u64,
        value: &[u8],
        block: bool,
    ) -> Result<Reservation<'_>> {
        let inner = &self.inner;
        inner.check()?;
        if inner.read_only {
            return Err(Error::InvalidArgument(
                "the log was opened read-only".to_string(),
            ));
        }
        // The log's own records (8-byte payloads at most) are always inline, whatever
        // the blob threshold.
        let own = Kind::of_stored(kind).is_none();
        let as_blob = value.len() > inner.config.blob_threshold_bytes && !own;
        let stored = match (as_blob, kind) {
            (false, k) => k,
            (true, StoredKind::Append) => StoredKind::AppendBlob,
            (true, StoredKind::Replace) => StoredKind::ReplaceBlob,
            (true, k) => {
                return Err(Error::InvalidArgument(format!(
                    "a {k:?} value of {} bytes exceeds the blob threshold {}",
                    value.len(),
                    inner.config.blob_threshold_bytes
                )));
            }
        };
        let payload_len = if as_blob { 8 } else { value.len() };
        let claim = self.claim(MESSAGE_HEADER_LEN + payload_len, block)?;
        let mut r = Reservation {
            log: self,
            claim,
            kind: stored,
            pid,
            blob: None,
            done: false,
            _thread: PhantomData,
        };
        let base = claim.lsn - claim.offset as u64;
        held::hold(inner.id(), claim.index, base, claim.lsn);
        inner.count(Counter::Reservations, 1);
        if as_blob {
            blob::write_blob(
                inner.storage.as_ref(),
                claim.lsn,
                value,
                inner.nonces.at(claim.lsn),
            )
            .map_err(|e| inner.fail(e))?;
            inner.count(Counter::BlobsWritten, 1);
            inner.count(Counter::Syncs, 2);
            r.blob = Some(claim.lsn);
            r.fill(&encode_u64(claim.lsn))?;
        } else {
            r.fill(value)?;
        }
        Ok(r)
    }

    fn claim(&self, len: usize, block: bool) -> Result<Claim> {
        let inner = &self.inner;
        loop {
            let mut jobs = Vec::new();
            let claim = inner.ring.try_claim(len, inner.as_ref(), &mut jobs);
            let written = inner.run_jobs(jobs);
            if let Some(c) = claim {
                if let Err(e) = written {
                    let mut jobs = Vec::new();
                    inner.ring.release(&c, &mut jobs);
                    let _ = inner.run_jobs(jobs);
                    return Err(e);
                }
                return Ok(c);
            }
            written?;
            inner.count(Counter::Stalls, 1);
            if let Some(lsn) = held::in_buffer(inner.id(), inner.ring.next_index()) {
                let call = if block { "reserve" } else { "try_reserve" };
                let call = format!("{call} (every IO buffer is full)");
                return Err(held::deadlock(lsn, &call));
            }
            if !block {
                return Err(Error::WouldBlock);
            }
            inner.ring.wait_for_space();
            inner.check()?;
        }
    }
}

impl<'a> Reservation<'a> {
    /// The message's lsn.
    pub fn lsn(&self) -> Lsn {
        self.claim.lsn
    }

    /// Where the message will be.
    pub fn pointer(&self) -> Pointer {
        Pointer {
            lsn: self.claim.lsn,
            file_offset: self.claim.file_offset,
        }
    }

    /// Bytes the message takes in the log (header included).
    pub fn len(&self) -> usize {
        self.claim.len
    }

    /// Never true: a message has at least its header.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The end of the message's bytes: the lsn just past it.
    pub fn end(&self) -> Lsn {
        self.claim.lsn + self.claim.len as u64
    }

    pub(crate) fn log(&self) -> &'a Log {
        self.log
    }

    /// Rewrites header and payload (the payload length is fixed by the claim).
    pub(crate) fn fill(&mut self, payload: &[u8]) -> Result<()> {
        assert_eq!(MESSAGE_HEADER_LEN + payload.len(), self.claim.len);
        let inner = &self.log.inner;
        let header = MessageHeader::new(
            self.kind,
            self.pid,
            self.claim.lsn,
            payload,
            inner.nonces.at(self.claim.lsn),
        )?;
        let ring = &inner.ring;
        ring.fill(&self.claim, 0, &header.encode());
        ring.fill(&self.claim, MESSAGE_HEADER_LEN, payload);
        Ok(())
    }

    /// Keeps the message; returns its pointer. An error here is an IO error writing
    /// a buffer this call had to write: the log is poisoned.
    pub fn complete(mut self) -> Result<Pointer> {
        self.done = true;
        let inner = &self.log.inner;
        // Gc bookkeeping reads the message back from the buffer when it is written
        // (`space.rs`): nothing here takes a lock.
        inner.count(Counter::Messages, 1);
        self.leave()?;
        Ok(self.pointer())
    }

    /// Cancels the message: its space becomes a Cancelled message.
    pub fn abort(mut self) -> Result<()> {
        self.abort_inner()
    }

    fn abort_inner(&mut self) -> Result<()> {
        self.done = true;
        if self.blob.is_none() {
            let inner = &self.log.inner;
            inner.aborted.record(|| AbortedMessage {
                ptr: self.pointer(),
                kind: self.kind,
                pid: self.pid,
                payload: inner.ring.claimed_bytes(&self.claim)[MESSAGE_HEADER_LEN..].to_vec(),
            });
        }
        self.kind = StoredKind::Cancelled;
        self.pid = 0;
        let zeros = vec![0; self.claim.len - MESSAGE_HEADER_LEN];
        self.fill(&zeros)?;
        let inner = &self.log.inner;
        inner.count(Counter::Aborts, 1);
        let removed = match self.blob.take() {
            Some(lsn) => inner.remove_blobs(&[lsn]),
            None => Ok(()),
        };
        let left = self.leave();
        removed.and(left)
    }

    fn leave(&self) -> Result<()> {
        let inner = &self.log.inner;
        held::release(inner.id(), self.claim.lsn);
        let mut jobs = Vec::new();
        inner.ring.release(&self.claim, &mut jobs);
        inner.run_jobs(jobs)
    }
}

impl Drop for Reservation<'_> {
    fn drop(&mut self) {
        if !self.done {
            // An error here has poisoned the log already; there is no one to tell.
            let _ = self.abort_inner();
        }
    }
}
