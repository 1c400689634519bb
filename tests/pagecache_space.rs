//! Risk: disk use that only grows. sled's users' most frequent complaint was a store
//! 2.4x to 60x its live data (sled 0.34 measured 2.4-2.6x under steady updates). In
//! Gc mode a page that stops changing pins the segment it sits in, however little
//! else is live there, until garbage collection rewrites it (`pagecache/gc.rs`).
//!
//! A steady skewed workload (10,000 pages, 20 rewrites per page on average, four in
//! five to the hottest fifth of the pages) runs with inline garbage collection every
//! 400 updates (`gc_every_updates`; no `maintenance()` call of its own);
//! every 5,000 the log file is measured against the live bytes (each page's newest
//! value and its 28-byte message header). With `cleanup_threshold_pct = 80` the file
//! must stay under 1.5x the live bytes at every checkpoint, for each of four seeds
//! (the worst checkpoint moves by a segment's share from seed to seed). The ratio
//! trades against the rewrites garbage collection writes; the Config docs state the
//! measurements per threshold.
//!
//! Then half the pages are freed and `compact()` runs: the file must come under 1.5x
//! of the live bytes of the pages left (the freed ids' Free records are dropped once
//! no older message of their page is left and a snapshot passed them), and every
//! page must read back unchanged. Printed with `--nocapture`.

mod common;

use std::sync::Arc;

use common::Numbers;
use pagelog::io::SimStorage;
use pagelog::{Config, LOG_FILE, PageCache, PageRef, Update};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const PAGES: usize = 10_000;
const REWRITES_PER_PAGE: usize = 20;
const CHECK_EVERY: usize = 5_000;
/// Garbage collection in small steps: every 5,000 updates reached 2.98x at 70%.
const MAINTAIN_EVERY: u64 = 400;
/// Every message's header.
const HEADER: u64 = 28;

fn config() -> Config {
    Config::for_simulation()
        .segment_size(64 << 10)
        .io_buf_size(16 << 10)
        .cleanup_threshold_pct(80)
        .cache_capacity(1 << 20)
        .gc_every(MAINTAIN_EVERY)
}

/// The bytes a perfectly compact log would hold: each page's newest value (Numbers
/// encodes 4 bytes per number) and its message header.
fn live_bytes(pages: &[Option<PageRef<Vec<u32>>>]) -> u64 {
    pages
        .iter()
        .flatten()
        .map(|p| HEADER + 4 * p.value().len() as u64)
        .sum()
}

fn file_bytes(disk: &SimStorage) -> u64 {
    disk.read_file(LOG_FILE).expect("the log").len() as u64
}

/// A page value of 10 to 40 numbers.
fn value(rng: &mut ChaCha8Rng) -> Vec<u32> {
    let n = rng.random_range(10..40);
    (0..n).map(|_| rng.random()).collect()
}

/// A store after the steady workload of `seed`, with its pages.
struct Steady {
    disk: SimStorage,
    pc: PageCache<Numbers>,
    pages: Vec<Option<PageRef<Vec<u32>>>>,
}

/// Runs the steady workload of `seed` and asserts the file stayed under 1.5x its
/// live bytes at every checkpoint.
fn steady(seed: u64) -> Steady {
    let disk = SimStorage::new(seed);
    let pc = PageCache::open(config(), Arc::new(disk.clone()), Numbers).expect("open");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pages: Vec<Option<PageRef<Vec<u32>>>> = (0..PAGES)
        .map(|_| Some(pc.allocate(value(&mut rng)).expect("allocate")))
        .collect();
    pc.flush().expect("flush");
    let mut worst: f64 = 0.0;
    for step in 1..=PAGES * REWRITES_PER_PAGE {
        // Four updates in five go to the hottest fifth of the pages.
        let i = if rng.random_bool(0.8) {
            rng.random_range(0..PAGES / 5)
        } else {
            rng.random_range(0..PAGES)
        };
        let page = pages[i].take().expect("page");
        let Update::Applied(Some(next)) = pc.replace(&page, value(&mut rng)).expect("replace")
        else {
            panic!("one writer: every replace applies");
        };
        pages[i] = Some(next);
        if step % CHECK_EVERY == 0 {
            pc.flush().expect("flush");
            let ratio = file_bytes(&disk) as f64 / live_bytes(&pages) as f64;
            worst = worst.max(ratio);
            if step % (CHECK_EVERY * 8) == 0 {
                let s = pc.log().stats();
                eprintln!(
                    "after {step} updates: file / live = {ratio:.2}; segments in use {} of {} slots",
                    s.segments_in_use, s.segment_slots
                );
            }
        }
    }
    let stats = pc.stats();
    let updates = (PAGES * REWRITES_PER_PAGE) as f64;
    eprintln!(
        "seed {seed}: worst file / live {worst:.2} over {} checkpoints; {:.2} GC rewrites per update",
        PAGES * REWRITES_PER_PAGE / CHECK_EVERY,
        stats.gc_rewrites as f64 / updates
    );
    assert!(stats.gc_rewrites > 0, "garbage collection never ran");
    assert!(
        worst < 1.5,
        "seed {seed}: file / live bytes reached {worst:.2}"
    );
    Steady { disk, pc, pages }
}

#[test]
fn a_steady_skewed_workload_keeps_the_file_near_its_live_bytes_on_every_seed() {
    for seed in [12, 13, 14] {
        steady(seed);
    }
}

#[test]
fn a_steady_skewed_workload_keeps_the_file_near_its_live_bytes() {
    let Steady {
        disk,
        pc,
        mut pages,
    } = steady(11);

    let mut freed = 0;
    for slot in pages.iter_mut().step_by(2) {
        let page = slot.take().expect("page");
        assert!(pc.free(&page).expect("free").is_applied());
        freed += 1;
    }
    let live = live_bytes(&pages) as f64;
    let before = file_bytes(&disk) as f64 / live;
    let moved = pc.compact().expect("compact");
    let after = file_bytes(&disk) as f64 / live;
    let dropped = pc.stats().free_records_dropped;
    eprintln!(
        "half the pages freed: file / live = {before:.2}; after compact() {after:.2} ({moved} pages rewritten, {dropped} of {freed} Free records dropped)"
    );
    assert!(
        after < 1.5,
        "after compact(), file / live bytes = {after:.2}"
    );
    assert_eq!(dropped, freed, "every freed id's Free record can go");
    assert_eq!(pc.maintenance().expect("maintenance"), 0, "still draining");
    for p in pages.iter().flatten() {
        let got = pc.get(p.pid()).expect("get").expect("page");
        assert_eq!(got.value(), p.value(), "page {} changed", p.pid());
    }
}

/// A newcomer's trial: right after a bulk delete, with nothing written since,
/// `compact()` found nothing draining (the frees were not yet vouched by a segment
/// header) and returned 0, even after a reopen; the file kept its size.
#[test]
fn compact_right_after_a_bulk_delete_shrinks_the_file() {
    let disk = SimStorage::new(12);
    let pc = PageCache::open(config(), Arc::new(disk.clone()), Numbers).expect("open");
    let pages: Vec<_> = (0..4000u32)
        .map(|i| pc.allocate(vec![i; 75]).expect("allocate"))
        .collect();
    pc.flush().expect("flush");
    for p in pages.iter().filter(|p| p.pid() % 4 != 0) {
        assert!(pc.free(p).expect("free").is_applied());
    }
    pc.flush().expect("flush");
    let before = file_bytes(&disk);
    let moved = pc.compact().expect("compact");
    let after = file_bytes(&disk);
    eprintln!(
        "bulk delete of 3 in 4 pages: {before} B, after compact() {after} B ({moved} rewritten)"
    );
    assert!(moved > 0 && after * 2 < before, "{before} B -> {after} B");
    for p in pages.iter().filter(|p| p.pid() % 4 == 0) {
        assert_eq!(
            pc.get(p.pid()).expect("get").expect("page").value(),
            p.value()
        );
    }
}

/// Runs `updates` skewed replaces over `pages` pages under `config`, flushing every
/// 100; returns the log file's size and the GC rewrites.
fn churn(config: Config, pages: usize, updates: usize) -> (u64, u64) {
    let disk = SimStorage::new(5);
    let pc = PageCache::open(config, Arc::new(disk.clone()), Numbers).expect("open");
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut live: Vec<PageRef<Vec<u32>>> = (0..pages)
        .map(|_| pc.allocate(value(&mut rng)).expect("allocate"))
        .collect();
    for step in 0..updates {
        let i = if rng.random_bool(0.8) {
            rng.random_range(0..pages / 5)
        } else {
            rng.random_range(0..pages)
        };
        let Update::Applied(Some(next)) = pc.replace(&live[i], value(&mut rng)).expect("replace")
        else {
            panic!("one writer: every replace applies");
        };
        live[i] = next;
        if step % 100 == 99 {
            pc.flush().expect("flush");
        }
    }
    pc.flush().expect("flush");
    for p in &live {
        assert_eq!(
            pc.get(p.pid()).expect("get").expect("live").value(),
            p.value()
        );
    }
    (file_bytes(&disk), pc.stats().gc_rewrites)
}

#[test]
fn inline_garbage_collection_bounds_the_file_without_a_call_and_is_off_at_zero() {
    let base = || config().gc_every(0);
    let (off_bytes, off_rewrites) = churn(base(), 2_000, 40_000);
    let (on_bytes, on_rewrites) = churn(base().gc_every(300), 2_000, 40_000);
    eprintln!(
        "no GC: {off_bytes} B; inline GC every 300 updates: {on_bytes} B, {on_rewrites} rewrites"
    );
    assert_eq!(off_rewrites, 0, "gc_every_updates = 0 still collected");
    assert!(on_rewrites > 0, "inline GC never ran");
    assert!(
        on_bytes * 2 < off_bytes,
        "inline GC left {on_bytes} B against {off_bytes} B without it"
    );
}
