//! The kill -9 test: a real process writing real files is killed at random moments,
//! and every restart must recover what it acknowledged (I1), nothing it did not
//! write (I2), and every batch whole or not at all (I5).
//!
//! This file is its own test binary (`harness = false`). Run by `cargo test` as part
//! of the suite (50 kill cycles), or alone with more:
//!
//! ```text
//! cargo test --release --test crash_recovery -- --cycles 500 --seed 7
//! ```
//!
//! The parent makes a temporary directory and, for each cycle, starts this same
//! binary as a child (`PAGELOG_KILL_CHILD=1`). The child opens the log there with
//! `StdStorage`, then writes a seeded workload of single messages, aborted
//! reservations, batches, flushes and make_stables, and reports through its stdout
//! pipe, one line per event, each written with one `write` call:
//!
//! - `w <lsn> <seq>`: message `seq` is completed at `lsn` (batch members only once
//!   their batch is sealed);
//! - `a <lsn>`: the reservation at `lsn` is about to be aborted;
//! - `ack <lsn>`: a flush or make_stable returned Ok: every completed message below
//!   `lsn` is durable.
//!
//! After reading a seeded number of lines the parent sends SIGKILL, drains the pipe,
//! reopens the log itself and checks what it recovered against what the child told it:
//! the messages from before this cycle are unchanged; the new ones are, in lsn order,
//! exactly the reported completions, possibly followed by messages the child completed
//! but had no time to report (they must be genuine: every value carries its cycle,
//! sequence number, batch membership and a CRC); every completion below the highest
//! acknowledged lsn is there; no aborted lsn is; every batch has all its members or
//! none. Kill timing is real time, so a seed fixes the plan (workloads, kill points in
//! lines) but not the exact instant; a failure prints the seed and cycle.
//!
//! Every third cycle the child drops its log (no flush) after a few steps, reports an
//! acknowledgement of everything it completed, and waits for the kill: a drop must
//! flush (mutation tried: a Drop without its flush fails at cycle 12 with I1). While
//! the child holds the log, the parent opens the same directory and must be refused
//! with `Error::Locked`. A watchdog fails the run, naming the cycle, if no cycle ends
//! for 120 s.
//!
//! A kill -9 loses what the process held in memory (unsealed IO buffers, open
//! batches) but not what it had handed to the kernel; power loss is the simulator's
//! job. Mutation tried: `Log::make_stable` returning Ok at once. The test fails within
//! a few cycles with I1 (completions below an acknowledged lsn lost).

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use pagelog::io::StdStorage;
use pagelog::{Config, Error, Kind, Log, Lsn, SegmentMode};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CHILD_ENV: &str = "PAGELOG_KILL_CHILD";
const DEFAULT_CYCLES: u64 = 50;
/// Bytes of a value's tag: cycle, seq, batch id, batch size, member index.
const TAG_LEN: usize = 14;
const CRC_LEN: usize = 4;

fn config() -> Config {
    Config {
        segment_size_bytes: 64 << 10,
        io_buf_size_bytes: 16 << 10,
        io_bufs: 4,
        blob_threshold_bytes: 4 << 10,
        segment_mode: SegmentMode::Linear,
        ..Config::default()
    }
}

/// Who wrote a value: it is encoded in the value itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tag {
    cycle: u32,
    seq: u32,
    /// 0 for a single message; otherwise the batch's id within its cycle.
    batch: u32,
    size: u8,
    member: u8,
}

fn filler(tag: &Tag, i: usize) -> u8 {
    (tag.seq as usize * 7 + i * 13 + tag.cycle as usize) as u8
}

fn encode(tag: &Tag, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    v.extend_from_slice(&tag.cycle.to_le_bytes());
    v.extend_from_slice(&tag.seq.to_le_bytes());
    v.extend_from_slice(&tag.batch.to_le_bytes());
    v.extend_from_slice(&[tag.size, tag.member]);
    let body = len.max(TAG_LEN + CRC_LEN) - CRC_LEN;
    for i in TAG_LEN..body {
        v.push(filler(tag, i));
    }
    let crc = crc32c::crc32c(&v);
    v.extend_from_slice(&crc.to_le_bytes());
    v
}

/// The tag of a genuine value; None for anything the child never wrote.
fn decode(v: &[u8]) -> Option<Tag> {
    let body = v.len().checked_sub(CRC_LEN).filter(|&b| b >= TAG_LEN)?;
    let crc = u32::from_le_bytes(v[body..].try_into().ok()?);
    if crc != crc32c::crc32c(&v[..body]) {
        return None;
    }
    let u32_at = |at: usize| u32::from_le_bytes(v[at..at + 4].try_into().expect("4 bytes"));
    let tag = Tag {
        cycle: u32_at(0),
        seq: u32_at(4),
        batch: u32_at(8),
        size: v[12],
        member: v[13],
    };
    (TAG_LEN..body)
        .all(|i| v[i] == filler(&tag, i))
        .then_some(tag)
}

// ---------------------------------------------------------------- the child

/// The child's report pipe: each line leaves in one write.
struct Report(std::io::Stdout);

impl Report {
    fn line(&mut self, text: String) {
        let mut out = self.0.lock();
        out.write_all(format!("{text}\n").as_bytes())
            .and_then(|()| out.flush())
            .expect("report pipe");
    }
}

fn child(dir: &Path, seed: u64, cycle: u32) {
    let storage = StdStorage::open(dir).expect("child: storage");
    let log = Log::open(config(), Arc::new(storage)).expect("child: open");
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(cycle) << 32));
    let mut out = Report(std::io::stdout());
    let mut w = Writer {
        log: &log,
        cycle,
        seq: 0,
        batches: 0,
        last: None,
    };
    // Every third cycle the child drops its log after a few steps, without a flush:
    // the drop must make every completion durable. It reports that as an
    // acknowledgement of everything, then `closed`, and waits to be killed. It says
    // `closing` first and waits for the parent's go-ahead on stdin: from the drop on,
    // the directory is free, and a parent that had not yet read `closing` would take
    // a second open succeeding then for a broken lock.
    let drop_after = (cycle % 3 == 0).then(|| rng.random_range(5..60));
    // The parent kills us long before this ends; the bound only keeps a lost parent
    // from leaving a process writing forever.
    for step in 0..200_000 {
        if drop_after == Some(step) {
            let last = w.last;
            out.line("closing".to_string());
            let mut go = String::new();
            std::io::stdin().read_line(&mut go).expect("child: stdin");
            drop(log);
            if let Some(lsn) = last {
                out.line(format!("ack {}", lsn + 1));
            }
            out.line("closed".to_string());
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        w.step(&mut rng, &mut out);
    }
}

struct Writer<'a> {
    log: &'a Log,
    cycle: u32,
    seq: u32,
    batches: u32,
    last: Option<Lsn>,
}

impl Writer<'_> {
    fn value(&mut self, rng: &mut ChaCha8Rng, batch: u32, size: u8, member: u8) -> Vec<u8> {
        self.seq += 1;
        let tag = Tag {
            cycle: self.cycle,
            seq: self.seq,
            batch,
            size,
            member,
        };
        let len = if rng.random_bool(0.05) {
            rng.random_range(5_000..9_000)
        } else {
            rng.random_range(20..300)
        };
        encode(&tag, len)
    }

    fn step(&mut self, rng: &mut ChaCha8Rng, out: &mut Report) {
        let pid = rng.random_range(0..16);
        match rng.random_range(0..100) {
            0..60 => {
                let v = self.value(rng, 0, 0, 0);
                let ptr = self.log.write(Kind::Append, pid, &v).expect("write");
                self.last = Some(ptr.lsn);
                out.line(format!("w {} {}", ptr.lsn, self.seq));
            }
            60..68 => {
                let v = self.value(rng, 0, 0, 0);
                let r = self.log.reserve(Kind::Append, pid, &v).expect("reserve");
                out.line(format!("a {}", r.lsn()));
                r.abort().expect("abort");
            }
            68..78 => self.batch(rng, pid, out),
            78..93 => {
                let target = self.log.flush().expect("flush");
                out.line(format!("ack {target}"));
            }
            _ => {
                if let Some(lsn) = self.last {
                    self.log.make_stable(lsn).expect("make_stable");
                    out.line(format!("ack {}", lsn + 1));
                }
            }
        }
    }

    fn batch(&mut self, rng: &mut ChaCha8Rng, pid: u64, out: &mut Report) {
        self.batches += 1;
        let size = rng.random_range(2..5_u8);
        let mut b = self.log.pin_batch().expect("pin batch");
        let mut done = Vec::new();
        for member in 0..size {
            let v = self.value(rng, self.batches, size, member);
            let ptr = b.write(Kind::Append, pid, &v).expect("batch write");
            done.push((ptr.lsn, self.seq));
        }
        b.seal().expect("seal");
        for (lsn, seq) in done {
            self.last = Some(lsn);
            out.line(format!("w {lsn} {seq}"));
        }
    }
}

// ---------------------------------------------------------------- the parent

/// What the child reported in one cycle.
#[derive(Debug, Default)]
struct Heard {
    completed: BTreeMap<Lsn, u32>,
    aborted: BTreeSet<Lsn>,
    acked: Lsn,
    lines: usize,
    /// The child dropped its log (which flushed it) and waits to be killed.
    closed: bool,
    /// The child is about to drop its log: from then on the directory may be free.
    closing: bool,
}

impl Heard {
    fn take(&mut self, line: &str) -> Result<(), String> {
        let parts: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| -> Result<u64, String> {
            parts
                .get(i)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("bad report line {line:?}"))
        };
        match parts[0] {
            "w" => {
                let seq = u32::try_from(num(2)?).map_err(|e| e.to_string())?;
                self.completed.insert(num(1)?, seq);
            }
            "a" => {
                self.aborted.insert(num(1)?);
            }
            "ack" => self.acked = self.acked.max(num(1)?),
            "closing" => self.closing = true,
            "closed" => self.closed = true,
            _ => return Err(format!("bad report line {line:?}")),
        }
        self.lines += 1;
        Ok(())
    }
}

/// Runs one child and kills it after `kill_after` report lines.
fn kill_cycle(dir: &Path, seed: u64, cycle: u32, kill_after: usize) -> Heard {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .env(CHILD_ENV, "1")
        .arg(dir)
        .arg(seed.to_string())
        .arg(cycle.to_string())
        .stdout(Stdio::piped())
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut stdin = child.stdin.take().expect("child stdin");
    let mut heard = Heard::default();
    let mut lines = BufReader::new(stdout).lines();
    while heard.lines < kill_after && !heard.closed {
        match lines.next() {
            Some(line) => {
                let line = line.expect("read pipe");
                heard.take(&line).expect("child report");
                if line == "closing" {
                    // The child drops its log only after this.
                    writeln!(stdin, "go").expect("tell the child to close");
                }
            }
            None => break,
        }
    }
    // The child is alive and holds the log: a second process must be refused.
    if heard.lines == kill_after && !heard.closing {
        let storage = StdStorage::open(dir).expect("storage");
        match Log::open(config(), Arc::new(storage)) {
            Err(Error::Locked { .. }) => {}
            Err(e) => panic!("seed {seed} cycle {cycle}: a racing open failed with {e}"),
            Ok(_) => panic!("seed {seed} cycle {cycle}: a racing open was not refused"),
        }
    }
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reap child");
    // Lines already in the pipe were reported before the kill: they count.
    for line in lines {
        let line = line.expect("drain pipe");
        heard.take(&line).expect("child report");
    }
    assert!(
        !status.success(),
        "seed {seed} cycle {cycle}: the child ended on its own ({status}) before the kill"
    );
    heard
}

/// Checks the recovered log against the previous state and this cycle's reports;
/// returns the new state.
fn check(
    dir: &Path,
    prev: &[(Lsn, Vec<u8>)],
    heard: &Heard,
    cycle: u32,
) -> Result<Vec<(Lsn, Vec<u8>)>, String> {
    let storage = StdStorage::open(dir).map_err(|e| e.to_string())?;
    let log = Log::open(config(), Arc::new(storage)).map_err(|e| format!("reopen: {e}"))?;
    let mut got = Vec::new();
    for m in log.iter_from(0).map_err(|e| e.to_string())? {
        let m = m.map_err(|e| format!("iterate: {e}"))?;
        got.push((m.lsn(), m.value));
    }
    if got.len() < prev.len() || got[..prev.len()] != *prev {
        return Err("messages from earlier cycles changed (I1/I2)".into());
    }
    check_new(&got[prev.len()..], heard, cycle)?;
    check_batches(&got)?;
    Ok(got)
}

/// How a cycle's recovery compared with the reports: (unreported completions that
/// came back, reported but unacknowledged completions that were lost).
fn surprises(prev: usize, now: usize, heard: &Heard) -> (usize, usize) {
    let new = now - prev;
    let known = heard.completed.len();
    (new.saturating_sub(known), known.saturating_sub(new))
}

/// The new messages are, by lsn, exactly the reported completions, then possibly
/// unreported but genuine ones of this cycle; everything acknowledged is there.
fn check_new(new: &[(Lsn, Vec<u8>)], heard: &Heard, cycle: u32) -> Result<(), String> {
    let known: Vec<(Lsn, u32)> = heard.completed.iter().map(|(&l, &s)| (l, s)).collect();
    let last_known = known.last().map_or(0, |&(_, s)| s);
    for (i, (lsn, value)) in new.iter().enumerate() {
        let tag = decode(value).ok_or(format!("I2: lsn {lsn} holds bytes never written"))?;
        if heard.aborted.contains(lsn) {
            return Err(format!("I2: aborted lsn {lsn} recovered"));
        }
        match known.get(i) {
            Some(&(k_lsn, k_seq)) if k_lsn != *lsn || k_seq != tag.seq || tag.cycle != cycle => {
                return Err(format!(
                    "I1/I2: recovered #{i} is lsn {lsn} {tag:?}, reported was lsn {k_lsn} seq {k_seq}"
                ));
            }
            Some(_) => {}
            None if tag.cycle != cycle || tag.seq <= last_known => {
                return Err(format!("I2: unreported lsn {lsn} {tag:?} is no new write"));
            }
            None => {}
        }
    }
    let must = known.iter().filter(|(l, _)| *l < heard.acked).count();
    if new.len() < must {
        return Err(format!(
            "I1: {} recovered, but {must} completions below acknowledged {} (first lost lsn {})",
            new.len(),
            heard.acked,
            known[new.len()].0
        ));
    }
    Ok(())
}

/// I5: every batch seen has all its members.
fn check_batches(all: &[(Lsn, Vec<u8>)]) -> Result<(), String> {
    let mut members: BTreeMap<(u32, u32), (u8, BTreeSet<u8>)> = BTreeMap::new();
    for (_, v) in all {
        let tag = decode(v).ok_or("I2: bytes never written")?;
        if tag.batch > 0 {
            let e = members.entry((tag.cycle, tag.batch)).or_default();
            e.0 = tag.size;
            e.1.insert(tag.member);
        }
    }
    for ((cycle, batch), (size, seen)) in members {
        if seen.len() != usize::from(size) {
            return Err(format!(
                "I5: batch {batch} of cycle {cycle} recovered {} of {size} members",
                seen.len()
            ));
        }
    }
    Ok(())
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

/// Seconds without a finished cycle after which the watchdog fails the run.
const WATCHDOG_SECS: u64 = 120;

/// Fails the whole run, naming the cycle, if no cycle finishes for
/// [`WATCHDOG_SECS`]: a hang is a failure with a name, not a stuck CI job. Reads no
/// clock: it counts one-second sleeps between changes of `progress`.
fn watchdog(seed: u64, progress: Arc<AtomicU64>) {
    std::thread::spawn(move || {
        let (mut seen, mut idle) = (progress.load(Ordering::Relaxed), 0);
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
            let now = progress.load(Ordering::Relaxed);
            idle = if now == seen { idle + 1 } else { 0 };
            seen = now;
            if idle >= WATCHDOG_SECS {
                eprintln!(
                    "crash_recovery: watchdog: seed {seed} cycle {} made no progress for {WATCHDOG_SECS} s (hang)",
                    now + 1
                );
                std::process::exit(2);
            }
        }
    });
}

fn parent(args: &[String]) {
    let cycles = flag(args, "--cycles", DEFAULT_CYCLES);
    let seed = flag(args, "--seed", 1);
    let progress = Arc::new(AtomicU64::new(0));
    watchdog(seed, Arc::clone(&progress));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut state = Vec::new();
    let (mut lines_total, mut unreported, mut lost) = (0, 0, 0);
    for cycle in 1..=cycles {
        let cycle = u32::try_from(cycle).expect("cycle count");
        let kill_after = rng.random_range(1..400);
        let heard = kill_cycle(dir.path(), seed, cycle, kill_after);
        let next = check(dir.path(), &state, &heard, cycle).unwrap_or_else(|e| {
            panic!("seed {seed} cycle {cycle} (kill after {kill_after} lines): {e}")
        });
        let (u, l) = surprises(state.len(), next.len(), &heard);
        (unreported, lost) = (unreported + u, lost + l);
        lines_total += heard.lines;
        state = next;
        progress.fetch_add(1, Ordering::Relaxed);
    }
    println!(
        "crash_recovery: {cycles} kill -9 cycles (seed {seed}), {lines_total} reports; \
         {unreported} completions recovered though the kill came before their report, \
         {lost} reported but unacknowledged ones lost; {} messages at the end: ok",
        state.len()
    );
    // The closing count of scripts/ci.sh sums libtest's summary lines; this binary has
    // no harness, so it prints one for its single test.
    println!("test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if std::env::var_os(CHILD_ENV).is_some() {
        let cycle = args[3].parse().expect("cycle");
        child(Path::new(&args[1]), args[2].parse().expect("seed"), cycle);
        return;
    }
    // `cargo test` passes harness flags (say, --quiet or a name filter) to every test
    // binary; only --cycles and --seed mean anything here.
    parent(&args[1..]);
}
