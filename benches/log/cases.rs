//! The pagelog side of each case, on real files through the public API.

use std::path::Path;
use std::time::Instant;

use pagelog::{Config, Kind, LOG_FILE, Log};

/// Bytes of value per message in every case (on disk: plus a 28-byte header).
pub const VALUE_LEN: usize = 100;

/// What a timed pagelog run measured.
pub struct Run {
    pub secs: f64,
    /// Storage syncs the log issued during the timed part (`Stats::syncs`).
    pub syncs: u64,
}

/// Opens a log in `dir`, runs `body(log, thread index)` on `threads` threads, then
/// `flush`: times the threads and the flush, and counts the syncs meanwhile.
fn timed(dir: &Path, config: &Config, threads: usize, body: impl Fn(&Log) + Sync) -> Run {
    let log = config.open(dir).expect("open");
    let before = log.stats().syncs;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (log, body) = (&log, &body);
            s.spawn(move || body(log));
        }
    });
    log.flush().expect("flush");
    let run = Run {
        secs: start.elapsed().as_secs_f64(),
        syncs: log.stats().syncs - before,
    };
    log.close().expect("close");
    run
}

/// `threads` threads append `total` messages between them (`Log::append`), then one
/// flush. Times from the first append to the flush's return.
pub fn append(dir: &Path, config: &Config, threads: usize, total: usize) -> Run {
    let value = [0x42u8; VALUE_LEN];
    timed(dir, config, threads, |log| {
        for _ in 0..total / threads {
            log.append(&value).expect("append");
        }
    })
}

/// `threads` threads each do `ops_each` appends, flushing after every `every`-th.
pub fn flushing(dir: &Path, config: &Config, threads: usize, ops_each: usize, every: usize) -> Run {
    let value = [0x42u8; VALUE_LEN];
    timed(dir, config, threads, |log| {
        for i in 1..=ops_each {
            log.append(&value).expect("append");
            if i % every == 0 {
                log.flush().expect("flush");
            }
        }
    })
}

/// Writes a log of about `bytes` bytes of 100-byte Append messages (to 4,096 page ids
/// in turn) into `dir` and closes it; returns the file's length.
pub fn build(dir: &Path, config: &Config, bytes: u64) -> u64 {
    let log = config.open(dir).expect("open");
    let value = [0x17u8; VALUE_LEN];
    let n = bytes / (VALUE_LEN as u64 + 28);
    for i in 0..n {
        log.write(Kind::Append, i % 4096, &value).expect("write");
    }
    log.close().expect("close");
    std::fs::metadata(dir.join(LOG_FILE))
        .expect("log file")
        .len()
}

/// Opens the log in `dir` (recovery) and returns the seconds it took and the log.
pub fn open(dir: &Path, config: &Config) -> (f64, Log) {
    let start = Instant::now();
    let log = config.open(dir).expect("open");
    (start.elapsed().as_secs_f64(), log)
}

/// Iterates every message of `log` from its start, touching each value. Returns
/// seconds and the number of messages.
pub fn iterate(log: &Log) -> (f64, u64) {
    let start = Instant::now();
    let mut n = 0u64;
    let mut sum = 0u64;
    for m in log.iter_from(0).expect("iter") {
        let m = m.expect("message");
        sum = sum.wrapping_add(m.value.len() as u64);
        n += 1;
    }
    std::hint::black_box(sum);
    (start.elapsed().as_secs_f64(), n)
}
