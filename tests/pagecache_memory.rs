//! Risk: the page cache holds more memory than `cache_capacity_bytes` (sled's most
//! reported problem: paged-out pages kept decoded, memory far above the configured
//! cache), or a scan flushes the hot set out of it, or a page read back after it was
//! paged out comes back wrong.
//!
//! The page type here counts its own bytes in a shared counter as values are made,
//! cloned and dropped, so the bound is checked against what is alive, not only
//! against the cache's own accounting (a check from inside would share its blind
//! spots): after each step, with the test holding no page, the decoded bytes alive
//! must fit the capacity plus one page.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use pagelog::io::SimStorage;
use pagelog::pagecache::RESIDENT_OVERHEAD_BYTES;
use pagelog::{Config, Materializer, PageCache, PageId, Update};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bytes that count themselves: `live` holds the total length of every value alive.
struct Counted {
    bytes: Vec<u8>,
    live: Arc<AtomicI64>,
}

impl Counted {
    fn new(bytes: Vec<u8>, live: &Arc<AtomicI64>) -> Counted {
        live.fetch_add(bytes.len() as i64, Ordering::Relaxed);
        Counted {
            bytes,
            live: Arc::clone(live),
        }
    }
}

impl Clone for Counted {
    fn clone(&self) -> Counted {
        Counted::new(self.bytes.clone(), &self.live)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.live
            .fetch_sub(self.bytes.len() as i64, Ordering::Relaxed);
    }
}

/// Pages of counted bytes; a delta is appended (order-sensitive).
struct Bytes {
    live: Arc<AtomicI64>,
}

impl Materializer for Bytes {
    type Page = Counted;

    fn encode(&self, page: &Counted) -> Vec<u8> {
        page.bytes.clone()
    }

    fn decode(&self, bytes: &[u8]) -> Option<Counted> {
        Some(Counted::new(bytes.to_vec(), &self.live))
    }

    fn merge(&self, base: &mut Counted, delta: &Counted) {
        base.live
            .fetch_add(delta.bytes.len() as i64, Ordering::Relaxed);
        base.bytes.extend_from_slice(&delta.bytes);
    }

    fn size_in_bytes(&self, page: &Counted) -> usize {
        page.bytes.len()
    }
}

fn filled(seed: u64, len: usize) -> Vec<u8> {
    (0..len).map(|i| (seed as usize * 7 + i) as u8).collect()
}

/// Frees what the epoch collector holds (views replaced by this thread's updates):
/// repins and flushes until nothing is left, at most a few rounds.
fn collect_garbage() {
    for _ in 0..8 {
        crossbeam_epoch::pin().flush();
    }
}

const CAPACITY: u64 = 64 << 10;

/// Replaced page states wait for the epoch collector, which gathers them in bags of
/// 64 per thread and frees a bag once no pinned thread can read it: allow two bags of
/// the largest page beyond the capacity (the test prints the most it saw).
const GARBAGE_PAGES: i64 = 2 * 64;

/// The tests run one at a time: a thread pinned in one would hold back the epoch
/// collector the other relies on to free what it replaced.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn open(live: &Arc<AtomicI64>) -> PageCache<Bytes> {
    let config = Config::for_simulation().cache_capacity(CAPACITY);
    let disk = SimStorage::new(7);
    let m = Bytes {
        live: Arc::clone(live),
    };
    PageCache::open(config, Arc::new(disk), m).expect("open")
}

#[test]
fn a_workload_ten_times_the_capacity_stays_within_it_and_reads_back_right() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let live = Arc::new(AtomicI64::new(0));
    let cache = open(&live);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let mut model: BTreeMap<PageId, Vec<u8>> = BTreeMap::new();
    let (mut largest, mut most_garbage) = (0_u64, 0_i64);
    for step in 0..12_000_u64 {
        let pick = |rng: &mut ChaCha8Rng, model: &BTreeMap<PageId, Vec<u8>>| {
            let keys: Vec<PageId> = model.keys().copied().collect();
            keys[rng.random_range(0..keys.len())]
        };
        match rng.random_range(0..10) {
            0..=2 if model.len() < 1_500 => {
                let bytes = filled(step, rng.random_range(64..900));
                let page = cache
                    .allocate(Counted::new(bytes.clone(), &live))
                    .expect("allocate");
                model.insert(page.pid(), bytes);
            }
            3 | 4 if !model.is_empty() => {
                let pid = pick(&mut rng, &model);
                let page = cache.get(pid).expect("get").expect("live page");
                let delta = filled(step, 24);
                let Update::Applied(_) = cache
                    .link(&page, Counted::new(delta.clone(), &live))
                    .expect("link")
                else {
                    panic!("step {step}: a link lost with one thread");
                };
                model
                    .get_mut(&pid)
                    .expect("modelled")
                    .extend_from_slice(&delta);
            }
            5 if !model.is_empty() => {
                let pid = pick(&mut rng, &model);
                let page = cache.get(pid).expect("get").expect("live page");
                let Update::Applied(_) = cache.free(&page).expect("free") else {
                    panic!("step {step}: a free lost with one thread");
                };
                model.remove(&pid);
            }
            _ if !model.is_empty() => {
                let pid = pick(&mut rng, &model);
                let page = cache.get(pid).expect("get").expect("live page");
                assert_eq!(page.bytes, model[&pid], "step {step}: page {pid}");
            }
            _ => {}
        }
        largest = largest.max(model.values().map(|v| v.len() as u64).max().unwrap_or(0));
        let stats = cache.stats();
        let one_page = largest + RESIDENT_OVERHEAD_BYTES;
        assert!(
            stats.resident_bytes <= CAPACITY + one_page,
            "step {step}: {} bytes resident by the cache's count, capacity {CAPACITY}",
            stats.resident_bytes
        );
        let uncollected = live.load(Ordering::Relaxed);
        most_garbage = most_garbage.max(uncollected);
        assert!(
            uncollected <= (CAPACITY + largest) as i64 + GARBAGE_PAGES * largest as i64,
            "step {step}: {uncollected} decoded bytes alive before collection"
        );
        if step % 64 == 0 {
            collect_garbage();
            let alive = live.load(Ordering::Relaxed);
            assert!(
                alive <= (CAPACITY + largest) as i64,
                "step {step}: {alive} decoded bytes alive with no page held, capacity {CAPACITY}"
            );
        }
    }
    let stats = cache.stats();
    let total: usize = model.values().map(Vec::len).sum();
    assert!(
        total as u64 > 10 * CAPACITY,
        "the workload is 10x the cache: {total} bytes live in pages"
    );
    assert!(
        stats.evictions > 1_000 && stats.page_ins > 1_000,
        "{stats:?}"
    );
    println!(
        "{total} bytes in pages, capacity {CAPACITY}, most alive before collection {most_garbage}, {stats:?}"
    );
}

#[test]
fn a_scan_of_every_page_does_not_evict_a_small_hot_set() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let live = Arc::new(AtomicI64::new(0));
    let cache = open(&live);
    let allocate = |i: u64| {
        let page = Counted::new(filled(i, 300), &live);
        cache.allocate(page).expect("allocate").pid()
    };
    let cold: Vec<PageId> = (0..2_000).map(allocate).collect();
    // The hot set is written last (so it is resident and was never evicted: only its
    // touches, not a ghost entry, can protect it) and read a few times.
    let hot: Vec<PageId> = (2_000..2_016).map(allocate).collect();
    for _ in 0..4 {
        for &pid in &hot {
            cache.get(pid).expect("get").expect("hot page");
        }
    }
    let before = cache.stats();
    for &pid in &cold {
        cache.get(pid).expect("get").expect("page");
    }
    let scanned = cache.stats();
    for &pid in &hot {
        cache.get(pid).expect("get").expect("hot page");
    }
    let after = cache.stats();
    assert!(
        scanned.evictions - before.evictions > 1_000,
        "the scan evicted pages: {scanned:?}"
    );
    assert_eq!(
        after.page_ins - scanned.page_ins,
        0,
        "the scan evicted hot pages ({after:?})"
    );
}
