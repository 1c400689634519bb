//! Risk: a crash (any tearing mode), a crash in the middle of an operation, or a file
//! cut short makes recovery return something other than a prefix of the completed
//! messages: a lost acknowledged message (I1), an aborted, torn or invented one (I2),
//! or half a batch (I5).
//!
//! A seeded quickcheck property drives the log on SimStorage with random writes (sizes
//! from 0 to well above the blob threshold), aborts, reservations held open across
//! other operations, flushes, batches, crashes, crashes after a random number of
//! storage calls, and (Linear mode) truncation of the file at a random length. After
//! every recovery the simulator's oracle (`pagelog::simulation::Model`) checks the result.

mod common;

use std::sync::Arc;

use common::{payload, qc_gen, sim};
use pagelog::io::{CrashModel, Filler, Tearing};
use pagelog::io::{OpenMode, SimConfig, SimStorage, Storage};
use pagelog::simulation::Model;
use pagelog::{Config, Error, Kind, Log, Reservation, SegmentMode};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

#[derive(Debug, Clone)]
enum Op {
    Write { pid: u8, len: u16, replace: bool },
    Abort { len: u16 },
    Open { len: u16 },
    Close { which: u8, complete: bool },
    Flush,
    Batch { n: u8, len: u16 },
    Crash,
    CrashMidway { calls: u8 },
    Truncate { frac: u16 },
}

impl Arbitrary for Op {
    fn arbitrary(g: &mut Gen) -> Op {
        let len = u16::arbitrary(g) % 700;
        match u8::arbitrary(g) % 20 {
            0..=6 => Op::Write {
                pid: u8::arbitrary(g) % 8,
                len,
                replace: bool::arbitrary(g),
            },
            7 => Op::Abort { len },
            8 | 9 => Op::Open { len },
            10 | 11 => Op::Close {
                which: u8::arbitrary(g),
                complete: u8::arbitrary(g) % 4 != 0,
            },
            12..=14 => Op::Flush,
            15 => Op::Batch {
                n: u8::arbitrary(g) % 5,
                len: len % 300,
            },
            16 | 17 => Op::Crash,
            18 => Op::CrashMidway {
                calls: u8::arbitrary(g) % 12,
            },
            _ => Op::Truncate {
                frac: u16::arbitrary(g),
            },
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    ops: Vec<Op>,
}

impl Arbitrary for Case {
    fn arbitrary(g: &mut Gen) -> Case {
        Case {
            seed: u64::arbitrary(g),
            ops: Vec::arbitrary(g),
        }
    }

    fn shrink(&self) -> Box<dyn Iterator<Item = Case>> {
        let seed = self.seed;
        Box::new(self.ops.shrink().map(move |ops| Case { seed, ops }))
    }
}

impl Case {
    fn config(&self) -> Config {
        let s = self.seed;
        let segment = 512u64 << (s % 4);
        let buf = if segment >= 4096 {
            4096
        } else {
            segment as usize
        };
        Config {
            segment_size_bytes: segment,
            io_buf_size_bytes: buf,
            io_bufs: 2 + (s >> 8) as usize % 3,
            blob_threshold_bytes: 100 + (s >> 16) as usize % 300,
            segment_mode: if (s >> 24) % 2 == 0 {
                SegmentMode::Linear
            } else {
                SegmentMode::Gc
            },
            ..Config::default()
        }
    }

    fn sim_config(&self) -> SimConfig {
        let s = self.seed >> 32;
        let tearing = [Tearing::Sector, Tearing::Byte, Tearing::Both][(s % 3) as usize];
        let filler = [Filler::Zeros, Filler::Garbage, Filler::Either][(s / 3 % 3) as usize];
        SimConfig {
            crash: CrashModel {
                tearing,
                filler,
                ..CrashModel::default()
            },
            ..SimConfig::default()
        }
    }
}

enum End {
    Crash,
    Truncate(u16),
    Done,
}

struct Run<'a> {
    log: &'a Log,
    model: &'a mut Model,
    open: Vec<(Reservation<'a>, Kind, u64, Vec<u8>)>,
    poisoned: bool,
    tag: u32,
}

impl<'a> Run<'a> {
    fn value(&mut self, len: u16) -> Vec<u8> {
        self.tag += 1;
        payload(self.tag, usize::from(len))
    }

    fn outcome<T>(&mut self, r: pagelog::Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Error::WouldBlock) => None,
            Err(_) => {
                self.poisoned = true;
                None
            }
        }
    }

    fn complete(&mut self, r: Reservation<'a>, entry: (Kind, u64, Vec<u8>)) {
        let lsn = r.lsn();
        let result = r.complete();
        self.model.complete(lsn, entry);
        self.outcome(result);
    }

    fn step(&mut self, op: &Op) {
        match *op {
            Op::Write { pid, len, replace } => {
                let kind = if replace { Kind::Replace } else { Kind::Append };
                let v = self.value(len);
                let r = self.log.try_reserve(kind, u64::from(pid), &v);
                if let Some(r) = self.outcome(r) {
                    self.complete(r, (kind, u64::from(pid), v));
                }
            }
            Op::Abort { len } => {
                let v = self.value(len);
                if let Some(r) = self.outcome(self.log.try_reserve(Kind::Append, 99, &v)) {
                    self.model.aborted.insert(r.lsn());
                    let result = r.abort();
                    self.outcome(result);
                }
            }
            Op::Open { len } => {
                let v = self.value(len);
                if self.open.len() < 4 {
                    if let Some(r) = self.outcome(self.log.try_reserve(Kind::Append, 7, &v)) {
                        self.open.push((r, Kind::Append, 7, v));
                    }
                }
            }
            Op::Close { which, complete } => {
                if !self.open.is_empty() {
                    let i = usize::from(which) % self.open.len();
                    let (r, kind, pid, v) = self.open.remove(i);
                    if complete {
                        self.complete(r, (kind, pid, v));
                    } else {
                        self.model.aborted.insert(r.lsn());
                        let result = r.abort();
                        self.outcome(result);
                    }
                }
            }
            Op::Flush => self.flush(),
            Op::Batch { n, len } => self.batch(n, len),
            _ => unreachable!("crash ops end a run"),
        }
    }

    fn flush(&mut self) {
        let r = if self.open.is_empty() {
            self.log.flush()
        } else {
            self.log.try_flush()
        };
        if let Some(target) = self.outcome(r) {
            self.model.ack(target);
        }
    }

    fn batch(&mut self, n: u8, len: u16) {
        let Some(mut b) = self.outcome(self.log.try_pin_batch()) else {
            return;
        };
        let manifest = b.lsn();
        let mut members = Vec::new();
        for i in 0..n {
            let v = self.value(len);
            let pid = 20 + u64::from(i);
            let Some(r) = self.outcome(b.try_reserve(Kind::Append, pid, &v)) else {
                break;
            };
            members.push(r.lsn());
            self.complete(r, (Kind::Append, pid, v));
        }
        let sealed = b.seal();
        self.outcome(sealed);
        self.model.batches.push((manifest, members));
    }
}

/// Runs ops on `log` until a crash op; returns the post-crash storage and why it ended.
fn incarnation<'a>(
    log: &'a Log,
    disk: &SimStorage,
    model: &'a mut Model,
    ops: &mut std::slice::Iter<'_, Op>,
) -> (SimStorage, End) {
    let mut run = Run {
        log,
        model,
        open: Vec::new(),
        poisoned: false,
        tag: 0,
    };
    run.tag = (log.recovery().start % 1_000_003) as u32;
    let end = loop {
        let Some(op) = ops.next() else {
            break End::Done;
        };
        match *op {
            Op::Crash => break End::Crash,
            Op::Truncate { frac } => break End::Truncate(frac),
            Op::CrashMidway { calls } => {
                disk.crash_after(u64::from(calls));
                run.flush();
                break End::Crash;
            }
            _ if run.poisoned => {}
            ref other => run.step(other),
        }
    };
    // Power cut with reservations still open: their aborts reach a dead disk.
    let after = disk.crash();
    for (r, ..) in run.open.drain(..) {
        run.model.aborted.insert(r.lsn());
    }
    (after, end)
}

fn truncate(disk: &SimStorage, frac: u16) {
    let f = disk
        .open(pagelog::LOG_FILE, OpenMode::Existing)
        .expect("log file");
    let len = f.len().expect("len");
    let cut = len * u64::from(frac) / 65536;
    f.set_len(cut).expect("set_len");
    f.sync().expect("sync");
}

fn run_case(case: &Case) -> Result<(), String> {
    let config = case.config();
    let mode = config.segment_mode;
    let mut disk = sim(case.seed, case.sim_config());
    let mut model = Model::default();
    let mut ops = case.ops.iter();
    let mut truncated = false;
    loop {
        let storage: Arc<dyn Storage> = Arc::new(disk.clone());
        let log = match Log::open(config.clone(), storage) {
            Ok(log) => log,
            // A truncation is damage: reporting it (here, a log cut to nothing with
            // its blob files left) is allowed; silent wrong data never is.
            Err(e) if truncated && e.is_corruption() => return Ok(()),
            Err(e) => return Err(format!("open: {e}")),
        };
        OPENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        CHECKED.fetch_add(model.completed.len(), std::sync::atomic::Ordering::Relaxed);
        model
            .check_recovered(&log, mode)
            .map_err(|v| v.to_string())?;
        let (after, end) = incarnation(&log, &disk, &mut model, &mut ops);
        log.abandon();
        disk = after;
        match end {
            End::Done => {
                let storage: Arc<dyn Storage> = Arc::new(disk.clone());
                let log = Log::open(config, storage).map_err(|e| format!("final open: {e}"))?;
                return model.check_recovered(&log, mode).map_err(|v| v.to_string());
            }
            End::Truncate(frac) if mode == SegmentMode::Linear => {
                truncate(&disk, frac);
                model.lost_acked = true;
                truncated = true;
            }
            End::Truncate(_) | End::Crash => {}
        }
    }
}

static OPENS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
static CHECKED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn prop(case: Case) -> TestResult {
    match run_case(&case) {
        Ok(()) => TestResult::passed(),
        Err(e) => TestResult::error(format!("seed {}: {e}", case.seed)),
    }
}

#[test]
fn recovery_is_a_prefix_of_completed_messages_with_every_acknowledged_one() {
    QuickCheck::new()
        .tests(1000)
        .rng(qc_gen(60))
        .quickcheck(prop as fn(Case) -> TestResult);
    let opens = OPENS.load(std::sync::atomic::Ordering::Relaxed);
    let checked = CHECKED.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{opens} recoveries, {checked} completed messages checked");
    assert!(
        opens > 2000 && checked > 10_000,
        "the property ran too little to mean much"
    );
}

fn regression(seed: u64, ops: Vec<Op>) {
    let case = Case { seed, ops };
    if let Err(e) = run_case(&case) {
        panic!("seed {seed}: {e}");
    }
}

/// Found by the property (Gc mode): several opens in a row each leave a jump segment
/// requiring the one before; freeing them all in one pass let the slot of the header
/// that explained a cut be reused while an older header past the cut stayed valid, and
/// recovery read that older segment as the continuation of the log.
#[test]
fn regression_gc_freed_jump_chain_never_resurrects_a_cut_segment() {
    let w = |pid, len| Op::Write {
        pid,
        len,
        replace: true,
    };
    regression(
        5_371_167_664_703_458_520,
        vec![
            Op::Truncate { frac: 3550 },
            Op::Crash,
            Op::Crash,
            Op::Batch { n: 4, len: 135 },
            Op::Open { len: 1 },
            w(1, 243),
            w(2, 112),
            w(0, 117),
        ],
    );
}

/// Found by the property (Linear mode): a file truncated twice, the second time below
/// the jump header written by the open after the first.
#[test]
fn regression_linear_truncated_twice_never_resurrects_a_cut_message() {
    let w = |pid, len, replace| Op::Write { pid, len, replace };
    regression(
        15_502_220_885_608_938_554,
        vec![
            w(7, 604, true),
            Op::Open { len: 555 },
            w(3, 539, true),
            w(1, 543, false),
            w(5, 650, false),
            Op::Flush,
            Op::Close {
                which: 40,
                complete: false,
            },
            Op::Truncate { frac: 20733 },
            Op::Truncate { frac: 59542 },
        ],
    );
}

/// Found by the property (Gc mode): a buffer holding an open reservation never reached
/// disk, a later one did, and the segments below both were freed (headers zeroed).
/// Recovery must see a freed prefix ending at the vouched stable lsn and a torn tail
/// after it, not rot.
#[test]
fn regression_gc_freed_prefix_then_a_missing_segment_is_a_torn_tail() {
    let w = |pid, len| Op::Write {
        pid,
        len,
        replace: false,
    };
    regression(
        15_135_502_287_330_646_476,
        vec![
            Op::Crash,
            Op::Abort { len: 159 },
            w(1, 276),
            Op::Open { len: 139 },
            w(6, 349),
            w(2, 147),
        ],
    );
    regression(
        14_197_206_524_931_107_492,
        vec![
            w(1, 254),
            Op::Abort { len: 300 },
            Op::Open { len: 125 },
            w(4, 277),
            Op::Batch { n: 3, len: 195 },
        ],
    );
}
