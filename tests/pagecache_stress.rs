//! Risk: under real concurrency a lost compare-and-swap leaves its fragment in the
//! log (so the delta comes back twice, or a delta nobody applied comes back after a
//! reopen), or two winners both think they updated the same version.
//!
//! Eight threads link deltas to four shared pages (many lost races, each retried with
//! the delta the loss handed back) and now and then replace a page with its own
//! merged value. Each delta is a number unique to its thread and step. Afterwards
//! every page holds each applied delta exactly once, each thread's deltas in the
//! order it applied them, and no delta that was not applied; then the cache is
//! closed and reopened, and the pages recovered from the log equal the ones in memory.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};

use common::Numbers;
use pagelog::Materializer;
use pagelog::io::SimStorage;
use pagelog::{Config, PageCache, PageCacheStats, Update};

const THREADS: u32 = 8;
const STEPS: u32 = 400;

fn config(capacity: u64) -> Config {
    Config {
        cache_capacity_bytes: capacity,
        segment_size_bytes: 64 << 10,
        io_buf_size_bytes: 16 << 10,
        io_bufs: 4,
        blob_threshold_bytes: 2 << 10,
        consolidate_after_deltas: 6,
        consolidate_after_bytes: 1 << 20,
        ..Config::default()
    }
}

/// The threads' shared rhythm: each run of 20 steps starts at once, and past
/// `STEPS` the threads go on (all or none) until they have lost enough races.
struct Rhythm {
    together: Barrier,
    go: AtomicBool,
    lost: AtomicU64,
}

impl Rhythm {
    /// At a run's start: whether every thread runs it.
    fn next_run(&self, step: u32) -> bool {
        if self.together.wait().is_leader() {
            let raced = self.lost.load(Ordering::SeqCst) > 20;
            let go = step < STEPS || (!raced && step < 20 * STEPS);
            self.go.store(go, Ordering::SeqCst);
        }
        self.together.wait();
        self.go.load(Ordering::SeqCst)
    }
}

/// One thread's work: returns the deltas it applied per page, in order, and how many
/// races it lost.
fn worker(
    pc: &PageCache<Numbers>,
    pids: &[u64],
    t: u32,
    rhythm: &Rhythm,
) -> (BTreeMap<u64, Vec<u32>>, u64) {
    let mut applied: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    let mut lost = 0;
    for step in 0.. {
        // Every thread starts each run of 20 steps at once, so they race even on a
        // busy machine that would otherwise run them one after another; a loaded
        // machine may still serialize them, so they go on until they raced.
        if step % 20 == 0 && !rhythm.next_run(step) {
            break;
        }
        let pid = pids[((step * 7 + t * 3) % pids.len() as u32) as usize];
        let delta = t << 24 | step;
        let mut page = pc.get(pid).expect("get").expect("live");
        loop {
            let u = if step % 50 == 49 {
                // A replace with the page's own value: same content, new base.
                pc.replace(&page, page.value().clone()).expect("replace")
            } else {
                pc.link(&page, vec![delta]).expect("link")
            };
            match u {
                Update::Applied(_) if step % 50 == 49 => break,
                Update::Applied(_) => {
                    applied.entry(pid).or_default().push(delta);
                    break;
                }
                Update::Lost { current, .. } => {
                    lost += 1;
                    rhythm.lost.fetch_add(1, Ordering::Relaxed);
                    page = current.expect("pages are never freed here");
                }
            }
        }
    }
    (applied, lost)
}

#[test]
fn lost_races_leave_nothing_behind_and_a_reopen_equals_memory() {
    let stats = race(4, 1 << 30);
    assert_eq!(stats.evictions, 0, "everything fits: {stats:?}");
}

/// The same races with a cache too small for the pages: page-outs race the links and
/// the gets that read pages back.
#[test]
fn lost_races_and_page_outs_leave_nothing_behind() {
    let stats = race(4, 2 << 10);
    assert!(
        stats.evictions > 100 && stats.page_ins > 100,
        "pages went out and came back: {stats:?}"
    );
}

/// Runs the race on `pages` shared pages with `capacity` bytes of cache; returns the
/// cache's stats before the reopen.
fn race(pages: usize, capacity: u64) -> PageCacheStats {
    let disk = SimStorage::new(5);
    let pc = PageCache::open(config(capacity), Arc::new(disk.clone()), Numbers).expect("open");
    let pids: Vec<u64> = (0..pages)
        .map(|_| pc.allocate(Vec::new()).expect("allocate").pid())
        .collect();
    let rhythm = Rhythm {
        together: Barrier::new(THREADS as usize),
        go: AtomicBool::new(true),
        lost: AtomicU64::new(0),
    };
    let rhythm = &rhythm;
    let (applied, lost): (Vec<_>, Vec<_>) = std::thread::scope(|s| {
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (pc, pids) = (&pc, &pids);
                s.spawn(move || worker(pc, pids, t, rhythm))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .unzip()
    });
    let lost: u64 = lost.iter().sum();
    assert!(lost > 20, "only {lost} lost races: the test did not race");
    let mut memory = BTreeMap::new();
    for &pid in &pids {
        let page = pc.get(pid).expect("get").expect("live").value().clone();
        let mut want: Vec<u32> = applied
            .iter()
            .flat_map(|a| a.get(&pid).cloned().unwrap_or_default())
            .collect();
        let mut have = page.clone();
        want.sort_unstable();
        have.sort_unstable();
        assert_eq!(
            have, want,
            "page {pid}: not exactly the applied deltas, once each"
        );
        for t in 0..THREADS {
            let mine: Vec<u32> = page.iter().copied().filter(|d| d >> 24 == t).collect();
            assert!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "page {pid}: thread {t} out of order"
            );
        }
        memory.insert(pid, page);
    }
    let stats = pc.stats();
    assert!(
        stats.lost_swaps > 0,
        "no swap lost after reserving: {stats:?}"
    );
    // No lost race left a fragment: every Append in the log is an applied delta, once.
    let applied_all: std::collections::BTreeSet<u32> = applied
        .iter()
        .flat_map(|a| a.values().flatten().copied())
        .collect();
    let mut seen = std::collections::BTreeSet::new();
    for m in pc.log().iter_from(0).expect("iter") {
        let m = m.expect("message");
        if m.kind != pagelog::Kind::Append {
            continue;
        }
        let delta = Numbers.decode(&m.value).expect("a delta");
        for d in delta {
            assert!(
                applied_all.contains(&d),
                "delta {d:#x} in the log was never applied"
            );
            assert!(seen.insert(d), "delta {d:#x} twice in the log");
        }
    }
    pc.close().expect("close");
    let pc = PageCache::open(config(capacity), Arc::new(disk.crash()), Numbers).expect("reopen");
    for (pid, page) in memory {
        let got = pc.get(pid).expect("get").expect("live");
        assert!(
            got.value() == &page,
            "page {pid} after the reopen differs from memory"
        );
    }
    stats
}
