//! [`Evictor`]: which resident page to page out when the cache is over
//! `cache_capacity_bytes`.
//!
//! The policy is S3-FIFO (Yang et al., SOSP 2023): per shard, a small FIFO that every
//! newly resident page enters, a main FIFO for pages touched again, and a ghost FIFO of
//! the ids recently evicted from the small one. The evictor pops from the small queue
//! while it holds more than a tenth of the shard's pages: a page touched since it was
//! admitted moves to main, an untouched one is evicted (and its id remembered as a
//! ghost). From main, a touched page goes back to the tail with one touch taken away,
//! an untouched one is evicted. A page admitted while its id is a ghost goes straight
//! to main. So a scan, which touches each page once, cycles through the small queue
//! and leaves a hot set in main alone.
//!
//! Touches are counted on the page's view with a relaxed atomic (see `view.rs`), so a
//! cache hit takes no lock; the queues are touched only when a page becomes resident
//! and when one is evicted, under one of [`SHARDS`] mutexes chosen by page id.
//!
//! Queues hold page ids, not views, and may hold stale ids (a page freed while queued,
//! or queued twice after a free and a new allocation): the evictor asks the page table
//! what each popped id is now and drops ids that are not resident. Each shard's queues
//! are pruned of such ids when they outgrow twice the pages resident in the shard.

use std::collections::{BTreeSet, VecDeque};

use super::page_ref::PageId;
use super::view::MAX_HITS;
use crate::sync::{AtomicUsize, Mutex, Ordering};

/// Shards of the queues (a power of two; page id modulo this picks the shard).
pub const SHARDS: usize = 16;

/// Percent of a shard's queued pages the small queue may hold before the evictor
/// takes from it (the S3-FIFO paper's 10%).
const SMALL_PCT: usize = 10;

/// Fewest ghost ids a shard remembers, however small its main queue.
const MIN_GHOSTS: usize = 16;

/// What the page table says about a queued id when the evictor looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not resident (freed, paged out, or never was): drop the id.
    Gone,
    /// Resident and touched since the last look (one touch was taken away).
    Touched,
    /// Resident and untouched: a victim.
    Cold,
}

#[derive(Debug, Default)]
struct Shard {
    small: VecDeque<PageId>,
    main: VecDeque<PageId>,
    ghost: VecDeque<PageId>,
    ghosts: BTreeSet<PageId>,
    /// Pages admitted minus pages evicted or found gone: about the resident pages.
    resident: usize,
}

impl Shard {
    fn admit(&mut self, pid: PageId) {
        if self.ghosts.remove(&pid) {
            self.main.push_back(pid);
        } else {
            self.small.push_back(pid);
        }
        self.resident += 1;
    }

    fn small_is_over(&self) -> bool {
        let total = self.small.len() + self.main.len();
        self.small.len() * 100 > total * SMALL_PCT || self.main.is_empty()
    }

    fn remember(&mut self, pid: PageId) {
        let cap = self.main.len().max(MIN_GHOSTS);
        while self.ghost.len() >= cap {
            if let Some(old) = self.ghost.pop_front() {
                self.ghosts.remove(&old);
            }
        }
        if self.ghosts.insert(pid) {
            self.ghost.push_back(pid);
        }
    }

    /// Pops and judges ids until one is a victim; None when both queues run dry.
    /// Each look at a touched page takes a touch away, so without concurrent touches
    /// an id comes round at most `MAX_HITS + 1` times; a budget of that many looks
    /// per queued id ends the search even if other threads keep touching, by taking
    /// the next page touched or not.
    fn victim(&mut self, look: &mut impl FnMut(PageId) -> Seen) -> Option<PageId> {
        let queued = self.small.len() + self.main.len();
        let mut budget = queued * (usize::from(MAX_HITS) + 1) + 1;
        loop {
            let from_small = self.small_is_over();
            let popped = if from_small {
                self.small.pop_front()
            } else {
                self.main.pop_front()
            };
            let pid = popped?;
            budget = budget.saturating_sub(1);
            let seen = match look(pid) {
                Seen::Touched if budget == 0 => Seen::Cold,
                seen => seen,
            };
            match seen {
                Seen::Gone => self.resident = self.resident.saturating_sub(1),
                Seen::Touched => self.main.push_back(pid),
                Seen::Cold => {
                    if from_small {
                        self.remember(pid);
                    }
                    self.resident = self.resident.saturating_sub(1);
                    return Some(pid);
                }
            }
        }
    }

    /// Drops ids that are not resident when the queues hold more than twice the
    /// resident pages (stale ids from frees and reallocations).
    fn prune(&mut self, is_resident: &mut impl FnMut(PageId) -> bool) {
        let queued = self.small.len() + self.main.len();
        if queued <= 2 * self.resident + MIN_GHOSTS {
            return;
        }
        let mut seen = BTreeSet::new();
        let mut keep = |pid: &PageId| is_resident(*pid) && seen.insert(*pid);
        self.small.retain(&mut keep);
        self.main.retain(&mut keep);
        self.resident = self.small.len() + self.main.len();
    }
}

/// The sharded S3-FIFO queues; see the module doc.
#[derive(Debug)]
pub struct Evictor {
    shards: Box<[Mutex<Shard>]>,
    hand: AtomicUsize,
}

impl Default for Evictor {
    fn default() -> Evictor {
        Evictor {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            hand: AtomicUsize::new(0),
        }
    }
}

fn shard_of(pid: PageId) -> usize {
    (pid % SHARDS as u64) as usize
}

impl Evictor {
    /// `pid` became resident. `is_resident` prunes stale ids when a shard's queues
    /// have grown past twice its resident pages.
    pub fn admit(&self, pid: PageId, mut is_resident: impl FnMut(PageId) -> bool) {
        let mut shard = self.shards[shard_of(pid)].lock();
        shard.admit(pid);
        shard.prune(&mut is_resident);
    }

    /// `pid` stopped being resident other than by eviction (it was freed); its id
    /// stays queued until the evictor or a prune finds it gone.
    pub fn released(&self, pid: PageId) {
        let mut shard = self.shards[shard_of(pid)].lock();
        shard.resident = shard.resident.saturating_sub(1);
    }

    /// Puts `pid` back at the tail of main (an eviction that could not complete).
    pub fn requeue(&self, pid: PageId) {
        let mut shard = self.shards[shard_of(pid)].lock();
        shard.main.push_back(pid);
        shard.resident += 1;
    }

    /// The next page to evict, judged by `look`: shards are tried round-robin from a
    /// moving hand, so evictions spread over them. None when no shard holds a
    /// resident page.
    pub fn victim(&self, mut look: impl FnMut(PageId) -> Seen) -> Option<PageId> {
        let start = self.hand.fetch_add(1, Ordering::Relaxed);
        (0..SHARDS).find_map(|i| {
            let mut shard = self.shards[(start + i) % SHARDS].lock();
            shard.victim(&mut look)
        })
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// A model page table: which ids are resident and their touch counts.
    #[derive(Default)]
    struct Pages {
        hits: std::collections::BTreeMap<PageId, u8>,
    }

    impl Pages {
        fn look(&mut self, pid: PageId) -> Seen {
            match self.hits.get_mut(&pid) {
                None => Seen::Gone,
                Some(0) => Seen::Cold,
                Some(h) => {
                    *h -= 1;
                    Seen::Touched
                }
            }
        }
    }

    fn evict_one(e: &Evictor, pages: &mut Pages) -> PageId {
        let pid = e.victim(|p| pages.look(p)).expect("a victim");
        pages.hits.remove(&pid);
        pid
    }

    #[test]
    fn a_scan_evicts_scanned_pages_and_leaves_the_hot_set() {
        let e = Evictor::default();
        let mut pages = Pages::default();
        let hot: Vec<PageId> = (0..32).map(|i| i * SHARDS as u64).collect();
        for &pid in &hot {
            e.admit(pid, |_| true);
            pages.hits.insert(pid, 0);
        }
        // The hot set is touched, then a first eviction pass moves it to main.
        for &pid in &hot {
            pages.hits.insert(pid, 3);
        }
        // A scan of 10,000 pages through the same shard, evicting one per page
        // once the shard holds 64.
        for i in 0..10_000_u64 {
            let pid = 100_000 + i * SHARDS as u64;
            e.admit(pid, |_| true);
            pages.hits.insert(pid, 0);
            if pages.hits.len() > 64 {
                let gone = evict_one(&e, &mut pages);
                assert!(!hot.contains(&gone), "hot page {gone} evicted by a scan");
            }
            if i % 100 == 0 {
                for &pid in &hot {
                    pages.hits.insert(pid, 3);
                }
            }
        }
    }

    #[test]
    fn untouched_pages_leave_in_admission_order_and_gone_ids_are_skipped() {
        let e = Evictor::default();
        let mut pages = Pages::default();
        for pid in [3, 19, 35] {
            e.admit(pid, |_| true);
            pages.hits.insert(pid, 0);
        }
        pages.hits.remove(&19);
        assert_eq!(evict_one(&e, &mut pages), 3);
        assert_eq!(evict_one(&e, &mut pages), 35);
        assert!(e.victim(|p| pages.look(p)).is_none(), "nothing resident");
    }

    #[test]
    fn a_ghost_comes_back_into_main() {
        let e = Evictor::default();
        let mut pages = Pages::default();
        e.admit(5, |_| true);
        pages.hits.insert(5, 0);
        assert_eq!(evict_one(&e, &mut pages), 5);
        e.admit(5, |_| true);
        let shard = e.shards[shard_of(5)].lock();
        assert_eq!((shard.small.len(), shard.main.len()), (0, 1));
    }

    #[test]
    fn stale_ids_are_pruned_when_they_outgrow_the_resident_pages() {
        let e = Evictor::default();
        for round in 0..1_000_u64 {
            // Allocate and free the same id over and over: each admission leaves a
            // stale id behind.
            let pid = round % 2 * SHARDS as u64;
            e.admit(pid, |_| false);
            e.released(pid);
        }
        let shard = e.shards[0].lock();
        assert!(
            shard.small.len() + shard.main.len() <= 2 + MIN_GHOSTS + 1,
            "{} ids queued",
            shard.small.len()
        );
    }
}
