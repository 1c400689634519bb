//! The `Log`: a group-committed, crash-safe append log, usable on its own as a
//! write-ahead log.
//!
//! Write path (docs/architecture.md lists it with every sync):
//! 1. `reserve` claims space in the current IO buffer (`iobuf.rs`); a value above the
//!    blob threshold is first written to its own blob file, file and directory synced,
//!    and the log message carries its lsn.
//! 2. The caller completes or aborts the reservation (`reservation.rs`).
//! 3. A buffer sealed with no writers is written at its file offset and the file is
//!    synced; the written lsn interval goes to the stable tracker.
//! 4. `make_stable`/`flush` seal the buffer holding the bytes they need and wait until
//!    the stable lsn covers them. An IO error poisons the log: every waiter and every
//!    later call gets the error, and nothing is claimed durable afterwards.

use super::blob;
use super::create;
use super::erase;
use crate::failpoints::failpoint;
use std::collections::{BTreeMap, BTreeSet};

use super::format::{
    Kind, Lsn, MESSAGE_HEADER_LEN, MessageHeader, Nonce, Place, SEGMENT_HEADER_LEN, SegmentHeader,
};
use super::iobuf::{First, Placement, Ring, WriteJob};
use super::recovery::{self, Recovery};
use super::segment::Accountant;
use super::space::Space;
use super::stable::Stable;
use super::stats::{Counter, Counters, Stats};
use crate::config::{Config, SegmentMode};
use crate::error::{Error, Result};
use crate::io::{File, Storage, StorageLock};
use crate::sync::{Arc, AtomicBool, Mutex, Ordering};

/// The log file's name in its storage.
pub const LOG_FILE: &str = "log";

/// Where a message lives: its lsn and its file offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pointer {
    /// The message's lsn.
    pub lsn: Lsn,
    /// Its file offset in the log file.
    pub file_offset: u64,
}

/// A message read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Its lsn.
    pub lsn: Lsn,
    /// The kind the writer gave (blob storage is invisible here).
    pub kind: Kind,
    /// Page id.
    pub pid: u64,
    /// The value.
    pub value: Vec<u8>,
}

/// What the last open recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Every recovered message has an lsn below this.
    pub tip: Lsn,
    /// Messages recovered (not counting Pad and Cancelled).
    pub messages: usize,
    /// The lsn where this run's writes start.
    pub start: Lsn,
    /// Which branches of the recovery walk were taken.
    pub branches: super::recovery::Branches,
}

/// State shared by the log handle, reservations, batches and iterators.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) file: Box<dyn File>,
    pub(crate) ring: Ring,
    pub(crate) stable: Stable,
    pub(crate) space: Mutex<Space>,
    pub(crate) counters: Counters,
    poisoned: AtomicBool,
    pub(crate) voids: super::voids::Voids,
    pub(crate) info: RecoveryInfo,
    /// This run's nonce: in every segment header it writes, seeding every checksum.
    pub(crate) nonce: Nonce,
    /// The nonces of the recovered segments (all below `info.start`), by segment lsn.
    recovered_nonces: BTreeMap<Lsn, Nonce>,
    /// The storage's lock, held while this log lives: no second log writes here.
    _lock: StorageLock,
}

impl Placement for Inner {
    fn start_segment(&self, segment_lsn: Lsn) -> (u64, Lsn) {
        let stable = self.stable.stable_end();
        let offset = self.space.lock().accountant_mut().next(segment_lsn);
        (offset, stable)
    }
}

/// The log. Cheap to share by reference across threads (`Log: Sync`).
pub struct Log {
    pub(crate) inner: Arc<Inner>,
    flusher: Option<super::flusher::Flusher>,
    /// Set once the closing flush ran (by `close` or `drop`).
    closed: bool,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log")
            .field("stable_lsn", &self.stable_lsn())
            .field("recovered", &self.inner.info)
            .finish_non_exhaustive()
    }
}

impl Log {
    /// Opens (creating if needed) the log in `storage` and recovers it. Validates
    /// `config` first; see `recovery.rs` for what recovery guarantees.
    pub fn open(config: Config, storage: Arc<dyn Storage>) -> Result<Log> {
        config.validate()?;
        let lock = storage.lock()?;
        let existing = create::existing(storage.as_ref())?;
        let rec = match &existing {
            Some(file) => recovery::recover(&config, file.as_ref())?,
            None => Recovery::fresh(),
        };
        let mut space = recovered_space(&config, &rec);
        let blob_files = blob::blobs_from(storage.as_ref(), 0)?;
        check_live_blobs(&rec, &space, &blob_files)?;
        let file_offset = space.accountant_mut().next(rec.jump);
        space.accountant_mut().require(rec.jump, rec.tip);
        let nonce = Nonce::draw(storage.nonce(), &rec.taken_nonces);
        let header = SegmentHeader {
            segment_lsn: rec.jump,
            stable_lsn: rec.tip,
            prev_end: rec.tip,
            size_log2: config.segment_size_bytes.trailing_zeros() as u16,
            nonce,
        }
        .encode();
        let (file, blobs) = match existing.filter(|_| !rec.fresh) {
            Some(file) => {
                let blobs = continue_log(storage.as_ref(), file.as_ref(), &rec, blob_files)?;
                failpoint!("handle::open::write_header");
                file.write_at(&header, file_offset)?;
                failpoint!("handle::open::sync_header");
                file.sync()?;
                (file, blobs)
            }
            None => {
                assert_eq!(file_offset, 0, "a new log starts at the file's start");
                (create::create(storage.as_ref(), &header)?, BTreeSet::new())
            }
        };
        space.vouch(rec.tip);
        let mut dead = space.stabilize(rec.jump);
        dead.retain(|lsn| blobs.contains(lsn));
        let removed = blob::remove_blobs(storage.as_ref(), &dead)?;
        let (released, _) = erase::release_segments(file.as_ref(), SEGMENT_HEADER_LEN, |done| {
            release_step(&mut space, done)
        })?;
        cut_free_tail(file.as_ref(), &mut space)?;
        let first = First {
            base: rec.jump,
            file_offset,
            header,
        };
        let ring = Ring::new(
            config.io_bufs,
            config.io_buf_size_bytes,
            config.segment_size_bytes,
            first,
            nonce,
        );
        let info = RecoveryInfo {
            tip: rec.tip,
            messages: rec.messages.len(),
            start: rec.jump,
            branches: rec.branches,
        };
        let flush_every = config.flush_every_ms;
        let counters = Counters::default();
        counters.add(Counter::SegmentsReleased, released);
        counters.add(Counter::BlobsRemoved, removed);
        let inner = Arc::new(Inner {
            config,
            storage,
            file,
            ring,
            stable: Stable::new(rec.jump),
            space: Mutex::new(space),
            counters,
            poisoned: AtomicBool::new(false),
            voids: rec.voids,
            info,
            nonce,
            recovered_nonces: rec.nonces,
            _lock: lock,
        });
        let flusher = flush_every.map(|ms| super::flusher::Flusher::start(Arc::clone(&inner), ms));
        Ok(Log {
            inner,
            flusher,
            closed: false,
        })
    }

    /// What this open recovered.
    pub fn recovery(&self) -> RecoveryInfo {
        self.inner.info
    }

    /// The lsn ranges `[start, end)` that recoveries cut off: what a crashed run
    /// wrote past a recovered tip. Nothing in them is ever read again.
    pub fn cut_ranges(&self) -> Vec<(Lsn, Lsn)> {
        self.inner.voids.ranges().to_vec()
    }

    /// Every message with an lsn below this is durable.
    pub fn stable_lsn(&self) -> Lsn {
        self.inner.stable.stable_end()
    }

    /// The counters of this instance.
    pub fn stats(&self) -> Stats {
        self.inner.counters.snapshot()
    }

    /// The configuration this log was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Returns once every message with an lsn at or below `lsn` is durable. `lsn`
    /// must have been reserved. Waits for reservations in flight in the same buffer:
    /// complete or abort yours first.
    pub fn make_stable(&self, lsn: Lsn) -> Result<()> {
        self.inner.make_stable(lsn, true)
    }

    /// [`Log::make_stable`] that returns `WouldBlock` instead of waiting.
    pub fn try_make_stable(&self, lsn: Lsn) -> Result<()> {
        self.inner.make_stable(lsn, false)
    }

    /// Makes every message reserved before the call durable (once its reservation is
    /// completed or aborted); returns the stable lsn it waited for.
    pub fn flush(&self) -> Result<Lsn> {
        self.inner.flush(true)
    }

    /// [`Log::flush`] that returns `WouldBlock` instead of waiting.
    pub fn try_flush(&self) -> Result<Lsn> {
        self.inner.flush(false)
    }
}

impl Log {
    /// Makes every completed message durable, then closes the log and releases the
    /// directory lock. Returns the flush's error, if any: unlike a drop, which can
    /// only log it. Reservations and batches borrow the log, so none is open here.
    pub fn close(mut self) -> Result<()> {
        self.shut_down()
    }

    /// Drops the log without its closing flush, as a killed process would: completed
    /// messages not yet flushed may be lost. For crash tests (the simulator uses it
    /// for a process restart); a program wants [`Log::close`] or a plain drop.
    pub fn abandon(mut self) {
        if let Some(f) = self.flusher.take() {
            f.stop();
        }
        self.closed = true;
    }

    /// Stops the flusher thread, then flushes. Runs once (close, or drop).
    fn shut_down(&mut self) -> Result<()> {
        if let Some(f) = self.flusher.take() {
            f.stop();
        }
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        self.inner.flush(true).map(|_| ())
    }
}

/// Dropping a log flushes it (best effort): completed messages become durable as with
/// [`Log::close`], but a failure can only be logged (`log::error!`), so call `close`
/// where the error matters. A poisoned log flushes nothing.
impl Drop for Log {
    fn drop(&mut self) {
        if let Err(e) = self.shut_down() {
            log::error!("pagelog: flush while dropping the log failed: {e}");
        }
    }
}

/// Every live recovered message that points at a blob finds its file (`blob_files`,
/// the blob files present): a blob is removed only once a later message of its page
/// superseded its message durably (`space.rs`), so a missing blob of a live message is
/// damage, in either mode. Reported before the open writes anything.
fn check_live_blobs(rec: &Recovery, space: &Space, blob_files: &[Lsn]) -> Result<()> {
    let missing = rec
        .messages
        .iter()
        .filter(|m| m.kind.is_blob() && space.is_live(m.pid, m.lsn))
        .find(|m| {
            m.word
                .is_some_and(|b| blob_files.binary_search(&b).is_err())
        });
    match missing {
        Some(m) => Err(Error::corruption(
            blob::blob_name(m.word.unwrap_or(0)),
            0,
            format!(
                "the blob file of the live message at lsn {} (page {}) is missing",
                m.lsn, m.pid
            ),
        )),
        None => Ok(()),
    }
}

/// What an open of an existing log does before its jump header: removes the blob
/// files no recovered message points at, syncs what recovery read (the log now stands
/// on it, and a header will vouch for it), and zeroes what recovery cut off. Returns
/// the blob files kept.
fn continue_log(
    storage: &dyn Storage,
    file: &dyn File,
    rec: &Recovery,
    blob_files: Vec<Lsn>,
) -> Result<BTreeSet<Lsn>> {
    let blobs = remove_unreferenced_blobs(storage, rec, blob_files)?;
    failpoint!("handle::open::sync_recovered");
    file.sync()?;
    erase::zero_ranges(file, &rec.zero_ranges)?;
    Ok(blobs)
}

fn recovered_space(config: &Config, rec: &Recovery) -> Space {
    let acct = Accountant::recovered(
        config.segment_mode,
        config.segment_size_bytes,
        config.cleanup_threshold_pct,
        rec.slots,
        &rec.chain,
    );
    let mut space = Space::new(acct, config.segment_mode == SegmentMode::Gc);
    for &(lsn, cut) in &rec.jumps {
        space.accountant_mut().require(lsn, cut);
    }
    for m in &rec.messages {
        let blob = m.kind.is_blob().then_some(m.word).flatten();
        space.record(m.kind, m.pid, m.lsn, blob);
        if let (Kind::BatchManifest, Some(end)) = (m.kind, m.word) {
            space.record_batch(m.lsn, end.min(rec.tip));
        }
    }
    space
}

/// Cuts the file's trailing Free segments (their headers are zero on disk: nothing
/// is lost). Runs under the space lock, so no new segment is placed in the cut range
/// until the file is cut; returns whether it cut (and synced).
fn cut_free_tail(file: &dyn File, space: &mut Space) -> Result<bool> {
    let Some(len) = space.accountant_mut().cut_free_tail() else {
        return Ok(false);
    };
    failpoint!("handle::cut_tail::len");
    if file.len()? <= len {
        return Ok(false);
    }
    failpoint!("handle::cut_tail::set_len");
    file.set_len(len)?;
    failpoint!("handle::cut_tail::sync");
    file.sync()?;
    Ok(true)
}

/// One round of [`erase::release_segments`]: the headers at `done` are zero on disk.
fn release_step(space: &mut Space, done: &[u64]) -> Vec<u64> {
    let acct = space.accountant_mut();
    if !done.is_empty() {
        acct.released(done);
    }
    acct.take_releases()
}

/// Removes blob files no recovered message points at: blobs of messages past the tip,
/// and blobs of aborted reservations whose removal a crash interrupted. Returns the
/// blob files left (each one a recovered message points at).
fn remove_unreferenced_blobs(
    storage: &dyn Storage,
    rec: &Recovery,
    blob_files: Vec<Lsn>,
) -> Result<BTreeSet<Lsn>> {
    let referenced: BTreeSet<Lsn> = rec
        .messages
        .iter()
        .filter(|m| m.kind.is_blob())
        .filter_map(|m| m.word)
        .collect();
    let (kept, unreferenced): (Vec<Lsn>, Vec<Lsn>) = blob_files
        .into_iter()
        .partition(|lsn| referenced.contains(lsn));
    blob::remove_blobs(storage, &unreferenced)?;
    Ok(kept.into_iter().collect())
}

impl Inner {
    /// Err if the log is poisoned.
    pub(crate) fn check(&self) -> Result<()> {
        if !self.poisoned.load(Ordering::Acquire) {
            return Ok(());
        }
        let first = self.stable.failure().unwrap_or(Error::WouldBlock);
        Err(Error::Poisoned {
            first: Box::new(first),
        })
    }

    /// Records an IO error: every waiter and later call sees it.
    pub(crate) fn fail(&self, error: Error) -> Error {
        self.poisoned.store(true, Ordering::Release);
        self.stable.poison(error.clone());
        self.ring.poison();
        error
    }

    pub(crate) fn count(&self, c: Counter, n: u64) {
        self.counters.add(c, n);
    }

    /// Writes out every job; returns the first error after trying them all.
    pub(crate) fn run_jobs(&self, jobs: Vec<WriteJob>) -> Result<()> {
        let mut first = Ok(());
        for job in jobs {
            let r = self.write_out(&job);
            if first.is_ok() {
                first = r;
            }
        }
        first
    }

    fn write_out(&self, job: &WriteJob) -> Result<()> {
        let size = self.config.segment_size_bytes;
        let mut vouch = None;
        if job.len > 0 {
            if self.poisoned.load(Ordering::Acquire) {
                return self.check();
            }
            self.ring.stamp(job, self.stable.stable_end());
            let bytes = self.ring.job_bytes(job);
            if job.base % size == 0 && bytes.len() >= super::format::SEGMENT_HEADER_LEN {
                let place = Place {
                    file: LOG_FILE,
                    offset: job.file_offset,
                };
                vouch = Some(
                    SegmentHeader::decode(bytes, place)
                        .expect("own header")
                        .stable_lsn,
                );
            }
            // The jump segment's header is durable since open: never write those bytes
            // again (a torn rewrite of durable bytes could destroy them).
            let skip = if job.base == self.info.start {
                super::format::SEGMENT_HEADER_LEN.min(bytes.len())
            } else {
                0
            };
            if bytes.len() > skip {
                failpoint!("handle::write_out::write");
                self.file
                    .write_at(&bytes[skip..], job.file_offset + skip as u64)
                    .map_err(|e| self.fail(e))?;
                failpoint!("handle::write_out::sync");
                self.file.sync().map_err(|e| self.fail(e))?;
                self.count(Counter::BytesWritten, (bytes.len() - skip) as u64);
                self.count(Counter::BuffersWritten, 1);
                self.count(Counter::Syncs, 1);
                self.count(Counter::Pads, u64::from(job.pad_len > 0));
            }
        }
        if job.next_base > job.base {
            self.stable.mark_written(job.base, job.next_base);
        }
        let dead = {
            let mut space = self.space.lock();
            if let Some(v) = vouch {
                space.vouch(v);
            }
            if job.next_base % size == 0 && job.next_base > job.base {
                space.accountant_mut().deactivate(job.next_base - size);
            }
            space.stabilize(self.stable.stable_end())
        };
        self.ring.finish(job);
        self.remove_blobs(&dead)?;
        self.release_segments()
    }

    /// Zeroes the headers of segments that left the log so they can be reused.
    fn release_segments(&self) -> Result<()> {
        let (released, syncs) =
            erase::release_segments(self.file.as_ref(), SEGMENT_HEADER_LEN, |done| {
                release_step(&mut self.space.lock(), done)
            })
            .map_err(|e| self.fail(e))?;
        self.count(Counter::SegmentsReleased, released);
        self.count(Counter::Syncs, syncs);
        if released > 0 {
            let cut = cut_free_tail(self.file.as_ref(), &mut self.space.lock());
            if cut.map_err(|e| self.fail(e))? {
                self.count(Counter::Syncs, 1);
            }
        }
        Ok(())
    }

    pub(crate) fn remove_blobs(&self, lsns: &[Lsn]) -> Result<()> {
        let removed = blob::remove_blobs(self.storage.as_ref(), lsns).map_err(|e| self.fail(e))?;
        self.count(Counter::BlobsRemoved, removed);
        self.count(Counter::Syncs, u64::from(removed > 0));
        Ok(())
    }

    fn make_stable(&self, lsn: Lsn, block: bool) -> Result<()> {
        self.check()?;
        let end = lsn
            .checked_add(1)
            .ok_or_else(|| Error::InvalidArgument(format!("lsn {lsn} was never reserved")))?;
        if self.stable.try_until(end).is_ok() {
            return Ok(());
        }
        let mut jobs = Vec::new();
        let claimed_end = self.ring.seal_for_flush(Some(end), self, &mut jobs);
        self.run_jobs(jobs)?;
        if lsn >= claimed_end {
            return Err(Error::InvalidArgument(format!(
                "lsn {lsn} was never reserved (next lsn {claimed_end})"
            )));
        }
        if self.stable.try_until(end).is_err() {
            self.write_held_batches()?;
        }
        self.wait(end, block)
    }

    /// Seals and writes the buffers up to the end of the sealed batch whose hold keeps
    /// the stable lsn down. Its manifest may share a buffer with the lsn being made
    /// stable while its last messages sit in a buffer nothing else will seal, so a
    /// thread alone (the simulator, a caller without a flusher) would otherwise wait
    /// forever. Each round writes at least one buffer or stops.
    fn write_held_batches(&self) -> Result<()> {
        while let Some(batch_end) = self.stable.blocking_batch_end() {
            let mut jobs = Vec::new();
            self.ring.seal_for_flush(Some(batch_end), self, &mut jobs);
            if jobs.is_empty() {
                return Ok(());
            }
            self.run_jobs(jobs)?;
        }
        Ok(())
    }

    fn flush(&self, block: bool) -> Result<Lsn> {
        self.check()?;
        let mut jobs = Vec::new();
        let target = self.ring.seal_for_flush(None, self, &mut jobs);
        self.run_jobs(jobs)?;
        self.wait(target, block)?;
        Ok(target)
    }

    /// One flusher tick: a non-blocking flush. True once the log is poisoned (the
    /// flusher stops then; the error reaches callers through their own calls).
    pub(crate) fn try_flush_quiet(&self) -> bool {
        match self.flush(false) {
            Ok(_) | Err(Error::WouldBlock) => false,
            Err(_) => true,
        }
    }

    fn wait(&self, end: Lsn, block: bool) -> Result<()> {
        let outcome = if block {
            self.stable.wait_until(end)
        } else {
            self.stable.try_until(end)
        };
        match outcome {
            Err(Error::WouldBlock) => Err(Error::WouldBlock),
            Err(_) => self.check(),
            Ok(()) => Ok(()),
        }
    }

    /// Reads and checks the message at `ptr`, resolving blobs.
    pub(crate) fn read(&self, ptr: Pointer) -> Result<Message> {
        self.check()?;
        if self.stable.try_until(ptr.lsn + 1).is_err() {
            self.make_stable(ptr.lsn, true)?;
        }
        let void = self.voids.covers(ptr.lsn);
        if void {
            return Err(Error::InvalidArgument(format!(
                "lsn {} was cut by recovery",
                ptr.lsn
            )));
        }
        let pinned = self.space.lock().accountant_mut().try_pin(ptr.lsn);
        if !pinned {
            return Err(Error::InvalidArgument(format!(
                "no segment in use holds lsn {}",
                ptr.lsn
            )));
        }
        let result = self.read_pinned(ptr);
        self.space.lock().accountant_mut().unpin(ptr.lsn);
        result.map_err(|e| self.fail_on_io(e))
    }

    /// An IO error (not a missing blob of a reclaimed message, not corruption) poisons
    /// the log like any other; other errors pass through.
    pub(crate) fn fail_on_io(&self, e: Error) -> Error {
        match e {
            Error::Io { .. } if !e.is_not_found() => self.fail(e),
            other => other,
        }
    }

    fn read_pinned(&self, ptr: Pointer) -> Result<Message> {
        let size = self.config.segment_size_bytes;
        let place = Place {
            file: LOG_FILE,
            offset: ptr.file_offset,
        };
        let in_segment = ptr.lsn % size;
        if in_segment + (MESSAGE_HEADER_LEN as u64) > size {
            return Err(Error::InvalidArgument(format!(
                "lsn {} is no message",
                ptr.lsn
            )));
        }
        let mut hb = [0; MESSAGE_HEADER_LEN];
        failpoint!("handle::read::header");
        self.file.read_at(&mut hb, ptr.file_offset)?;
        let max_len = size - in_segment - MESSAGE_HEADER_LEN as u64;
        let header = MessageHeader::decode(&hb, max_len, place)?;
        header.check_lsn(ptr.lsn, place)?;
        let mut payload = vec![0; header.len as usize];
        failpoint!("handle::read::payload");
        self.file
            .read_at(&mut payload, ptr.file_offset + MESSAGE_HEADER_LEN as u64)?;
        let nonce = self.nonce_at(ptr.lsn)?;
        header.check_payload(&payload, nonce, place)?;
        self.message(header.kind, header.pid, ptr.lsn, payload, nonce, place)
    }

    /// The nonce of the run that wrote the segment holding `lsn`: this run's from its
    /// start on, the recovered header's below.
    fn nonce_at(&self, lsn: Lsn) -> Result<Nonce> {
        if lsn >= self.info.start {
            return Ok(self.nonce);
        }
        let segment = lsn - lsn % self.config.segment_size_bytes;
        self.recovered_nonces
            .get(&segment)
            .copied()
            .ok_or_else(|| Error::InvalidArgument(format!("lsn {lsn} is in no recovered segment")))
    }

    /// A blob file missing under a Linear log is damage: nothing ever removes the blob
    /// of a message the log still holds. (A Gc log removes the blobs of dead messages,
    /// so there a missing file may mean reclaimed, and `NotFound` passes through.)
    /// A blob read failed with `e`: a missing blob file of a message still live
    /// (every message in Linear mode) is damage; of a superseded Gc message it is a
    /// reclaimed blob, and `e` stands (iteration skips it).
    fn missing_blob(&self, e: Error, pid: u64, lsn: Lsn, blob_lsn: Lsn) -> Error {
        if !e.is_not_found() || !self.space.lock().is_live(pid, lsn) {
            return e;
        }
        Error::corruption(
            blob::blob_name(blob_lsn),
            0,
            format!("the blob file of the message at lsn {lsn} is missing"),
        )
    }

    /// The user-facing message for a stored one, written by run `nonce`.
    pub(crate) fn message(
        &self,
        kind: Kind,
        pid: u64,
        lsn: Lsn,
        payload: Vec<u8>,
        nonce: Nonce,
        place: Place<'_>,
    ) -> Result<Message> {
        let (kind, value) = match kind {
            Kind::AppendBlob | Kind::ReplaceBlob => {
                let blob_lsn = super::format::decode_u64(&payload, place)?;
                let value = blob::read_blob(self.storage.as_ref(), blob_lsn, nonce)
                    .map_err(|e| self.missing_blob(e, pid, lsn, blob_lsn))?;
                let logical = if kind == Kind::AppendBlob {
                    Kind::Append
                } else {
                    Kind::Replace
                };
                (logical, value)
            }
            Kind::Cancelled | Kind::Pad | Kind::BatchManifest | Kind::Vouch => {
                return Err(Error::InvalidArgument(format!(
                    "lsn {lsn} holds an internal {kind:?} message"
                )));
            }
            other => (other, payload),
        };
        Ok(Message {
            lsn,
            kind,
            pid,
            value,
        })
    }
}
