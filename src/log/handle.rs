//! The `Log`: a group-committed, crash-safe append log, usable on its own as a
//! write-ahead log.
//!
//! Write path (docs/architecture.md lists it with every sync):
//! 1. `reserve` claims space in the current IO buffer (`iobuf.rs`); a value above the
//!    blob threshold is first written to its own blob file, file and directory synced,
//!    and the log message carries its lsn.
//! 2. The caller completes or aborts the reservation (`reservation.rs`).
//! 3. A buffer sealed with no writers is written at its file offset and is free again;
//!    group commit (`stable.rs`) syncs the file, one sync covering every buffer
//!    written before it, and the synced lsn intervals go to the stable tracker.
//! 4. `make_stable`/`flush` seal the buffer holding the bytes they need and wait until
//!    the stable lsn covers them, riding on a sync in flight or leading the next. An IO error poisons the log: every waiter and every
//!    later call gets the error, and nothing is claimed durable afterwards.

use super::blob;
use super::create;
use super::erase;
use crate::failpoints::failpoint;
use std::collections::{BTreeMap, BTreeSet};

use super::format::{Lsn, Nonce, Place, RunNonces, SEGMENT_HEADER_LEN, SegmentHeader, StoredKind};
use super::iobuf::{First, Placement, Ring, WriteJob};
use super::kind::Kind;
use super::recovery::{self, Recovered, Recovery, Replay};
use super::segment::Accountant;
use super::space::Space;
use super::stable::{Stable, SyncTurn, Waited, Written};
use super::stats::{Counter, Counters, Stats};
use super::table;
use crate::config::{Config, SegmentMode};
use crate::error::{Error, Result};
use crate::io::{File, OpenMode, Storage, StorageLock};
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
    /// Where it lives: [`Log::read`] reads it again from this, so an index rebuilt
    /// from a replay can keep pointers.
    pub pointer: Pointer,
    /// The kind the writer gave (blob storage is invisible here).
    pub kind: Kind,
    /// Page id (0 for [`Log::append`]'s messages).
    pub pid: u64,
    /// The value.
    pub value: Vec<u8>,
}

impl Message {
    /// Its lsn: its position in the log.
    pub fn lsn(&self) -> Lsn {
        self.pointer.lsn
    }
}

/// What the last open recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryInfo {
    /// Every recovered message has an lsn below this.
    pub tip: Lsn,
    /// User messages recovered (the log's own records not counted).
    pub messages: usize,
    /// The lsn where this run's writes start: the tip when the run resumed the
    /// segment a clean close ended in, else the start of a new segment past it.
    pub start: Lsn,
    /// Whether this run resumed the segment a clean close ended in (the file not
    /// grown; the open wrote and synced a 28-byte Vouch and a 36-byte Resumed record
    /// after the Closed record).
    pub resumed: bool,
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
    /// Held by a release of segments, so their segment tables are written in order.
    releasing: Mutex<()>,
    poisoned: AtomicBool,
    /// Opened with [`Log::open_read_only`]: every write is refused.
    pub(crate) read_only: bool,
    /// The log of a page cache (opened by [`Log::open_checked`]): a truncation
    /// would cut its pages off, and is refused.
    pub(crate) page_cache: bool,
    pub(crate) voids: super::voids::Voids,
    pub(crate) info: RecoveryInfo,
    /// This run's nonces: its own in every segment header it writes, and the resumed
    /// segment's for the messages it adds there.
    pub(crate) nonces: RunNonces,
    /// The nonces of the recovered segments (all below `info.start`), by segment lsn.
    pub(crate) recovered_nonces: BTreeMap<Lsn, Nonce>,
    /// The resume marks in the log, (lsn, token), ascending (`mark.rs`).
    pub(crate) marks: Mutex<Vec<(Lsn, u64)>>,
    /// Aborted messages as they were, kept for the simulator's resurrecting liar.
    pub(crate) aborted: super::aborted::AbortJournal,
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

/// How a log is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    ReadWrite,
    ReadOnly,
}

/// What recovery found, for a check that runs before an open writes anything
/// ([`Log::open_checked`]).
pub(crate) struct Vetted<'a> {
    /// The storage.
    pub(crate) storage: &'a dyn Storage,
    /// The open's configuration.
    pub(crate) config: &'a Config,
    /// Every recovered message is below this.
    pub(crate) tip: Lsn,
    /// The recovered segments' nonces, by segment lsn.
    pub(crate) nonces: &'a BTreeMap<Lsn, Nonce>,
    /// The recovered resume marks, (lsn, token), ascending (`mark.rs`).
    pub(crate) marks: &'a [(Lsn, u64)],
}

/// The file a page cache keeps beside its log (`pagecache/conf.rs`): a directory that
/// holds it belongs to a page cache, whose log only the page cache may write.
pub(crate) const PAGE_CACHE_CONF: &str = "pagecache.conf";

/// Refuses a writable `Log::open` of a page cache's directory: messages written
/// through the Log API would be foreign records in the page cache's log, and the
/// page cache would refuse to open (they are damage to it).
fn not_a_page_cache(storage: &dyn Storage, _log_exists: bool) -> Result<()> {
    if storage.list()?.iter().any(|n| n == PAGE_CACHE_CONF) {
        return Err(Error::InvalidConfig(format!(
            "this directory holds a page cache ({PAGE_CACHE_CONF}): open it with PageCache, or read its log with Log::open_read_only"
        )));
    }
    Ok(())
}

impl Log {
    /// Opens (creating if needed) the log in `storage` and recovers it. Validates
    /// `config` first; see `recovery.rs` for what recovery guarantees. The storage's
    /// lock is held until the log is closed or dropped: a second open of the same
    /// directory, from this process or another, is `Error::Locked`.
    pub fn open(config: Config, storage: Arc<dyn Storage>) -> Result<Log> {
        if config.read_only {
            return Log::open_read_only(config, storage);
        }
        Log::open_as(
            config,
            storage,
            Access::ReadWrite,
            &not_a_page_cache,
            &|_| Ok(()),
            false,
        )
    }

    /// [`Log::open`] that first runs `check` under the directory lock, before
    /// recovery reads or writes anything (`check` is told whether a log file
    /// exists), and `vet` after recovery, before the open writes anything. An error
    /// from either ends the open with nothing written.
    pub(crate) fn open_checked(
        config: Config,
        storage: Arc<dyn Storage>,
        check: &dyn Fn(&dyn Storage, bool) -> Result<()>,
        vet: &dyn Fn(&Vetted<'_>) -> Result<()>,
    ) -> Result<Log> {
        let access = match config.read_only {
            true => Access::ReadOnly,
            false => Access::ReadWrite,
        };
        Log::open_as(config, storage, access, check, vet, true)
    }

    /// Opens the log in the directory `dir` (created if missing) with the default
    /// [`Config`]; see [`Config::open`] for another configuration.
    #[cfg(not(loom))]
    pub fn open_dir(dir: impl AsRef<std::path::Path>) -> Result<Log> {
        Config::default().open(dir)
    }

    /// Opens the log in `storage` to read it and writes nothing: not to the log file,
    /// not to blob files or the segment table, not even what an open would zero after
    /// a crash (the same as [`Log::open`] with [`Config::read_only`] set). It recovers
    /// exactly what [`Log::open`] would (and reports the same damage). Reads and
    /// iteration work as usual; every write (reserve, append, batches) is
    /// `Error::InvalidArgument`, `flush` returns the recovered tip, and closing writes
    /// nothing. It takes the storage's lock like any open (no writer runs beside it).
    /// A storage with no log file is `Error::Io` (`NotFound`).
    pub fn open_read_only(config: Config, storage: Arc<dyn Storage>) -> Result<Log> {
        let config = config.read_only(true);
        Log::open_as(
            config,
            storage,
            Access::ReadOnly,
            &|_, _| Ok(()),
            &|_| Ok(()),
            false,
        )
    }

    fn open_as(
        config: Config,
        storage: Arc<dyn Storage>,
        access: Access,
        check: &dyn Fn(&dyn Storage, bool) -> Result<()>,
        vet: &dyn Fn(&Vetted<'_>) -> Result<()>,
        page_cache: bool,
    ) -> Result<Log> {
        config.validate()?;
        let lock = storage.lock()?;
        let existing = create::existing(storage.as_ref())?;
        check(storage.as_ref(), existing.is_some())?;
        if existing.is_none() {
            missing_log(storage.as_ref(), &config)?;
        }
        let mut replay = SpaceReplay {
            config: &config,
            space: None,
        };
        let rec = match &existing {
            Some(file) => {
                let size = config.segment_size_bytes;
                let table = table::read(storage.as_ref(), size, file.len()?)?;
                recovery::recover(&config, file.as_ref(), &table, &mut replay)?
            }
            None => Recovery::fresh(),
        };
        let mut space = replay.finish(&rec);
        let blob_files = blob::blobs_from(storage.as_ref(), 0)?;
        check_live_blobs(&rec, &space, &blob_files)?;
        let marks = super::mark::recovered(&rec.specials);
        vet(&Vetted {
            storage: storage.as_ref(),
            config: &config,
            tip: rec.tip,
            nonces: &rec.nonces,
            marks: &marks,
        })?;
        let random = storage.nonce();
        let own = Nonce::draw(random, &rec.taken_nonces);
        let opened = match access {
            Access::ReadOnly => read_only_start(&config, &rec, storage.as_ref(), existing, own)?,
            Access::ReadWrite => {
                let found = Found {
                    existing,
                    blob_files,
                };
                writable_start(&config, &rec, storage.as_ref(), found, &mut space, own)?
            }
        };
        space.record_from(opened.first.base);
        let ring = Ring::new(
            config.io_bufs,
            config.io_buf_size_bytes,
            config.segment_size_bytes,
            opened.first,
            opened.nonces,
        );
        let info = RecoveryInfo {
            tip: rec.tip,
            messages: rec.user_messages,
            start: opened.start,
            resumed: rec.resume && access == Access::ReadWrite,
            branches: rec.branches,
        };
        let flush_every = config
            .flush_every_ms
            .filter(|_| access == Access::ReadWrite);
        let counters = Counters::default();
        counters.add(Counter::SegmentsReleased, opened.released);
        counters.add(Counter::BlobsRemoved, opened.removed);
        let inner = Arc::new(Inner {
            config,
            storage,
            file: opened.file,
            ring,
            stable: Stable::new(opened.start),
            space: Mutex::new(space),
            counters,
            releasing: Mutex::new(()),
            poisoned: AtomicBool::new(false),
            read_only: access == Access::ReadOnly,
            page_cache,
            voids: rec.voids,
            info,
            nonces: opened.nonces,
            recovered_nonces: rec.nonces,
            marks: Mutex::new(marks),
            aborted: Default::default(),
            _lock: lock,
        });
        let mut log = Log {
            inner,
            flusher: None,
            closed: false,
        };
        if log.inner.info.resumed {
            if let Err(e) = log.write_resume_mark(random) {
                log.abandon();
                return Err(e);
            }
        }
        log.flusher =
            flush_every.map(|ms| super::flusher::Flusher::start(Arc::clone(&log.inner), ms));
        Ok(log)
    }

    /// Gc mode: the page ids with live fragments in segments whose live share fell
    /// below `cleanup_threshold_pct` (Draining), at most `max`, ascending. Rewriting
    /// each as a new base lets those segments be reclaimed (the page cache's
    /// `maintenance`). Empty in Linear mode. `compacting`: see `Space::clean_candidates`.
    pub(crate) fn draining_pages(&self, max: usize, compacting: bool) -> Vec<u64> {
        let mut pids = self.inner.space.lock().clean_candidates(compacting);
        pids.truncate(max);
        pids
    }

    /// Gc mode: whether some replaced fragments wait for a segment header to vouch
    /// for their replacement before they die (`space.rs`).
    pub(crate) fn deaths_await_vouch(&self) -> bool {
        self.inner.space.lock().accountant().deaths_pending()
    }

    /// Gc mode: no snapshot that recovery or the next snapshot could start from
    /// lies below `lsn`, so Free messages below it may die once no older message of
    /// their page is left (`space.rs`). The page cache sets it; 0 keeps every Free.
    pub(crate) fn set_snapshot_floor(&self, lsn: Lsn) {
        self.inner.space.lock().set_snapshot_floor(lsn);
    }

    /// Gc mode: whether some Free message waits only for a snapshot past it.
    pub(crate) fn frees_await_snapshot(&self) -> bool {
        self.inner.space.lock().frees_await_snapshot()
    }

    /// Gc mode: Free messages dropped since the open (recovery's count included).
    pub(crate) fn frees_dropped(&self) -> u64 {
        self.inner.space.lock().frees_dropped()
    }

    /// Bytes left in the segment the next message goes to (a whole segment at a
    /// segment boundary).
    pub(crate) fn segment_room(&self) -> u64 {
        let size = self.inner.config.segment_size_bytes;
        size - self.inner.ring.claimed_end() % size
    }

    /// The storage the log lives in.
    pub(crate) fn storage(&self) -> &dyn Storage {
        self.inner.storage.as_ref()
    }

    /// The lsns of the segments in the log now, ascending.
    pub(crate) fn segment_lsns(&self) -> Vec<Lsn> {
        let space = self.inner.space.lock();
        space
            .accountant()
            .segments()
            .into_iter()
            .map(|(lsn, _)| lsn)
            .collect()
    }

    /// The nonce of the segment at `lsn` if it is in the log now (recovered, or
    /// written by this run).
    pub(crate) fn segment_nonce(&self, lsn: Lsn) -> Option<Nonce> {
        let size = self.inner.config.segment_size_bytes;
        let listed = self.segment_lsns().contains(&lsn);
        match self.inner.recovered_nonces.get(&lsn) {
            Some(&n) if listed => Some(n),
            _ if listed && lsn + size > self.inner.info.start => Some(self.inner.nonces.at(lsn)),
            _ => None,
        }
    }

    /// Poisons the log with `error` (an IO error met outside the log's own calls).
    pub(crate) fn fail(&self, error: Error) -> Error {
        self.inner.fail(error)
    }

    /// Whether the log was opened read-only.
    pub(crate) fn is_read_only(&self) -> bool {
        self.inner.read_only
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
        let mut stats = self.inner.counters.snapshot();
        let space = self.inner.space.lock();
        stats.segments_in_use = space.accountant().segments_in_use() as u64;
        stats.segment_slots = space.accountant().segment_count() as u64;
        stats
    }

    /// The configuration this log was opened with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Returns once every message with an lsn at or below `lsn` is durable. `lsn`
    /// must have been reserved. Waits for other threads' reservations in flight; one
    /// of this thread's own in the way (in `lsn`'s buffer or below) could never
    /// complete meanwhile, so that is `Error::WouldDeadlock` naming it, at once.
    pub fn make_stable(&self, lsn: Lsn) -> Result<()> {
        self.inner.make_stable(lsn, true)
    }

    /// [`Log::make_stable`] that returns `WouldBlock` instead of waiting
    /// (`WouldDeadlock` as it does).
    pub fn try_make_stable(&self, lsn: Lsn) -> Result<()> {
        self.inner.make_stable(lsn, false)
    }

    /// Makes every message reserved before the call durable (once its reservation is
    /// completed or aborted); returns the stable lsn it waited for.
    /// `Error::WouldDeadlock` at once if this thread holds an open reservation or
    /// batch (the flush would wait for it forever).
    pub fn flush(&self) -> Result<Lsn> {
        self.inner.flush(true)
    }

    /// [`Log::flush`] that returns `WouldBlock` instead of waiting (`WouldDeadlock`
    /// as it does).
    pub fn try_flush(&self) -> Result<Lsn> {
        self.inner.flush(false)
    }
}

impl Log {
    /// Makes every completed message durable, ending the log with a Closed record so
    /// that the next open continues in the same segment (the file does not grow by a
    /// segment per open), then closes the log and releases the directory lock. Returns the flush's error, if any: unlike a drop, which can
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
        if self.closed || self.inner.read_only {
            self.closed = true;
            return Ok(());
        }
        self.closed = true;
        // Flush first, then write the Closed marker in a buffer of its own: that
        // write's Vouch records a stable lsn covering everything before, so damage
        // anywhere in what this session wrote is told from a torn tail (otherwise a
        // session whose writes filled one buffer would leave them all unvouched).
        self.inner.flush(true)?;
        self.reserve_any(StoredKind::Closed, 0, &[], true)?
            .complete()?;
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
        .specials
        .iter()
        .filter(|m| m.kind.is_blob() && space.blob_is_live(m.pid, m.lsn))
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

/// No log file: a new log, unless the segment table lists segments (it is written
/// only once the log file exists): then the log was deleted, and creating a new one
/// would lose them for good. `Error::Corruption`, nothing written.
fn missing_log(storage: &dyn Storage, config: &Config) -> Result<()> {
    let size = config.segment_size_bytes;
    // A table of up to 8 Mi segments may be read (no log to bound it by).
    match table::read(storage, size, size.saturating_mul(8 << 20))? {
        table::Found::Table(t) if !t.segments.is_empty() => Err(Error::corruption(
            LOG_FILE,
            0,
            format!(
                "the log file is missing, but its segment table `{}` lists {} segments",
                table::SEGMENT_TABLE_FILE,
                t.segments.len()
            ),
        )),
        _ => Ok(()),
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

/// What an open found in the storage: the log file, if any, and the blob files.
struct Found {
    existing: Option<Box<dyn File>>,
    blob_files: Vec<Lsn>,
}

/// Where a run starts, as `open` set it up.
struct Opened {
    file: Box<dyn File>,
    first: First,
    start: Lsn,
    nonces: RunNonces,
    released: u64,
    removed: u64,
}

/// A writable open: resumes the tip's segment after a clean close, or writes and
/// syncs the jump segment's header (after `continue_log`), or creates a new log; then
/// applies what the recovered state lets go (dead blobs, free segments, the free
/// tail).
fn writable_start(
    config: &Config,
    rec: &Recovery,
    storage: &dyn Storage,
    found: Found,
    space: &mut Space,
    own: Nonce,
) -> Result<Opened> {
    let size = config.segment_size_bytes;
    let (file_offset, header, nonces) = if rec.resume {
        let segment = rec.tip - rec.tip % size;
        let resumed = rec
            .nonces
            .get(&segment)
            .copied()
            .expect("resumed segment's nonce");
        let offset = space.accountant_mut().resume(segment) + rec.tip % size;
        let nonces = RunNonces {
            own,
            resumed: Some((segment + size, resumed)),
        };
        (offset, None, nonces)
    } else {
        let offset = space.accountant_mut().next(rec.jump);
        space.accountant_mut().require(rec.jump, rec.tip);
        let header = SegmentHeader {
            segment_lsn: rec.jump,
            stable_lsn: rec.tip,
            prev_end: rec.tip,
            size_log2: size.trailing_zeros() as u16,
            nonce: own,
        }
        .encode();
        (offset, Some(header), RunNonces { own, resumed: None })
    };
    let table = space.accountant().table();
    let (file, blobs) = match found.existing.filter(|_| !rec.fresh) {
        Some(file) => {
            // Rule 1 of `table.rs`: the table first, before the log changes at all.
            table::write(storage, &table, size)?;
            let blobs = continue_log(storage, file.as_ref(), rec, found.blob_files)?;
            if let Some(header) = header {
                failpoint!("handle::open::write_header");
                file.write_at(&header, file_offset)?;
                failpoint!("handle::open::sync_header");
                file.sync()?;
            }
            (file, blobs)
        }
        None => {
            assert_eq!(file_offset, 0, "a new log starts at the file's start");
            let header = header.expect("a new log starts with a segment header");
            let file = create::create(storage, &header)?;
            // After the log exists (a new log has no gap to explain), so that a
            // table listing segments always belongs to a log that was created.
            table::write(storage, &table, size)?;
            (file, BTreeSet::new())
        }
    };
    space.vouch(if rec.resume { rec.vouched } else { rec.tip });
    let mut dead = space.stabilize(rec.jump);
    if let Some(start) = space.take_truncation() {
        dead.extend(blobs.iter().filter(|&&b| b < start));
    }
    dead.sort_unstable();
    dead.dedup();
    dead.retain(|lsn| blobs.contains(lsn));
    let removed = blob::remove_blobs(storage, &dead)?;
    let (released, _) = erase::release_segments(
        file.as_ref(),
        SEGMENT_HEADER_LEN,
        |done| release_step(space, done),
        |t| table::write(storage, t, size),
    )?;
    cut_free_tail(file.as_ref(), space)?;
    Ok(Opened {
        file,
        first: First {
            base: rec.jump,
            file_offset,
            header,
        },
        start: rec.jump,
        nonces,
        released,
        removed,
    })
}

/// A read-only open: the recovered log as it is. The ring is set up past the tip but
/// never used (every write is refused), and the stable lsn is the tip.
fn read_only_start(
    config: &Config,
    rec: &Recovery,
    storage: &dyn Storage,
    existing: Option<Box<dyn File>>,
    own: Nonce,
) -> Result<Opened> {
    let file = match existing {
        Some(file) => file,
        None => storage.open(LOG_FILE, OpenMode::Existing)?,
    };
    let size = config.segment_size_bytes;
    let base = rec.tip - rec.tip % size + size;
    Ok(Opened {
        file,
        first: First {
            base,
            file_offset: 0,
            header: Some([0; SEGMENT_HEADER_LEN]),
        },
        start: rec.tip,
        nonces: RunNonces { own, resumed: None },
        released: 0,
        removed: 0,
    })
}

/// Builds the open's [`Space`] from the recovered log as recovery reads it.
struct SpaceReplay<'a> {
    config: &'a Config,
    space: Option<Space>,
}

impl Replay for SpaceReplay<'_> {
    fn begin(&mut self, slots: usize) {
        let config = self.config;
        let mut acct = Accountant::recovered(
            config.segment_size_bytes,
            config.cleanup_threshold_pct,
            slots,
            &[],
        );
        if config.segment_mode == SegmentMode::Linear {
            acct.release_in_lsn_order();
        }
        self.space = Some(Space::new(acct, config.segment_mode == SegmentMode::Gc));
    }

    fn segment(&mut self, lsn: Lsn, slot: usize) {
        let space = self.space.as_mut().expect("replay begun");
        space.accountant_mut().add_recovered(lsn, slot);
    }

    fn message(&mut self, m: &Recovered) {
        let space = self.space.as_mut().expect("replay begun");
        let blob = m.kind.is_blob().then_some(m.word).flatten();
        space.record(m.kind, m.pid, m.lsn, blob);
    }
}

impl SpaceReplay<'_> {
    /// The space of the recovered log `rec`, replayed exactly up to its tip.
    fn finish(self, rec: &Recovery) -> Space {
        let mut space = match self.space {
            Some(space) => space,
            None => {
                let mut replay = self;
                replay.begin(rec.slots);
                replay.space.expect("just begun")
            }
        };
        for &(lsn, cut) in &rec.jumps {
            space.accountant_mut().require(lsn, cut);
        }
        for m in &rec.specials {
            if let (StoredKind::BatchManifest, Some(end)) = (m.kind, m.word) {
                space.record_batch(m.lsn, end.min(rec.tip));
            }
        }
        space.truncate(recovery::highest_truncate(&rec.specials, rec.tip));
        space
    }
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
fn release_step(space: &mut Space, done: &[u64]) -> erase::Round {
    if !done.is_empty() {
        space.released(done);
    }
    let acct = space.accountant_mut();
    let offsets = acct.take_releases();
    erase::Round {
        offsets,
        table: acct.table(),
    }
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
        .specials
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
    /// This log's identity for the per-thread registry of open claims (`held.rs`).
    pub(crate) fn id(&self) -> usize {
        std::ptr::from_ref(self) as usize
    }

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

    /// Err if this is a page cache's log: only the page cache writes it (a message
    /// it did not write is damage to it, and its next open would fail).
    pub(crate) fn user_may_write(&self) -> Result<()> {
        if !self.page_cache {
            return Ok(());
        }
        Err(Error::InvalidArgument(
            "writing to a page cache's log: only the page cache writes it (a message it did not write is damage to it); use the PageCache API"
                .to_string(),
        ))
    }

    /// Seals the buffer being filled now and waits until it is durable.
    pub(crate) fn write_now(&self, end: Lsn) -> Result<()> {
        let mut jobs = Vec::new();
        self.ring.seal_now(self, &mut jobs);
        self.run_jobs(jobs)?;
        self.wait(end, true)
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

    /// Writes a buffer's bytes; the buffer is free again once they are in the file.
    /// They become durable with the next sync (group commit, `stable.rs`): this
    /// thread runs it now if none is in flight.
    fn write_out(&self, job: &WriteJob) -> Result<()> {
        let size = self.config.segment_size_bytes;
        let mut vouch = None;
        let mut vouched_by_message = 0;
        let mut wrote = false;
        if job.len > 0 {
            if self.poisoned.load(Ordering::Acquire) {
                return self.check();
            }
            vouched_by_message = self.stable.stable_end();
            self.ring.stamp(job, vouched_by_message);
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
            let skip = if job.base == self.info.start && job.base % size == 0 {
                super::format::SEGMENT_HEADER_LEN.min(bytes.len())
            } else {
                0
            };
            if bytes.len() > skip {
                failpoint!("handle::write_out::write");
                self.file
                    .write_at(&bytes[skip..], job.file_offset + skip as u64)
                    .map_err(|e| self.fail(e))?;
                wrote = true;
                self.count(Counter::BytesWritten, (bytes.len() - skip) as u64);
                self.count(Counter::BuffersWritten, 1);
                self.count(Counter::Pads, u64::from(job.pad_len > 0));
            }
        }
        if self.config.segment_mode == SegmentMode::Gc {
            // Read back before the buffer is free again, recorded before its sync.
            let frags = self.ring.fragments(job);
            let mut space = self.space.lock();
            space.record_buffer(job.base, job.next_base, frags);
        }
        self.ring.finish(job);
        let written = Written {
            start: job.base,
            end: job.next_base,
            vouch,
            vouched_by_message,
        };
        if !wrote {
            // Nothing of this interval needed writing (no bytes, or only the jump
            // segment's header, durable since open).
            self.stable.mark_written(written.start, written.end);
            return self.after_sync(&[written]);
        }
        match self.stable.written(written) {
            Some(turn) => self.run_sync(turn),
            None => Ok(()),
        }
    }

    /// Syncs the log file for `turn` (every buffer written before it was taken), then
    /// reports them durable and applies what that frees.
    fn run_sync(&self, turn: SyncTurn) -> Result<()> {
        failpoint!("handle::write_out::sync");
        self.file.sync().map_err(|e| self.fail(e))?;
        self.count(Counter::Syncs, 1);
        let covered = turn.covers().to_vec();
        self.stable.synced(turn);
        self.after_sync(&covered)
    }

    /// Intervals just made durable: vouching headers count, finished segments are
    /// deactivated, and what is now reclaimable is reclaimed.
    fn after_sync(&self, durable: &[Written]) -> Result<()> {
        let size = self.config.segment_size_bytes;
        let dead = {
            let mut space = self.space.lock();
            for w in durable {
                if let Some(v) = w.vouch {
                    space.vouch(v);
                }
                space.vouch_blobs(w.vouched_by_message);
                if w.end % size == 0 && w.end > w.start {
                    space.accountant_mut().deactivate(w.end - size);
                }
            }
            space.stabilize(self.stable.stable_end())
        };
        self.remove_blobs(&dead)?;
        self.remove_truncated_blobs()?;
        self.release_segments()
    }

    /// Zeroes the headers of segments that left the log so they can be reused.
    pub(crate) fn release_segments(&self) -> Result<()> {
        // Tables land in the order they were computed (`table.rs`, rule 2).
        let _serial = self.releasing.lock();
        let size = self.config.segment_size_bytes;
        let (released, syncs) = erase::release_segments(
            self.file.as_ref(),
            SEGMENT_HEADER_LEN,
            |done| release_step(&mut self.space.lock(), done),
            |t| table::write(self.storage.as_ref(), t, size),
        )
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

    pub(crate) fn make_stable(&self, lsn: Lsn, block: bool) -> Result<()> {
        self.check()?;
        if let Some(held) = super::held::blocking_stable(self.id(), lsn) {
            let call = if block {
                "make_stable"
            } else {
                "try_make_stable"
            };
            return Err(super::held::deadlock(held, &format!("{call}({lsn})")));
        }
        if self.read_only {
            return match lsn < self.info.tip {
                true => Ok(()),
                false => Err(Error::InvalidArgument(format!(
                    "lsn {lsn} is past the end of a log opened read-only ({})",
                    self.info.tip
                ))),
            };
        }
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

    pub(crate) fn flush(&self, block: bool) -> Result<Lsn> {
        self.check()?;
        if let Some(held) = super::held::blocking_stable(self.id(), Lsn::MAX) {
            let call = if block { "flush" } else { "try_flush" };
            return Err(super::held::deadlock(held, call));
        }
        if self.read_only {
            return Ok(self.info.tip);
        }
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

    /// Waits until every lsn below `end` is durable, leading a sync whenever the
    /// group commit hands this thread the turn (`stable.rs`).
    fn wait(&self, end: Lsn, block: bool) -> Result<()> {
        loop {
            let outcome = if block {
                self.stable.wait_or_lead(end)
            } else {
                self.stable.try_or_lead(end)
            };
            match outcome {
                Ok(Waited::Durable) => return Ok(()),
                Ok(Waited::Lead(turn)) => self.run_sync(turn)?,
                Err(Error::WouldBlock) => return Err(Error::WouldBlock),
                Err(_) => return self.check(),
            }
        }
    }

    /// An IO error (not a missing blob of a reclaimed message, not corruption) poisons
    /// the log like any other; other errors pass through.
    pub(crate) fn fail_on_io(&self, e: Error) -> Error {
        match e {
            Error::Io { .. } if !e.is_not_found() => self.fail(e),
            other => other,
        }
    }
}
