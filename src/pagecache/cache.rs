//! [`PageCache`]: pages of a user type, updated by compare-and-swap and made durable
//! through the log.
//!
//! Every update follows one protocol: load the page's view, check it is the version
//! the caller read, encode, reserve the message in the log, swap the new view in, and
//! complete the reservation; if the swap loses (another update got there first), abort
//! the reservation and hand the caller the page as it is now. So a lost race leaves
//! nothing in the log (I10), and a page's fragments are in lsn order: the reservation
//! is taken after the load that supplied the view being replaced, and the log hands
//! out lsns in time order, so a swap that succeeds always appends a higher lsn than
//! the view it replaces holds (asserted in `view.rs`).
//!
//! Nothing here takes a lock on the link and get paths: the page table is lock-free,
//! views are immutable and reclaimed through epochs. Allocation and free take a lock
//! on the free-id set only.
//!
//! Memory: every swap that wins adds the difference between the new view's charge
//! and the old one's to the resident total (a view's charge is its value's
//! `Materializer::size_in_bytes` plus [`RESIDENT_OVERHEAD_BYTES`], or 0 when it holds
//! no value); a page that becomes resident enters the [`Evictor`]'s queues; and a swap
//! that leaves the total above `cache_capacity_bytes` pages out victims (swaps their
//! views for ones without a value) until it is not. So, with one thread updating,
//! the total exceeds the capacity by at most the page just installed, and only until
//! that swap's call returns. The total is kept in wrapping arithmetic and read as
//! signed, because another thread's page-out of a view can be counted before the swap
//! that installed it is.

use std::collections::BTreeSet;

use super::checkpoint::{self, Restored};
use super::conf;
use super::evict::{Evictor, Seen};
use super::ids::Ids;
use super::intent::Decision;
use super::materializer::Materializer;
use super::page_ref::{PageId, PageRef, Update};
use super::pagein::materialize;
use super::roots::Roots;
use super::stats::{Counter, Counters, PageCacheStats};
use super::table::Table;
use super::view::{Frag, Resident, View};
use crate::config::Config;
use crate::error::Result;
use crate::io::Storage;
use crate::log::handle::Vetted;
use crate::log::{Kind, Log, Lsn, Reservation};
use crate::sync::epoch::{self, Guard, Shared};
use crate::sync::{Arc, AtomicU64, Mutex, Ordering};

/// The first page id a user page gets; ids below are the page cache's own.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// let first = pc.allocate(b"first".to_vec())?;
/// assert_eq!(first.pid(), pagelog::pagecache::FIRST_PAGE);
/// # Ok::<(), pagelog::Error>(())
/// ```
pub const FIRST_PAGE: PageId = 4;

/// What a resident page costs beyond its `Materializer::size_in_bytes`: the value's
/// reference-counted allocation header (16 bytes), the view's record of it (16) and
/// its slot in the eviction queues (8), rounded up to 48.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// use pagelog::pagecache::RESIDENT_OVERHEAD_BYTES;
/// pc.allocate(vec![0; 100])?;
/// assert_eq!(pc.stats().resident_bytes, 100 + RESIDENT_OVERHEAD_BYTES);
/// # Ok::<(), pagelog::Error>(())
/// ```
pub const RESIDENT_OVERHEAD_BYTES: u64 = 48;

/// Most attempts to page out one victim while other threads keep updating it before
/// it goes back in the queue.
const EVICT_ATTEMPTS: usize = 8;

/// Victims one call may fail to page out (each contended `EVICT_ATTEMPTS` times)
/// before it stops shrinking and leaves the rest to the next call.
const MAX_CONTENDED: usize = 16;

/// Pages of the user's type `M::Page`, in a log; see the module doc.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// use pagelog::Update;
/// let page = pc.allocate(b"hello".to_vec())?;
/// let Update::Applied(Some(page)) = pc.link(&page, b", world".to_vec())? else {
///     unreachable!("no other thread updates it")
/// };
/// assert_eq!(page.value(), b"hello, world");
/// pc.flush()?; // durable from here on
/// # Ok::<(), pagelog::Error>(())
/// ```
pub struct PageCache<M: Materializer> {
    pub(super) log: Log,
    m: M,
    table: Table<M::Page>,
    next_pid: AtomicU64,
    free: Mutex<BTreeSet<PageId>>,
    counters: Counters,
    /// Named roots (`roots.rs`).
    pub(super) roots: Mutex<Roots>,
    /// The id generator (`ids.rs`).
    pub(super) ids: Ids,
    /// Bytes charged for resident pages, wrapping; read as signed (module doc).
    resident: AtomicU64,
    evictor: Evictor,
    /// Updates applied since the last inline garbage collection round (`gc.rs`).
    since_gc: AtomicU64,
    /// Held while an inline garbage collection round runs.
    collecting: Mutex<()>,
    /// Held while a snapshot is taken (`checkpoint.rs`); the snapshot the next one
    /// folds on from (the one the open restored from or the last written; None: a
    /// fold of the whole log).
    pub(super) snapshotting: Mutex<Option<Lsn>>,
    /// The lsn at which the next snapshot is due (`Lsn::MAX`: only on demand).
    snapshot_due: AtomicU64,
    /// What the open restored from.
    restored: Restored,
}

/// How many times an update is tried again after losing to a swap that kept the
/// page's version (`PageCache::same_version`).
const SAME_VERSION_TRIES: usize = 8;

/// When the snapshot after one at `lsn` is due, for snapshots every `every` bytes.
fn due(lsn: Lsn, every: u64) -> Lsn {
    match every {
        0 => Lsn::MAX,
        n => lsn.saturating_add(n),
    }
}

impl<M: Materializer> std::fmt::Debug for PageCache<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache")
            .field("next_pid", &self.next_pid.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A page's view as [`PageCache::now`] finds it.
pub(super) enum Now<'g, P> {
    /// No batch holds it.
    Plain(Shared<'g, View<P>>),
    /// An undecided batch holds it: this view's state is the page's until then.
    Busy(Shared<'g, View<P>>),
}

/// How an update waits for log space.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wait {
    Block,
    Never,
}

impl<M: Materializer> PageCache<M> {
    /// Opens (or creates) the page cache in `storage`: checks `config` against the
    /// settings persisted when the page cache was created (`pagecache.conf`: the
    /// segment mode and size; a mismatch is `Error::InvalidConfig` naming the
    /// setting, and nothing is written), opens its log (recovering it) and rebuilds
    /// the page table from it. No page is read or decoded here.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// let disk = SimStorage::new(7); // or pagelog::io::StdStorage::open(dir)?
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"kept".to_vec())?;
    /// pc.close()?;
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk), Bytes)?;
    /// assert_eq!(pc.get(page.pid())?.unwrap().value(), b"kept");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn open(config: Config, storage: Arc<dyn Storage>, m: M) -> Result<PageCache<M>> {
        let checked = config.clone();
        let check = move |s: &dyn Storage, log_exists: bool| {
            // A new page cache (no log, no settings): snapshot files here are strays
            // from a store that is gone, not evidence of a lost log.
            let fresh = !log_exists && conf::read_settings(s)?.is_none();
            if fresh && !checked.read_only {
                checkpoint::remove_all(s)?;
            }
            conf::check_or_write(s, &checked, log_exists)
        };
        let vet = |found: &Vetted<'_>| checkpoint::vet(found, FIRST_PAGE);
        let log = Log::open_checked(config, storage, &check, &vet)?;
        let (replay, restored) = checkpoint::restore(&log, FIRST_PAGE)?;
        let every = log.config().snapshot_every_bytes;
        let mut snapshot_at = restored.snapshot.unwrap_or(0);
        let mut base = restored.snapshot;
        if !log.is_read_only() {
            checkpoint::remove_stale(&log, &restored)?;
            if every > 0 && replay.lsn - snapshot_at >= every {
                snapshot_at = checkpoint::write(&log, &replay, restored.snapshot)?;
                base = Some(snapshot_at);
            }
            // Free messages below the snapshot the next open and the next snapshot
            // start from may go (none on disk: every one may).
            log.set_snapshot_floor(base.unwrap_or(Lsn::MAX));
        }
        let table = Table::default();
        let rebuilt = replay.install(&table, FIRST_PAGE)?;
        Ok(PageCache {
            log,
            m,
            table,
            next_pid: AtomicU64::new(rebuilt.next_pid),
            free: Mutex::new(rebuilt.free),
            counters: Counters::default(),
            roots: Mutex::new(rebuilt.roots),
            ids: Ids::recovered(rebuilt.leased),
            resident: AtomicU64::new(0),
            evictor: Evictor::default(),
            since_gc: AtomicU64::new(0),
            collecting: Mutex::new(()),
            snapshotting: Mutex::new(base),
            snapshot_due: AtomicU64::new(due(snapshot_at, every)),
            restored,
        })
    }

    /// Opens (or creates) the page cache in the directory `dir` with the default
    /// [`Config`].
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// let dir = tempfile::tempdir().expect("a temporary directory");
    /// let pc = PageCache::open_dir(dir.path(), Bytes)?;
    /// pc.allocate(b"on real files".to_vec())?;
    /// pc.close()?;
    /// assert!(dir.path().join("pagecache.conf").exists());
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    #[cfg(not(loom))]
    pub fn open_dir(dir: impl AsRef<std::path::Path>, m: M) -> Result<PageCache<M>> {
        let storage = crate::io::StdStorage::open(dir.as_ref())?;
        PageCache::open(Config::default(), Arc::new(storage), m)
    }

    /// The log underneath: flush it to make updates durable
    /// ([`Log::flush`]), read its stats, iterate its messages. Writes through it are
    /// refused (`Error::InvalidArgument`): [`Log::append`], [`Log::reserve`],
    /// [`Log::pin_batch`], [`Log::truncate_before`] and their twins, since a message
    /// the page cache did not write would be damage to it.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// pc.allocate(b"x".to_vec())?;
    /// pc.flush()?;
    /// assert!(pc.log().stats().syncs > 0);
    /// assert!(pc.log().append(b"a note").is_err(), "only the page cache writes its log");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// What this page cache did since it was opened, and the bytes resident now.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// pc.link(&page, b"y".to_vec())?;
    /// let stats = pc.stats();
    /// assert_eq!((stats.applied, stats.lost_swaps), (2, 0));
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn stats(&self) -> PageCacheStats {
        let mut stats = self.counters.snapshot();
        stats.open_snapshot = self.restored.snapshot;
        stats.open_replayed = self.restored.replayed;
        stats.open_snapshots_skipped = self.restored.skipped.len() as u64;
        stats.free_records_dropped = self.log.frees_dropped();
        stats.resident_bytes = self.resident_now().max(0).unsigned_abs();
        stats
    }

    /// The ids of the allocated pages (not freed), ascending: a snapshot, so pages
    /// allocated or freed meanwhile may be missing or present. For walking every page
    /// (a `get` each), as `pagelog-sim verify` does.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(SimStorage::new(1)), Bytes)?;
    /// let a = pc.allocate(b"a".to_vec())?;
    /// let b = pc.allocate(b"b".to_vec())?;
    /// pc.free(&a)?;
    /// assert_eq!(pc.page_ids(), [b.pid()]);
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn page_ids(&self) -> Vec<PageId> {
        let end = self.next_pid.load(Ordering::Relaxed);
        let free = self.free.lock().clone();
        (FIRST_PAGE..end).filter(|p| !free.contains(p)).collect()
    }

    /// Makes every completed update durable; see [`Log::flush`].
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"durable".to_vec())?;
    /// pc.flush()?;
    /// pc.abandon(); // a crash
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.crash()), Bytes)?;
    /// assert_eq!(pc.get(page.pid())?.unwrap().value(), b"durable");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn flush(&self) -> Result<()> {
        self.log.flush()?;
        self.maybe_snapshot(Lsn::MAX);
        Ok(())
    }

    /// Flushes and closes the log; see [`Log::close`].
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"closed".to_vec())?;
    /// pc.close()?; // flushed
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.crash()), Bytes)?;
    /// assert!(pc.get(page.pid())?.is_some());
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn close(self) -> Result<()> {
        self.log.close()
    }

    /// Drops the page cache without flushing (as a crash would); see [`Log::abandon`].
    /// For crash tests.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// pc.allocate(b"never flushed".to_vec())?;
    /// pc.abandon(); // like a crash: nothing more is written
    /// let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.crash()), Bytes)?;
    /// # let _ = pc;
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn abandon(self) {
        self.log.abandon()
    }

    /// The page `pid` as it is now: its merged value, read from the log and cached if
    /// it was not resident. None if the id is free or was never allocated.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// assert_eq!(pc.get(page.pid())?.unwrap().value(), b"x");
    /// assert!(pc.get(1_000)?.is_none(), "never allocated");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn get(&self, pid: PageId) -> Result<Option<PageRef<M::Page>>> {
        let guard = epoch::pin();
        loop {
            let (shared, busy) = match self.now(pid, &guard)? {
                Now::Plain(s) => (s, false),
                Now::Busy(s) => (s, true),
            };
            // SAFETY: loaded from the table under `guard`; views are freed only
            // through the epoch collector after being swapped out.
            let Some(view) = (unsafe { shared.as_ref() }) else {
                return Ok(None);
            };
            if view.is_free() {
                return Ok(None);
            }
            if let Some(value) = view.value() {
                view.touch();
                return Ok(Some(PageRef::new(pid, view.version, Arc::clone(value))));
            }
            let value = match materialize(&self.log, &self.m, pid, &view.frags) {
                Ok(value) => Arc::new(value),
                Err(e) => {
                    // A state replaced meanwhile may point into reclaimed segments
                    // (pagein.rs): read the new one; an error on the current state
                    // is the page's.
                    if self.table.load(pid, &guard)? == shared {
                        return Err(e);
                    }
                    continue;
                }
            };
            self.counters.bump(Counter::PageIns);
            if busy {
                // A batch holds the page: its state before the batch, not cached.
                return Ok(Some(PageRef::new(pid, view.version, value)));
            }
            let resident = self.resident_of(&value);
            let charge = resident.charge;
            let cached = view.with_cached(Some(resident));
            // On a lost swap (an update, or another reader cached it) look again: it
            // may be resident now.
            if self.table.cas(pid, shared, cached, &guard)?.is_ok() {
                self.account(pid, 0, charge);
                return Ok(Some(PageRef::new(pid, view.version, value)));
            }
        }
    }

    /// The view of `pid` now, with any decided batch settled: swapped for the page's
    /// new view if the batch committed, or for its old state without the batch if it
    /// aborted (`intent.rs`). `Busy` when an undecided batch holds the page.
    pub(super) fn now<'g>(&self, pid: PageId, guard: &'g Guard) -> Result<Now<'g, M::Page>> {
        loop {
            let shared = self.table.load(pid, guard)?;
            // SAFETY: loaded under `guard` (see `get`).
            let Some(view) = (unsafe { shared.as_ref() }) else {
                return Ok(Now::Plain(shared));
            };
            let Some(intent) = &view.intent else {
                return Ok(Now::Plain(shared));
            };
            let next = match intent.decision() {
                Decision::Undecided => return Ok(Now::Busy(shared)),
                Decision::Committed => intent.after(pid).with_intent(None),
                Decision::Aborted => view.with_intent(None),
            };
            let (was, now) = (view.charge(), next.charge());
            if self.table.cas(pid, shared, next, guard)?.is_ok() {
                self.account(pid, was, now);
            }
        }
    }

    /// A new page holding `page`: a free id is reused, else the next new one.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let a = pc.allocate(b"a".to_vec())?;
    /// let b = pc.allocate(b"b".to_vec())?;
    /// assert_ne!(a.pid(), b.pid());
    /// pc.free(&a)?;
    /// assert_eq!(pc.allocate(b"c".to_vec())?.pid(), a.pid(), "a freed id comes back");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn allocate(&self, page: M::Page) -> Result<PageRef<M::Page>> {
        self.allocate_as(page, Wait::Block)
    }

    /// [`PageCache::allocate`] that never waits for log space: `Error::WouldBlock`
    /// instead (nothing is changed).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// match pc.try_allocate(b"x".to_vec()) {
    ///     Ok(page) => assert_eq!(page.value(), b"x"),
    ///     Err(pagelog::Error::WouldBlock) => {} // every IO buffer busy: try again later
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn try_allocate(&self, page: M::Page) -> Result<PageRef<M::Page>> {
        self.allocate_as(page, Wait::Never)
    }

    /// Appends `delta` to the page `old` names, if the page is still at `old`'s
    /// version. A page past the consolidation thresholds in [`Config`] gets the merged
    /// page as a new base instead (same outcome for the caller).
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// use pagelog::Update;
    /// let page = pc.allocate(b"a".to_vec())?;
    /// let stale = page.clone();
    /// assert!(pc.link(&page, b"b".to_vec())?.is_applied());
    /// // From an old version: loses, and hands back the page now and the delta.
    /// match pc.link(&stale, b"c".to_vec())? {
    ///     Update::Lost { current, rejected } => {
    ///         assert_eq!(current.unwrap().value(), b"ab");
    ///         assert_eq!(rejected, b"c");
    ///     }
    ///     Update::Applied(_) => unreachable!(),
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn link(&self, old: &PageRef<M::Page>, delta: M::Page) -> Result<Update<M::Page, M::Page>> {
        self.link_as(old, delta, Wait::Block)
    }

    /// [`PageCache::link`] that never waits for log space: `Error::WouldBlock` instead.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"a".to_vec())?;
    /// match pc.try_link(&page, b"b".to_vec()) {
    ///     Ok(update) => assert!(update.is_applied()),
    ///     Err(pagelog::Error::WouldBlock) => {} // nothing changed; retry later
    ///     Err(e) => return Err(e),
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn try_link(
        &self,
        old: &PageRef<M::Page>,
        delta: M::Page,
    ) -> Result<Update<M::Page, M::Page>> {
        self.link_as(old, delta, Wait::Never)
    }

    /// Replaces the page `old` names with `page` (a new base), if the page is still at
    /// `old`'s version.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// use pagelog::Update;
    /// let page = pc.allocate(b"old".to_vec())?;
    /// let Update::Applied(Some(page)) = pc.replace(&page, b"new".to_vec())? else {
    ///     unreachable!()
    /// };
    /// assert_eq!(page.value(), b"new");
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn replace(
        &self,
        old: &PageRef<M::Page>,
        page: M::Page,
    ) -> Result<Update<M::Page, M::Page>> {
        self.replace_as(old, page, Wait::Block)
    }

    /// [`PageCache::replace`] that never waits for log space: `Error::WouldBlock`
    /// instead.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"old".to_vec())?;
    /// if let Ok(update) = pc.try_replace(&page, b"new".to_vec()) {
    ///     assert!(update.is_applied());
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn try_replace(
        &self,
        old: &PageRef<M::Page>,
        page: M::Page,
    ) -> Result<Update<M::Page, M::Page>> {
        self.replace_as(old, page, Wait::Never)
    }

    /// Frees the page `old` names, if it is still at `old`'s version; its id will be
    /// handed out again.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// assert!(pc.free(&page)?.is_applied());
    /// assert!(pc.get(page.pid())?.is_none());
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn free(&self, old: &PageRef<M::Page>) -> Result<Update<M::Page, ()>> {
        self.free_as(old, Wait::Block)
    }

    /// [`PageCache::free`] that never waits for log space: `Error::WouldBlock` instead.
    ///
    /// ```rust
    /// # use std::sync::Arc;
    /// # use pagelog::io::SimStorage;
    /// # use pagelog::{Config, Materializer, PageCache};
    /// # use pagelog::AppendBytes as Bytes;
    /// # let disk = SimStorage::new(1);
    /// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
    /// let page = pc.allocate(b"x".to_vec())?;
    /// if let Ok(update) = pc.try_free(&page) {
    ///     assert!(update.is_applied());
    /// }
    /// # Ok::<(), pagelog::Error>(())
    /// ```
    pub fn try_free(&self, old: &PageRef<M::Page>) -> Result<Update<M::Page, ()>> {
        self.free_as(old, Wait::Never)
    }

    pub(super) fn reserve(
        &self,
        wait: Wait,
        kind: Kind,
        pid: PageId,
        bytes: &[u8],
    ) -> Result<Reservation<'_>> {
        match wait {
            Wait::Block => self.log.reserve_any(kind.stored(), pid, bytes, true),
            Wait::Never => self.log.reserve_any(kind.stored(), pid, bytes, false),
        }
    }

    fn allocate_as(&self, page: M::Page, wait: Wait) -> Result<PageRef<M::Page>> {
        let pid = self.take_id();
        let bytes = self.m.encode(&page);
        let r = match self.reserve(wait, Kind::Replace, pid, &bytes) {
            Ok(r) => r,
            Err(e) => {
                self.free.lock().insert(pid);
                return Err(e);
            }
        };
        let guard = epoch::pin();
        let Now::Plain(current) = self.now(pid, &guard)? else {
            unreachable!("page id {pid} is free but a batch holds it");
        };
        // SAFETY: loaded under `guard` (see `get`).
        let old = unsafe { current.as_ref() };
        let (version, was) = old.map_or((1, 0), |v| (v.version + 1, v.charge()));
        let value = Arc::new(page);
        let resident = self.resident_of(&value);
        let now = resident.charge;
        let view = View::based(version, frag_of(&r, &bytes, true), Some(resident));
        let swapped = self.table.cas(pid, current, view, &guard)?;
        assert!(swapped.is_ok(), "page id {pid} was handed out twice");
        let lsn = r.lsn();
        r.complete()?;
        self.counters.bump(Counter::Applied);
        self.account(pid, was, now);
        self.after_update(1, lsn);
        Ok(PageRef::new(pid, version, value))
    }

    /// A free id (the lowest), or the next new one.
    fn take_id(&self) -> PageId {
        if let Some(pid) = self.free.lock().pop_first() {
            return pid;
        }
        self.next_pid.fetch_add(1, Ordering::Relaxed)
    }

    fn link_as(
        &self,
        old: &PageRef<M::Page>,
        delta: M::Page,
        wait: Wait,
    ) -> Result<Update<M::Page, M::Page>> {
        self.same_version(old, delta, |v| self.link_once(old, v, wait))
    }

    fn link_once(
        &self,
        old: &PageRef<M::Page>,
        delta: M::Page,
        wait: Wait,
    ) -> Result<Update<M::Page, M::Page>> {
        let guard = epoch::pin();
        let pid = old.pid();
        let Now::Plain(shared) = self.now(pid, &guard)? else {
            return self.stale(pid, delta);
        };
        // SAFETY: loaded under `guard` (see `get`).
        let view = match unsafe { shared.as_ref() } {
            Some(v) if v.version == old.version() && !v.is_free() => v,
            _ => return self.stale(pid, delta),
        };
        let mut merged = M::Page::clone(old.shared());
        self.m.merge(&mut merged, &delta);
        let delta_bytes = self.m.encode(&delta);
        let consolidate = self.needs_consolidation(view, delta_bytes.len());
        let bytes = if consolidate {
            self.m.encode(&merged)
        } else {
            delta_bytes
        };
        let kind = if consolidate {
            Kind::Replace
        } else {
            Kind::Append
        };
        let r = self.reserve(wait, kind, pid, &bytes)?;
        let value = Arc::new(merged);
        let resident = self.resident_of(&value);
        let (was, now) = (view.charge(), resident.charge);
        let frag = frag_of(&r, &bytes, consolidate);
        let new = if consolidate {
            View::based(view.version + 1, frag, Some(resident))
        } else {
            view.linked(frag, Some(resident))
        };
        let version = new.version;
        match self.table.cas(pid, shared, new, &guard)? {
            Ok(_) => {
                let lsn = r.lsn();
                r.complete()?;
                if consolidate {
                    self.counters.bump(Counter::Consolidations);
                }
                self.counters.bump(Counter::Applied);
                self.account(pid, was, now);
                self.after_update(1, lsn);
                Ok(Update::Applied(Some(PageRef::new(pid, version, value))))
            }
            Err(_) => {
                r.abort()?;
                self.counters.bump(Counter::LostSwaps);
                self.lost(pid, delta)
            }
        }
    }

    /// Whether a link adding `delta_len` bytes to `view` writes a new base instead.
    pub(super) fn needs_consolidation(&self, view: &View<M::Page>, delta_len: usize) -> bool {
        let config = self.log.config();
        let base = view.frags.first().map_or(0, |f| u64::from(f.len));
        let deltas = view.chain_bytes() - base + delta_len as u64;
        view.deltas() + 1 > config.consolidate_after_deltas
            || deltas > config.consolidate_after_bytes
    }

    fn replace_as(
        &self,
        old: &PageRef<M::Page>,
        page: M::Page,
        wait: Wait,
    ) -> Result<Update<M::Page, M::Page>> {
        self.same_version(old, page, |v| self.replace_once(old, v, wait))
    }

    fn replace_once(
        &self,
        old: &PageRef<M::Page>,
        page: M::Page,
        wait: Wait,
    ) -> Result<Update<M::Page, M::Page>> {
        let guard = epoch::pin();
        let pid = old.pid();
        let Now::Plain(shared) = self.now(pid, &guard)? else {
            return self.stale(pid, page);
        };
        // SAFETY: loaded under `guard` (see `get`).
        let view = match unsafe { shared.as_ref() } {
            Some(v) if v.version == old.version() && !v.is_free() => v,
            _ => return self.stale(pid, page),
        };
        let bytes = self.m.encode(&page);
        let r = self.reserve(wait, Kind::Replace, pid, &bytes)?;
        assert!(
            r.lsn() > view.newest(),
            "base at lsn {} after {} (I10)",
            r.lsn(),
            view.newest()
        );
        let value = Arc::new(page);
        let resident = self.resident_of(&value);
        let (was, now) = (view.charge(), resident.charge);
        let new = View::based(view.version + 1, frag_of(&r, &bytes, true), Some(resident));
        let version = new.version;
        match self.table.cas(pid, shared, new, &guard)? {
            Ok(_) => {
                let lsn = r.lsn();
                r.complete()?;
                self.counters.bump(Counter::Applied);
                self.account(pid, was, now);
                self.after_update(1, lsn);
                Ok(Update::Applied(Some(PageRef::new(pid, version, value))))
            }
            Err((_, rejected)) => {
                r.abort()?;
                self.counters.bump(Counter::LostSwaps);
                drop(rejected);
                let page = Arc::try_unwrap(value).unwrap_or_else(|shared| M::Page::clone(&shared));
                self.lost(pid, page)
            }
        }
    }

    fn free_as(&self, old: &PageRef<M::Page>, wait: Wait) -> Result<Update<M::Page, ()>> {
        self.same_version(old, (), |()| self.free_once(old, wait))
    }

    fn free_once(&self, old: &PageRef<M::Page>, wait: Wait) -> Result<Update<M::Page, ()>> {
        let guard = epoch::pin();
        let pid = old.pid();
        let Now::Plain(shared) = self.now(pid, &guard)? else {
            return self.stale(pid, ());
        };
        // SAFETY: loaded under `guard` (see `get`).
        let view = match unsafe { shared.as_ref() } {
            Some(v) if v.version == old.version() && !v.is_free() => v,
            _ => return self.stale(pid, ()),
        };
        let r = self.reserve(wait, Kind::Free, pid, &[])?;
        assert!(
            r.lsn() > view.newest(),
            "free at lsn {} after {} (I10)",
            r.lsn(),
            view.newest()
        );
        match self
            .table
            .cas(pid, shared, View::freed(view.version + 1), &guard)?
        {
            Ok(_) => {
                let lsn = r.lsn();
                r.complete()?;
                self.counters.bump(Counter::Applied);
                self.account(pid, view.charge(), 0);
                self.free.lock().insert(pid);
                self.after_update(1, lsn);
                Ok(Update::Applied(None))
            }
            Err(_) => {
                r.abort()?;
                self.counters.bump(Counter::LostSwaps);
                self.lost(pid, ())
            }
        }
    }

    /// `value` as a resident page, with its charge.
    pub(super) fn resident_of(&self, value: &Arc<M::Page>) -> Resident<M::Page> {
        let size = self.m.size_in_bytes(value) as u64;
        Resident {
            value: Arc::clone(value),
            charge: size.saturating_add(RESIDENT_OVERHEAD_BYTES),
        }
    }

    /// The page table.
    pub(super) fn table(&self) -> &Table<M::Page> {
        &self.table
    }

    /// The user's Materializer.
    pub(super) fn m(&self) -> &M {
        &self.m
    }

    /// `pid` was freed (and settled): it may be handed out again.
    pub(super) fn release_id(&self, pid: PageId) {
        self.free.lock().insert(pid);
    }

    /// Takes the free id `pid` out of reach of `allocate` until `release_id`; false
    /// if it is not free.
    pub(super) fn hold_free_id(&self, pid: PageId) -> bool {
        self.free.lock().remove(&pid)
    }

    /// The counters.
    pub(super) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// `n` updates were applied, the newest at `lsn`: runs what is due inline (a
    /// garbage collection round, `gc.rs`; a snapshot, `checkpoint.rs`).
    pub(super) fn after_update(&self, n: u64, lsn: Lsn) {
        self.maybe_collect(n);
        self.maybe_snapshot(lsn);
    }

    /// Updates applied since the last inline garbage collection round.
    pub(super) fn since_gc(&self) -> &AtomicU64 {
        &self.since_gc
    }

    /// Held while an inline garbage collection round runs.
    pub(super) fn collecting(&self) -> &Mutex<()> {
        &self.collecting
    }

    /// The lsn at which the next snapshot is due.
    pub(super) fn snapshot_due(&self) -> Lsn {
        self.snapshot_due.load(Ordering::Relaxed)
    }

    /// A snapshot at `lsn` was written: the next is due `snapshot_every_bytes` later.
    pub(super) fn snapshot_written(&self, lsn: Lsn) {
        let every = self.log.config().snapshot_every_bytes;
        self.snapshot_due.store(due(lsn, every), Ordering::Relaxed);
        self.counters.bump(Counter::Snapshots);
    }

    /// Counts an applied batch of `applied` updates, `consolidated` of them links
    /// written as new bases.
    pub(super) fn note_batch(&self, consolidated: usize, applied: usize) {
        self.counters
            .add(Counter::Consolidations, consolidated as u64);
        self.counters.add(Counter::Applied, applied as u64);
    }

    /// The resident total now, read as signed (module doc).
    fn resident_now(&self) -> i64 {
        self.resident.load(Ordering::Relaxed) as i64
    }

    /// Books a won swap of `pid` from a view charged `was` to one charged `now`: the
    /// total moves, a page that became resident is queued, and a total over the
    /// capacity pages out victims.
    pub(super) fn account(&self, pid: PageId, was: u64, now: u64) {
        if now == was {
            return;
        }
        self.resident
            .fetch_add(now.wrapping_sub(was), Ordering::Relaxed);
        if was == 0 {
            self.evictor.admit(pid, |p| self.is_resident(p));
        } else if now == 0 {
            self.evictor.released(pid);
        }
        if now > was {
            self.shrink();
        }
    }

    /// Pages out victims while the resident total is over the capacity.
    fn shrink(&self) {
        let capacity = i64::try_from(self.log.config().cache_capacity_bytes).unwrap_or(i64::MAX);
        let mut contended = 0;
        while self.resident_now() > capacity && contended < MAX_CONTENDED {
            let Some(pid) = self.evictor.victim(|p| self.look(p)) else {
                return;
            };
            if !self.page_out(pid) {
                contended += 1;
            }
        }
    }

    /// What the evictor needs to know about `pid`.
    fn look(&self, pid: PageId) -> Seen {
        let guard = epoch::pin();
        let Ok(shared) = self.table.load(pid, &guard) else {
            return Seen::Gone;
        };
        // SAFETY: loaded under `guard` (see `get`).
        match unsafe { shared.as_ref() } {
            // A batch holds it: not now.
            Some(v) if v.intent.is_some() => Seen::Touched,
            Some(v) if v.cached.is_some() => {
                if v.take_hit() {
                    Seen::Touched
                } else {
                    Seen::Cold
                }
            }
            _ => Seen::Gone,
        }
    }

    fn is_resident(&self, pid: PageId) -> bool {
        let guard = epoch::pin();
        let Ok(shared) = self.table.load(pid, &guard) else {
            return false;
        };
        // SAFETY: loaded under `guard` (see `get`).
        unsafe { shared.as_ref() }.is_some_and(|v| v.cached.is_some())
    }

    /// Drops `pid`'s value from its view (the page stays, as disk pointers). If other
    /// threads keep swapping the page, gives up after a few tries, requeues it and
    /// returns false.
    fn page_out(&self, pid: PageId) -> bool {
        let guard = epoch::pin();
        for _ in 0..EVICT_ATTEMPTS {
            let shared = match self.now(pid, &guard) {
                Ok(Now::Plain(shared)) => shared,
                Ok(Now::Busy(_)) => break,
                Err(_) => return true,
            };
            // SAFETY: loaded under `guard` (see `get`).
            let Some(view) = (unsafe { shared.as_ref() }) else {
                return true;
            };
            let was = view.charge();
            if was == 0 {
                return true;
            }
            let Ok(swap) = self.table.cas(pid, shared, view.with_cached(None), &guard) else {
                return true;
            };
            if swap.is_ok() {
                self.counters.bump(Counter::Evictions);
                self.resident.fetch_sub(was, Ordering::Relaxed);
                return true;
            }
        }
        self.evictor.requeue(pid);
        false
    }

    /// The outcome of an update that found the page at another version before it
    /// reserved anything.
    fn stale<T>(&self, pid: PageId, rejected: T) -> Result<Update<M::Page, T>> {
        self.counters.bump(Counter::Stale);
        self.lost(pid, rejected)
    }

    /// Runs `attempt` with `value`, and again while it loses to a swap that left the
    /// page at `old`'s version: a page-out or a garbage-collection rewrite on another
    /// thread changes where the page lives or whether it is cached, not what it is,
    /// so the update still applies to what the caller read (each attempt reserves
    /// anew after loading the view, so fragment order, I10, holds). A page held by an
    /// undecided batch also keeps its version; after a few tries that loss is
    /// returned.
    fn same_version<T>(
        &self,
        old: &PageRef<M::Page>,
        value: T,
        mut attempt: impl FnMut(T) -> Result<Update<M::Page, T>>,
    ) -> Result<Update<M::Page, T>> {
        let mut value = value;
        for _ in 0..SAME_VERSION_TRIES {
            match attempt(value)? {
                Update::Lost {
                    current: Some(now),
                    rejected,
                } if now.version() == old.version() => value = rejected,
                done => return Ok(done),
            }
        }
        attempt(value)
    }

    /// The outcome of an update that found the page changed.
    fn lost<T>(&self, pid: PageId, rejected: T) -> Result<Update<M::Page, T>> {
        Ok(Update::Lost {
            current: self.get(pid)?,
            rejected,
        })
    }
}

/// The fragment a reservation of `bytes` becomes.
fn frag_of(r: &Reservation<'_>, bytes: &[u8], base: bool) -> Frag {
    Frag {
        ptr: r.pointer(),
        len: u32::try_from(bytes.len()).unwrap_or(u32::MAX),
        base,
    }
}
