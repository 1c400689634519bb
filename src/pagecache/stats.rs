//! Per-instance counters of the page cache ([`PageCacheStats`]).

use crate::sync::{CounterU64, Ordering};

/// What one page cache did since it was opened.
///
/// ```rust
/// # use std::sync::Arc;
/// # use pagelog::io::SimStorage;
/// # use pagelog::{Config, Materializer, PageCache};
/// # use pagelog::AppendBytes as Bytes;
/// # let disk = SimStorage::new(1);
/// # let pc = PageCache::open(Config::for_simulation(), Arc::new(disk.clone()), Bytes)?;
/// pc.allocate(b"x".to_vec())?;
/// let pagelog::PageCacheStats { applied, evictions, resident_bytes, .. } = pc.stats();
/// assert_eq!((applied, evictions), (1, 0));
/// assert!(resident_bytes > 0);
/// # Ok::<(), pagelog::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageCacheStats {
    /// Updates applied (allocate, link, replace, free).
    pub applied: u64,
    /// Updates that found the page at another version before reserving log space.
    pub stale: u64,
    /// Updates whose compare-and-swap lost after reserving (the reservation was
    /// aborted).
    pub lost_swaps: u64,
    /// Links written as a new base because the chain passed a threshold.
    pub consolidations: u64,
    /// Pages read back from the log and merged.
    pub page_ins: u64,
    /// Pages whose value was dropped to keep the cache within
    /// `cache_capacity_bytes` (they stay, as disk pointers, and are read back by the
    /// next get).
    pub evictions: u64,
    /// Pages (and the page cache's own records) rewritten by garbage collection
    /// (`maintenance`, `compact`) so that sparse segments can be reclaimed.
    pub gc_rewrites: u64,
    /// Free records (a freed page's last message) the log dropped since the open,
    /// the open's own recovery included: once no older message of the page is
    /// left and a snapshot past the record is durable, nothing needs it (Gc mode).
    pub free_records_dropped: u64,
    /// Snapshots written by this instance (on demand, due, or at open).
    pub snapshots: u64,
    /// The lsn of the snapshot this instance's open started from (None: it replayed
    /// the whole log).
    pub open_snapshot: Option<u64>,
    /// Messages the open replayed from the log (after `open_snapshot`).
    pub open_replayed: u64,
    /// Snapshots the open skipped as damaged or stale (each also a `log::warn!`).
    pub open_snapshots_skipped: u64,
    /// Bytes charged for resident pages now (their `Materializer::size_in_bytes`
    /// plus `RESIDENT_OVERHEAD_BYTES` each).
    pub resident_bytes: u64,
}

/// The live counters behind [`PageCacheStats`].
#[derive(Debug, Default)]
pub struct Counters {
    applied: CounterU64,
    stale: CounterU64,
    lost_swaps: CounterU64,
    consolidations: CounterU64,
    page_ins: CounterU64,
    evictions: CounterU64,
    gc_rewrites: CounterU64,
    snapshots: CounterU64,
}

/// One counter of [`Counters`].
#[derive(Debug, Clone, Copy)]
pub enum Counter {
    /// See [`PageCacheStats::applied`].
    Applied,
    /// See [`PageCacheStats::stale`].
    Stale,
    /// See [`PageCacheStats::lost_swaps`].
    LostSwaps,
    /// See [`PageCacheStats::consolidations`].
    Consolidations,
    /// See [`PageCacheStats::page_ins`].
    PageIns,
    /// See [`PageCacheStats::evictions`].
    Evictions,
    /// See [`PageCacheStats::gc_rewrites`].
    GcRewrites,
    /// See [`PageCacheStats::snapshots`].
    Snapshots,
}

impl Counters {
    /// Adds one to `c`.
    pub fn bump(&self, c: Counter) {
        self.add(c, 1);
    }

    /// Adds `n` to `c`.
    pub fn add(&self, c: Counter, n: u64) {
        let cell = match c {
            Counter::Applied => &self.applied,
            Counter::Stale => &self.stale,
            Counter::LostSwaps => &self.lost_swaps,
            Counter::Consolidations => &self.consolidations,
            Counter::PageIns => &self.page_ins,
            Counter::Evictions => &self.evictions,
            Counter::GcRewrites => &self.gc_rewrites,
            Counter::Snapshots => &self.snapshots,
        };
        cell.fetch_add(n, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> PageCacheStats {
        let get = |c: &CounterU64| c.load(Ordering::Relaxed);
        PageCacheStats {
            applied: get(&self.applied),
            stale: get(&self.stale),
            lost_swaps: get(&self.lost_swaps),
            consolidations: get(&self.consolidations),
            page_ins: get(&self.page_ins),
            evictions: get(&self.evictions),
            gc_rewrites: get(&self.gc_rewrites),
            snapshots: get(&self.snapshots),
            free_records_dropped: 0,
            open_snapshot: None,
            open_replayed: 0,
            open_snapshots_skipped: 0,
            resident_bytes: 0,
        }
    }
}
