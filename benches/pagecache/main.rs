//! The page cache's benchmarks: link and get rates, and their scaling with threads,
//! measured side by side in one run against a baseline each.
//!
//! `cargo bench --bench pagecache` (`scripts/bench.sh` runs it after the log's). Each
//! case alternates its baseline and pagelog `--reps` times (default 5) and prints min
//! / median / max of both and the ratio of medians (pagelog over baseline):
//!
//! - link of a 16-byte delta to one of 1,000 resident pages (a get, then a link), T=1,
//!   against `Log::append` of the same 16 bytes on the same kind of log: what the page
//!   table and the merged cache cost above the log;
//! - get of a resident page, T=1, against a `RwLock<BTreeMap>` lookup that clones an
//!   `Arc` (a plain locked map);
//! - the same at T=2 against T=1 (the scaling; baseline: pagelog at T=1).
//!
//! The targets are printed beside each: link 2 M/s on one thread, get 5 M/s,
//! two threads 1.7x one. Files live under the temporary directory (`--dir D`);
//! nothing is flushed inside the timed loops. `--smoke` runs each case once, small.

// A benchmark measures wall-clock time; the rule against the clock (clippy.toml) is
// for the engine and its simulation, where it would break seed replay.
#![allow(clippy::disallowed_methods)]

#[path = "../log/measure.rs"]
#[allow(dead_code)]
mod measure;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Instant;

use measure::{Row, Samples, print_table};
use pagelog::io::StdStorage;
use pagelog::{Config, Log, Materializer, PageCache, PageId};

/// Pages of bytes; a delta is appended, and a page keeps its last 256 bytes, so pages
/// stay small however many links they take.
struct Bytes;

impl Materializer for Bytes {
    type Page = Vec<u8>;

    fn encode(&self, page: &Vec<u8>) -> Vec<u8> {
        page.clone()
    }

    fn decode(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        Some(bytes.to_vec())
    }

    fn merge(&self, base: &mut Vec<u8>, delta: &Vec<u8>) {
        base.extend_from_slice(delta);
        if base.len() > 256 {
            base.drain(..base.len() - 256);
        }
    }

    fn size_in_bytes(&self, page: &Vec<u8>) -> usize {
        page.len()
    }
}

const PAGES: usize = 1_000;
const DELTA: [u8; 16] = [7; 16];

struct Plan {
    reps: usize,
    root: PathBuf,
    links: usize,
    gets: usize,
}

fn plan() -> Plan {
    let mut p = Plan {
        reps: 5,
        root: std::env::temp_dir(),
        links: 300_000,
        gets: 3_000_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--smoke" => {
                p.reps = 1;
                p.links = 10_000;
                p.gets = 100_000;
            }
            "--reps" => p.reps = args.next().and_then(|v| v.parse().ok()).unwrap_or(5),
            "--dir" => p.root = args.next().map(PathBuf::from).expect("--dir DIR"),
            _ => {} // cargo bench passes --bench
        }
    }
    p
}

/// A page cache in a fresh directory with `PAGES` resident pages.
fn cache(root: &std::path::Path) -> (tempfile::TempDir, PageCache<Bytes>, Vec<PageId>) {
    let dir = tempfile::tempdir_in(root).expect("tempdir");
    let storage = StdStorage::open(dir.path()).expect("storage");
    let pc = PageCache::open(Config::default(), Arc::new(storage), Bytes).expect("open");
    let pids = (0..PAGES)
        .map(|_| pc.allocate(DELTA.to_vec()).expect("allocate").pid())
        .collect();
    (dir, pc, pids)
}

/// Links per second over `threads` threads, `n` links each.
fn links(root: &std::path::Path, threads: usize, n: usize) -> f64 {
    let (_dir, pc, pids) = cache(root);
    let start = Instant::now();
    std::thread::scope(|s| {
        for t in 0..threads {
            let (pc, pids) = (&pc, &pids);
            s.spawn(move || {
                for i in 0..n {
                    // Threads work on their own pages: the scaling measures the
                    // engine, not lost races.
                    let pid = pids[(i * threads + t) % PAGES];
                    let page = pc.get(pid).expect("get").expect("page");
                    pc.link(&page, DELTA.to_vec()).expect("link");
                }
            });
        }
    });
    (threads * n) as f64 / start.elapsed().as_secs_f64()
}

/// Appends per second of the same bytes to a plain log.
fn appends(root: &std::path::Path, n: usize) -> f64 {
    let dir = tempfile::tempdir_in(root).expect("tempdir");
    let storage = StdStorage::open(dir.path()).expect("storage");
    let log = Log::open(Config::default(), Arc::new(storage)).expect("open");
    let start = Instant::now();
    for _ in 0..n {
        log.append(&DELTA).expect("append");
    }
    n as f64 / start.elapsed().as_secs_f64()
}

/// Gets per second of resident pages over `threads` threads, `n` each.
fn gets(root: &std::path::Path, threads: usize, n: usize) -> f64 {
    let (_dir, pc, pids) = cache(root);
    let start = Instant::now();
    let total: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (pc, pids) = (&pc, &pids);
                s.spawn(move || {
                    (0..n)
                        .map(|i| {
                            let pid = pids[(i * threads + t) % PAGES];
                            pc.get(pid).expect("get").expect("page").len()
                        })
                        .sum::<usize>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("getter")).sum()
    });
    assert_eq!(total, threads * n * DELTA.len(), "every get found its page");
    (threads * n) as f64 / start.elapsed().as_secs_f64()
}

/// Gets per second from a locked map of `Arc`s.
fn map_gets(n: usize) -> f64 {
    let map: RwLock<BTreeMap<u64, Arc<Vec<u8>>>> = RwLock::new(
        (0..PAGES as u64)
            .map(|p| (p, Arc::new(DELTA.to_vec())))
            .collect(),
    );
    let start = Instant::now();
    let mut total = 0;
    for i in 0..n {
        let got = map
            .read()
            .expect("lock")
            .get(&((i % PAGES) as u64))
            .cloned();
        total += got.expect("present").len();
    }
    assert_eq!(total, n * DELTA.len());
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let p = plan();
    println!(
        "pagelog page cache benchmarks: {} repetitions, files under {}, load before: {}",
        p.reps,
        p.root.display(),
        measure::load()
    );
    let mut s = [(); 8].map(|()| Samples::default());
    for _ in 0..p.reps {
        s[0].push(appends(&p.root, p.links));
        s[1].push(links(&p.root, 1, p.links));
        s[2].push(map_gets(p.gets));
        s[3].push(gets(&p.root, 1, p.gets));
        s[4].push(links(&p.root, 1, p.links));
        s[5].push(links(&p.root, 2, p.links));
        s[6].push(gets(&p.root, 1, p.gets));
        s[7].push(gets(&p.root, 2, p.gets));
    }
    let [append, link, map, get, link1, link2, get1, get2] = s;
    let row = |case: &str, baseline, pagelog, note: &str| Row {
        case: case.to_string(),
        unit: "ops/s",
        baseline: Some(baseline),
        pagelog,
        note: note.to_string(),
    };
    print_table(&[
        row("link T=1 (vs Log::append)", append, link, "target: 2M/s"),
        row(
            "get resident T=1 (vs RwLock<BTreeMap>)",
            map,
            get,
            "target: 5M/s",
        ),
        row("link T=2 (vs link T=1)", link1, link2, "target: 1.7x"),
        row("get resident T=2 (vs get T=1)", get1, get2, "target: 1.7x"),
    ]);
    println!("load after: {}", measure::load());
}
