//! The failpoint crash suite: cut the power at every storage call the engine makes.
//!
//! Run with `cargo test --features failpoints --test failpoints` (CI does). One fixed,
//! seeded workload runs over a fault-free `SimStorage` in Gc mode with small segments,
//! so that it writes and removes blobs, aborts, seals batches, flushes, reads, drains
//! and releases segments and cuts the file's free tail; it also cuts the power at a
//! few scripted moments (between steps, and inside a flush via the disk's countdown)
//! so that recoveries find torn tails to zero, and it closes or drops the log (a
//! failpoint may cut the closing flush) before a power cut and a reopen. After every power cut the log is
//! reopened and the simulator's oracle (`pagelog::simulation::Model`) checks what it
//! recovered (I1, I2, I5, I6).
//!
//! The suite first runs the workload once with every failpoint counting its hits, and
//! asserts that every name in `pagelog::failpoints::REGISTRY` was hit. Then, for each
//! failpoint and each k from 1 to [`HITS_PER_POINT`] (or its hit count, if lower), it
//! reruns the workload and cuts the power exactly at that point's k-th hit: the storage
//! call about to happen fails, and so does every later call until the crash resolves
//! which unsynced writes survive. The engine must return errors (never panic), and
//! the recovery that follows, itself possibly crashed again by a scripted cut, must
//! satisfy the oracle. Every error the workload sees must come from a cut power: an
//! error on a live disk fails the suite.
//!
//! `PAGELOG_FAILPOINT_HITS` (default 8) and `PAGELOG_FAILPOINT_SEEDS` (default 12
//! workloads) widen the search. The default runs about 4,090 power cuts in ~17 s (2,850 of them
//! for the log workloads). With 30 seeds and 16 hits
//! (13,800 cuts, ~35 s) it found a hang: make_stable below a sealed batch that shared
//! its buffer waited for a write no one would make (now
//! `tests/log_edges.rs::make_stable_below_a_sealed_batch_...`).
//!
//! Mutations tried, each caught:
//! - `Log::open` zeroing what recovery cut off after writing the new segment header
//!   instead of before: the cut at `erase::zero::sync` hit 1 leaves a header vouching
//!   for garbage, and the next open fails with Corruption on a live disk;
//! - the buffer write-out without its fsync: I1 (acknowledged message lost) at the
//!   first scripted power cut;
//! - a blob write without its directory sync: I2 (the blob's message recovered
//!   without its file, so the prefix breaks);
//! - `Log::close`/`Drop` without the closing flush: I1 at the first `Close` step (the
//!   messages a close on a live disk made durable are gone after the power cut).
//!
//! - (page cache) `pagecache.conf` renamed into place without its sync: a cut
//!   leaves an empty settings file beside a log, and the next open fails with
//!   Corruption on a live disk;
//! - (page cache) `generate_id` handing out ids before its lease is durable: an id
//!   repeats after a cut (I6).
//!
//! Then the same for a page-cache workload (`tests/failpoints_pagecache/`, one seed for
//! every three log seeds): every failpoint, the page cache's own and the log's beneath
//! it, is cut at on its first hits, and each recovery is checked against a model of
//! pages, roots and ids.
//!
//! The `fail` registry is process-wide: its tests serialize through `FailScenario`.
#![cfg(feature = "failpoints")]

mod failpoints_pagecache;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pagelog::LOG_FILE;
use pagelog::failpoints::REGISTRY;
use pagelog::io::{OpenMode, SimStorage, Storage};
use pagelog::simulation::{Invariant, Model};
use pagelog::{Config, Error, Kind, Log, Pointer, SegmentMode};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Each failpoint is crashed at on its 1st to this many hits (more with
/// `PAGELOG_FAILPOINT_HITS`).
const HITS_PER_POINT: u64 = 8;
/// The workloads' seeds (more with `PAGELOG_FAILPOINT_SEEDS`) and length.
const SEED: u64 = 0x5EED_F417;
const SEEDS: u64 = 12;
const STEPS: usize = 300;

type Hits = Arc<Mutex<BTreeMap<&'static str, u64>>>;

fn config() -> Config {
    Config {
        segment_size_bytes: 512,
        io_buf_size_bytes: 512,
        io_bufs: 3,
        blob_threshold_bytes: 96,
        segment_mode: SegmentMode::Gc,
        cleanup_threshold_pct: 40,
        ..Config::default()
    }
}

#[derive(Debug, Clone, Copy)]
enum Op {
    /// Replace page `pid` with a value of `len` bytes (a blob above 96).
    Put {
        pid: u64,
        len: usize,
    },
    /// Reserve and abort (a blob above 96).
    Abort {
        len: usize,
    },
    /// A batch of `n` Appends.
    Batch {
        n: usize,
    },
    Flush,
    /// make_stable on the newest message written in this incarnation.
    Stable,
    /// Read the newest durable value of `pid` through its pointer.
    Read {
        pid: u64,
    },
    /// Cut the power between steps.
    Crash,
    /// Close the log (`close`, or a plain drop if `drop`), whose flush a failpoint may
    /// cut; if it ran on a live disk every completed message is durable; then cut the
    /// power and reopen.
    Close {
        drop: bool,
    },
    /// Cut the power after `calls` more storage calls, then flush.
    CutDuringFlush {
        calls: u64,
    },
}

fn workload(seed: u64) -> Vec<Op> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let len = |rng: &mut ChaCha8Rng| {
        if rng.random_bool(0.2) {
            rng.random_range(97..300)
        } else {
            rng.random_range(1..90)
        }
    };
    (0..STEPS)
        .map(|_| match rng.random_range(0..100) {
            0..50 => Op::Put {
                pid: rng.random_range(0..6),
                len: len(&mut rng),
            },
            50..58 => Op::Abort { len: len(&mut rng) },
            58..64 => Op::Batch {
                n: rng.random_range(1..4),
            },
            64..76 => Op::Flush,
            76..82 => Op::Stable,
            82..90 => Op::Read {
                pid: rng.random_range(0..6),
            },
            90..93 => Op::Crash,
            93..95 => Op::Close {
                drop: rng.random_bool(0.5),
            },
            _ => Op::CutDuringFlush {
                calls: rng.random_range(1..5),
            },
        })
        .collect()
}

/// A value that names its step, so no two values collide.
fn value(step: usize, len: usize) -> Vec<u8> {
    (0..len).map(|i| (step * 31 + i * 7) as u8).collect()
}

/// One run of the workload, with at most one armed failpoint crash.
struct Run {
    /// The disk now running (replaced at every power cut); the callbacks reach it here.
    disk: Arc<Mutex<SimStorage>>,
    model: Model,
    /// The newest pointer of each page written in this incarnation.
    latest: BTreeMap<u64, Pointer>,
    at: usize,
    label: String,
}

impl Run {
    /// Odd seeds start from an all-zero `log` file (a file a user created empty), which
    /// the first open checks byte by byte and replaces with a new log.
    fn new(seed: u64, label: String) -> Run {
        let disk = SimStorage::new(seed);
        if seed % 2 == 1 {
            let f = disk.open(LOG_FILE, OpenMode::Create).expect("create");
            f.write_at(&[0; 700], 0).expect("zeros");
            f.sync().expect("sync");
            disk.sync_dir().expect("sync dir");
        }
        Run {
            disk: Arc::new(Mutex::new(disk)),
            model: Model::default(),
            latest: BTreeMap::new(),
            at: 0,
            label,
        }
    }

    fn current(&self) -> SimStorage {
        self.disk.lock().expect("disk slot").clone()
    }

    fn power_cut(&mut self) {
        let mut d = self.disk.lock().expect("disk slot");
        *d = d.crash();
        self.latest.clear();
    }

    /// Runs the workload to its end and checks the final recovery.
    fn run(&mut self, ops: &[Op]) {
        loop {
            let disk = self.current();
            let log = match Log::open(config(), Arc::new(disk.clone())) {
                Ok(log) => log,
                Err(e) => {
                    assert!(
                        disk.is_crashed(),
                        "{}: open failed on a live disk: {e}",
                        self.label
                    );
                    self.power_cut();
                    continue;
                }
            };
            // A second log on the same disk, while this one lives, is refused.
            let second = Log::open(config(), Arc::new(disk.clone()));
            assert!(
                matches!(second, Err(Error::Locked { .. })),
                "{}: a second log opened the disk: {second:?}",
                self.label
            );
            if !self.check(&log, &disk) {
                log.abandon();
                self.power_cut();
                continue;
            }
            if self.at == ops.len() {
                return;
            }
            match self.incarnation(&log, &disk, ops) {
                Some(Op::Close { drop }) => self.close(log, &disk, drop),
                _ => log.abandon(),
            }
            self.power_cut();
        }
    }

    /// Checks a fresh recovery; false if the power was cut while reading it back.
    fn check(&mut self, log: &Log, disk: &SimStorage) -> bool {
        match self.model.check_recovered(log, SegmentMode::Gc) {
            Ok(()) => true,
            Err(v) if v.invariant == Invariant::Read && disk.is_crashed() => {
                let tip = log.recovery().tip;
                if let Err(v) = self.model.recovered_unread(tip) {
                    panic!("{}: step {}: {v}", self.label, self.at);
                }
                false
            }
            Err(v) => panic!("{}: step {}: {v}", self.label, self.at),
        }
    }

    /// Closes (or drops) the log; a close that ran on a live disk made every completed
    /// message durable.
    fn close(&mut self, log: Log, disk: &SimStorage, drop_it: bool) {
        let closed = if drop_it {
            drop(log);
            Ok(())
        } else {
            log.close()
        };
        if disk.is_crashed() {
            return;
        }
        if let Err(e) = closed {
            panic!("{}: close failed on a live disk: {e}", self.label);
        }
        if let Some((&last, _)) = self.model.completed.last_key_value() {
            self.model.ack(last + 1);
        }
    }

    /// Runs steps until a scripted crash or close (returned), or an error (which must
    /// come from a cut).
    fn incarnation(&mut self, log: &Log, disk: &SimStorage, ops: &[Op]) -> Option<Op> {
        while self.at < ops.len() {
            let op = ops[self.at];
            self.at += 1;
            if let Op::Crash | Op::Close { .. } = op {
                return Some(op);
            }
            if let Op::CutDuringFlush { calls } = op {
                disk.crash_after(calls);
            }
            if let Err(e) = self.step(log, op) {
                assert!(
                    disk.is_crashed(),
                    "{}: step {} ({op:?}) failed on a live disk: {e}",
                    self.label,
                    self.at - 1
                );
                return None;
            }
        }
        None
    }

    fn step(&mut self, log: &Log, op: Op) -> Result<(), Error> {
        let step = self.at - 1;
        match op {
            Op::Put { pid, len } => {
                let v = value(step, len);
                let r = log.reserve(Kind::Replace, pid, &v)?;
                self.reserved(r.lsn());
                let lsn = r.lsn();
                let done = r.complete();
                self.model.complete(lsn, (Kind::Replace, pid, v));
                self.latest.insert(pid, done?);
            }
            Op::Abort { len } => {
                let r = log.reserve(Kind::Replace, 99, &value(step, len))?;
                self.reserved(r.lsn());
                self.model.aborted.insert(r.lsn());
                r.abort()?;
            }
            Op::Batch { n } => self.batch(log, step, n)?,
            Op::Flush | Op::CutDuringFlush { .. } => {
                let target = log.flush()?;
                self.model.ack(target);
            }
            Op::Stable => {
                if let Some(lsn) = self.latest.values().map(|p| p.lsn).max() {
                    log.make_stable(lsn)?;
                    self.model.ack(lsn + 1);
                }
            }
            Op::Read { pid } => self.read(log, pid)?,
            Op::Crash | Op::Close { .. } => unreachable!("handled by the incarnation"),
        }
        Ok(())
    }

    fn batch(&mut self, log: &Log, step: usize, n: usize) -> Result<(), Error> {
        let mut b = log.pin_batch()?;
        let manifest = b.lsn();
        self.reserved(manifest);
        let mut members = Vec::new();
        let mut outcome = Ok(());
        for j in 0..n {
            let pid = 200 + j as u64;
            let v = value(step * 8 + j, 40);
            let r = match b.reserve(Kind::Append, pid, &v) {
                Ok(r) => r,
                Err(e) => {
                    outcome = Err(e);
                    break;
                }
            };
            self.reserved(r.lsn());
            members.push(r.lsn());
            let lsn = r.lsn();
            let done = r.complete();
            self.model.complete(lsn, (Kind::Append, pid, v));
            if let Err(e) = done {
                outcome = Err(e);
                break;
            }
        }
        self.model.batches.push((manifest, members));
        outcome?;
        b.seal().map(|_| ())
    }

    fn read(&mut self, log: &Log, pid: u64) -> Result<(), Error> {
        let Some(&ptr) = self.latest.get(&pid) else {
            return Ok(());
        };
        if ptr.lsn >= log.stable_lsn() {
            return Ok(());
        }
        let got = log.read(ptr)?;
        let want = &self.model.completed[&ptr.lsn];
        assert_eq!(
            (got.kind, got.pid, &got.value),
            (want.0, want.1, &want.2),
            "{}: read of {ptr:?} returned other bytes",
            self.label
        );
        // A pointer into the message's middle names no message: the read scans the
        // segment to tell that from damage (`handle::read::scan`).
        let inside = pagelog::Pointer {
            lsn: ptr.lsn + 1,
            file_offset: ptr.file_offset + 1,
        };
        match log.read(inside) {
            Err(Error::InvalidArgument(_)) => Ok(()),
            Err(e @ (Error::Io { .. } | Error::Poisoned { .. })) => Err(e),
            other => panic!(
                "{}: a pointer inside a message read as {other:?}",
                self.label
            ),
        }
    }

    fn reserved(&mut self, lsn: u64) {
        if let Err(v) = self.model.reserved(lsn) {
            panic!("{}: step {}: {v}", self.label, self.at);
        }
    }
}

/// Installs a callback on every failpoint: count the hit and, on the armed point's
/// `k`-th hit, cut the power before the storage call it guards.
fn install(disk: &Arc<Mutex<SimStorage>>, hits: &Hits, armed: Option<(&'static str, u64)>) {
    for &name in REGISTRY {
        let (disk, hits) = (Arc::clone(disk), Arc::clone(hits));
        fail::cfg_callback(name, move || {
            let n = {
                let mut h = hits.lock().expect("hits");
                let n = h.entry(name).or_insert(0);
                *n += 1;
                *n
            };
            if armed == Some((name, n)) {
                disk.lock().expect("disk slot").crash_after(0);
            }
        })
        .expect("configure failpoint");
    }
}

fn run_once(
    seed: u64,
    ops: &[Op],
    armed: Option<(&'static str, u64)>,
) -> BTreeMap<&'static str, u64> {
    let label = match armed {
        Some((name, k)) => format!("seed {seed:#x}: crash at {name} hit {k}"),
        None => format!("seed {seed:#x}: no failpoint crash"),
    };
    let mut run = Run::new(seed, label);
    let hits = Hits::default();
    install(&run.disk, &hits, armed);
    run.run(ops);
    hits.lock().expect("hits").clone()
}

fn run_pagecache_once(
    seed: u64,
    ops: &[failpoints_pagecache::Op],
    armed: Option<(&'static str, u64)>,
) -> BTreeMap<&'static str, u64> {
    let label = match armed {
        Some((name, k)) => format!("page cache seed {seed:#x}: crash at {name} hit {k}"),
        None => format!("page cache seed {seed:#x}: no failpoint crash"),
    };
    let mut run = failpoints_pagecache::Run::new(seed, label);
    let hits = Hits::default();
    install(&run.disk, &hits, armed);
    run.run(ops);
    if armed.is_none() {
        // The cuts land inside garbage collection rounds and snapshots only if the
        // workload runs them.
        assert!(
            run.gc_rewrites > 0 && run.snapshots > 0,
            "seed {seed:#x}: {} GC rewrites, {} snapshots",
            run.gc_rewrites,
            run.snapshots
        );
    }
    hits.lock().expect("hits").clone()
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).map_or(default, |v| {
        v.parse()
            .unwrap_or_else(|_| panic!("{name}={v}: not a number"))
    })
}

/// Runs a workload once to count its failpoint hits (added to `reached`), then once
/// per failpoint and hit k up to `per_point` with the power cut at that hit. Returns
/// the number of cuts.
fn cut_everywhere(
    label: &str,
    per_point: u64,
    reached: &mut BTreeMap<&'static str, u64>,
    run: impl Fn(Option<(&'static str, u64)>) -> BTreeMap<&'static str, u64>,
) -> u64 {
    let baseline = run(None);
    let mut crashes = 0;
    for &name in REGISTRY {
        let hits = baseline.get(name).copied().unwrap_or(0);
        *reached.entry(name).or_insert(0) += hits;
        for k in 1..=hits.min(per_point) {
            let seen = run(Some((name, k)));
            assert!(
                seen.get(name).copied().unwrap_or(0) >= k,
                "{label}: {name} hit {k} never came: the run is not deterministic"
            );
            crashes += 1;
        }
    }
    crashes
}

#[test]
fn crash_at_every_failpoint_and_recover() {
    let scenario = fail::FailScenario::setup();
    let per_point = env_or("PAGELOG_FAILPOINT_HITS", HITS_PER_POINT);
    let mut reached: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut crashes = 0;
    let seeds = env_or("PAGELOG_FAILPOINT_SEEDS", SEEDS);
    for seed in SEED..SEED + seeds {
        let ops = workload(seed);
        let run = |armed| run_once(seed, &ops, armed);
        crashes += cut_everywhere(&format!("seed {seed:#x}"), per_point, &mut reached, run);
    }
    for seed in SEED..SEED + seeds / 3 {
        let ops = failpoints_pagecache::workload(seed);
        let run = |armed| run_pagecache_once(seed, &ops, armed);
        let label = format!("page cache seed {seed:#x}");
        crashes += cut_everywhere(&label, per_point, &mut reached, run);
    }
    scenario.teardown();
    let missed: Vec<_> = REGISTRY.iter().filter(|n| reached[*n] == 0).collect();
    assert!(
        missed.is_empty(),
        "the workloads never reached {missed:?}; hits: {reached:?}"
    );
    eprintln!(
        "{} failpoints, {crashes} power cuts at failpoints, hits {reached:?}",
        REGISTRY.len()
    );
}

/// A seeded run whose engine panics after faults fired keeps those faults' sites in
/// its report (a log seed's and a page seed's): the shrinker needs them to write a
/// test that still panics. It once got none after a panic, shrank the fault mask to
/// nothing and wrote a test that passed. A failpoint turned into a panic stands for
/// the engine's. (Tests here serialize through `FailScenario`'s lock.)
#[test]
fn a_run_that_panics_keeps_the_sites_of_the_faults_that_fired() {
    use pagelog::simulation::pages::{PageScenario, run_pages};
    use pagelog::simulation::{Invariant, Pins, Scenario, plan::generate, run};
    let scenario = fail::FailScenario::setup();
    // Each seed's 41st read of a message header panics.
    let arm = || fail::cfg("handle::read::header", "40*off->panic(engine panic)").expect("cfg");
    let pins = Pins::default();
    let panicked = |invariant: Option<Invariant>| invariant == Some(Invariant::Panic);
    let page_kept = (0..40).any(|seed| {
        arm();
        let r = run_pages(&PageScenario::draw(seed, &pins));
        panicked(r.violation().map(|v| v.invariant)) && !r.injected_sites.is_empty()
    });
    let log_kept = (0..40).any(|seed| {
        arm();
        let s = Scenario::draw(seed, &pins);
        let r = run(&s, &generate(&s), None, false);
        panicked(r.violation().map(|v| v.invariant)) && !r.injected_sites.is_empty()
    });
    scenario.teardown();
    assert!(
        page_kept,
        "no page seed kept its fault sites through a panic"
    );
    assert!(log_kept, "no log seed kept its fault sites through a panic");
}
