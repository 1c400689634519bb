//! The kill -9 test for the page cache: a real process updating pages in real files
//! is killed at random moments, and every restart must recover the pages as they
//! were after some prefix of the operations the child performed, at least every
//! operation it acknowledged, with batches whole and ids never repeating (I1, I2,
//! I5, I6).
//!
//! Its own test binary (`harness = false`), like `crash_recovery.rs`. Run by
//! `cargo test` (30 kill cycles), or alone with more:
//!
//! ```text
//! cargo test --release --test crash_pagecache -- --cycles 300 --seed 7
//! ```
//!
//! Each cycle the parent starts this binary as a child (`PAGELOG_KILL_PAGECACHE=1`),
//! which opens the page cache in the temporary directory with `StdStorage` and runs
//! a workload drawn from the seed and the cycle: links of unique numbers to eight
//! pages, replaces, atomic batches of two links, `generate_id`, flushes and a small
//! cache (pages go out and come back). Its reports, one `write` each:
//!
//! - `done <i>`: operation `i` returned (for `generate_id`: `id <i> <id>`);
//! - `ack <i>`: a flush returned Ok after operation `i - 1`: operations below `i`
//!   are durable.
//!
//! The workload does not depend on page contents, so the parent, which knows the
//! pages it recovered at the end of the last cycle, can compute the pages after
//! every prefix of this cycle's operations. After the kill it reopens the page cache
//! and requires the recovered pages to equal one of those states, at or past the
//! last acknowledged prefix. While the child runs, the parent's own open must be
//! refused with `Error::Locked`. Mutation tried: `PageCache::flush` returning Ok
//! without flushing fails the first cycle that kills after an ack with the pages
//! behind it.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::Numbers;
use pagelog::io::StdStorage;
use pagelog::{BatchUpdate, Config, Error, PageBatch, PageCache, Update};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CHILD_ENV: &str = "PAGELOG_KILL_PAGECACHE";
const DEFAULT_CYCLES: u64 = 30;
const PAGES: u64 = 8;
const OPS: usize = 400;

fn config() -> Config {
    Config {
        cache_capacity_bytes: 2 << 10,
        consolidate_after_deltas: 4,
        ..Config::default()
            .segment_size(64 << 10)
            .io_buf_size(8 << 10)
    }
}

/// One operation on the pages `4..4 + PAGES`; `n` is unique to the cycle and step.
#[derive(Debug, Clone, Copy)]
enum Op {
    Link { page: u64, n: u32 },
    Replace { page: u64, n: u32 },
    Batch { a: u64, b: u64, n: u32 },
    GenerateId,
    Flush,
}

fn workload(seed: u64, cycle: u32) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(cycle) << 32));
    (0..OPS)
        .map(|i| {
            let n = cycle << 16 | i as u32;
            let page = 4 + rng.random_range(0..PAGES);
            match rng.random_range(0..20) {
                0..=10 => Op::Link { page, n },
                11 | 12 => Op::Replace { page, n },
                13..=15 => Op::Batch {
                    a: page,
                    b: 4 + (page - 4 + 1 + rng.random_range(0..PAGES - 1)) % PAGES,
                    n,
                },
                16 => Op::GenerateId,
                _ => Op::Flush,
            }
        })
        .collect()
}

type Pages = BTreeMap<u64, Vec<u32>>;

/// The pages after `op`.
fn apply(pages: &mut Pages, op: Op) {
    match op {
        Op::Link { page, n } => pages.entry(page).or_default().push(n),
        Op::Replace { page, n } => {
            pages.insert(page, vec![n]);
        }
        Op::Batch { a, b, n } => {
            pages.entry(a).or_default().push(n);
            pages.entry(b).or_default().push(n);
        }
        Op::GenerateId | Op::Flush => {}
    }
}

// ---------------------------------------------------------------- the child

fn report(text: &str) {
    let mut out = std::io::stdout().lock();
    out.write_all(format!("{text}\n").as_bytes())
        .and_then(|()| out.flush())
        .expect("report pipe");
}

fn open(dir: &Path) -> pagelog::Result<PageCache<Numbers>> {
    PageCache::open(config(), Arc::new(StdStorage::open(dir)?), Numbers)
}

fn child(dir: &Path, seed: u64, cycle: u32) {
    let pc = open(dir).expect("child: open");
    for page in 4..4 + PAGES {
        if pc.get(page).expect("child: get").is_none() {
            assert_eq!(
                pc.allocate(Vec::new()).expect("child: allocate").pid(),
                page
            );
        }
    }
    pc.flush().expect("child: flush");
    report("ready");
    for (i, op) in workload(seed, cycle).into_iter().enumerate() {
        match op {
            Op::Link { page, n } => update(&pc, page, |pc, p| pc.link(p, vec![n])),
            Op::Replace { page, n } => update(&pc, page, |pc, p| pc.replace(p, vec![n])),
            Op::Batch { a, b, n } => {
                let (pa, pb) = (get(&pc, a), get(&pc, b));
                let mut batch = PageBatch::new();
                batch.link(&pa, vec![n]).link(&pb, vec![n]);
                let applied = pc.apply(batch).expect("child: apply");
                assert!(
                    matches!(applied, BatchUpdate::Applied(_)),
                    "one thread lost"
                );
            }
            Op::GenerateId => {
                let id = pc.generate_id().expect("child: id");
                report(&format!("id {i} {id}"));
                continue;
            }
            Op::Flush => {
                pc.flush().expect("child: flush");
                report(&format!("ack {i}"));
                continue;
            }
        }
        report(&format!("done {i}"));
    }
    // Wait for the kill: the parent kills every child.
    loop {
        std::thread::park();
    }
}

fn get(pc: &PageCache<Numbers>, pid: u64) -> pagelog::PageRef<Vec<u32>> {
    pc.get(pid)
        .expect("child: get")
        .expect("child: a live page")
}

fn update(
    pc: &PageCache<Numbers>,
    pid: u64,
    f: impl Fn(
        &PageCache<Numbers>,
        &pagelog::PageRef<Vec<u32>>,
    ) -> pagelog::Result<Update<Vec<u32>, Vec<u32>>>,
) {
    let page = get(pc, pid);
    let u = f(pc, &page).expect("child: update");
    assert!(u.is_applied(), "one thread's update lost");
}

// ---------------------------------------------------------------- the parent

/// What one child reported.
#[derive(Debug, Default)]
struct Heard {
    lines: usize,
    /// Operations below this were acknowledged durable.
    acked: usize,
    ids: Vec<u64>,
}

fn kill_cycle(dir: &Path, seed: u64, cycle: u32, kill_after: usize) -> Heard {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env(CHILD_ENV, "1")
        .arg(dir)
        .arg(seed.to_string())
        .arg(cycle.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut heard = Heard::default();
    let take = |line: &str, heard: &mut Heard| {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["ready"] | ["done", _] => {}
            ["ack", i] => heard.acked = i.parse::<usize>().expect("ack") + 1,
            ["id", _, id] => heard.ids.push(id.parse().expect("id")),
            _ => panic!("seed {seed} cycle {cycle}: bad report {line:?}"),
        }
        heard.lines += 1;
    };
    while heard.lines < kill_after {
        match lines.next() {
            Some(line) => take(&line.expect("read pipe"), &mut heard),
            None => break,
        }
    }
    if heard.lines > 0 {
        match open(dir) {
            Err(Error::Locked { .. }) => {}
            other => panic!(
                "seed {seed} cycle {cycle}: an open beside the child gave {:?}",
                other.map(|_| ())
            ),
        }
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reap child");
    for line in lines {
        take(&line.expect("drain pipe"), &mut heard);
    }
    heard
}

/// The recovered pages, which must be the state after some prefix of this cycle's
/// operations at or past the acknowledged one; returns them.
fn check(dir: &Path, prev: &Pages, ops: &[Op], heard: &Heard) -> Result<Pages, String> {
    let pc = open(dir).map_err(|e| format!("reopen: {e}"))?;
    let mut got = Pages::new();
    for page in 4..4 + PAGES {
        if let Some(p) = pc.get(page).map_err(|e| format!("get {page}: {e}"))? {
            got.insert(page, p.value().clone());
        }
    }
    pc.close().map_err(|e| format!("close: {e}"))?;
    let mut state = prev.clone();
    if heard.lines == 0 {
        // Killed before "ready": at most some of the missing pages were created.
        let kept = prev.iter().all(|(p, v)| got.get(p) == Some(v));
        let created = got
            .iter()
            .all(|(p, v)| prev.contains_key(p) || v.is_empty());
        return if kept && created {
            Ok(got)
        } else {
            Err(format!(
                "killed while creating pages, recovered {got:?} from {prev:?}"
            ))
        };
    }
    for page in 4..4 + PAGES {
        state.entry(page).or_default();
    }
    for (i, &op) in ops.iter().enumerate() {
        if i >= heard.acked && state == got {
            return Ok(got);
        }
        apply(&mut state, op);
    }
    if state == got {
        return Ok(got);
    }
    Err(format!(
        "recovered pages are no state at or past operation {} (pages: {got:?})",
        heard.acked
    ))
}

fn flag(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} {v}: not a number"))
        })
}

fn parent(args: &[String]) {
    let cycles = flag(args, "--cycles", DEFAULT_CYCLES);
    let seed = flag(args, "--seed", 1);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pages = Pages::new();
    let mut top_id: Option<u64> = None;
    let (mut acked_ops, mut deltas) = (0, 0);
    for cycle in 1..=u32::try_from(cycles).expect("cycles") {
        let kill_after = rng.random_range(1..300);
        let heard = kill_cycle(dir.path(), seed, cycle, kill_after);
        for &id in &heard.ids {
            assert!(
                top_id.is_none_or(|top| id > top),
                "seed {seed} cycle {cycle}: id {id} after {top_id:?} (I6)"
            );
            top_id = Some(id);
        }
        let ops = workload(seed, cycle);
        pages = check(dir.path(), &pages, &ops, &heard).unwrap_or_else(|e| {
            panic!("seed {seed} cycle {cycle} (kill after {kill_after} lines): {e}")
        });
        acked_ops += heard.acked;
        deltas = pages.values().map(Vec::len).sum::<usize>();
    }
    assert!(
        acked_ops > 0,
        "no cycle acknowledged anything: the test checked little"
    );
    println!(
        "crash_pagecache: {cycles} kill -9 cycles (seed {seed}), {acked_ops} operations acknowledged, {deltas} numbers in the pages at the end: ok"
    );
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os(CHILD_ENV).is_some() {
        let cycle = args[3].parse().expect("cycle");
        child(Path::new(&args[1]), args[2].parse().expect("seed"), cycle);
        return;
    }
    parent(&args[1..]);
}
