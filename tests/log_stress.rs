//! Risk: concurrent reservations lose, duplicate or misplace messages when buffers
//! seal and reach storage out of order, or a completed message is missing after a
//! flush and reopen.
//!
//! 8 threads, 10,000 reservations each, random sizes (some above the blob threshold),
//! a random mix of complete and abort; then flush, reopen, and exactly the completed
//! set must come back, in lsn order. Run on SimStorage and on real files.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use pagelog::io::{SimStorage, StdStorage, Storage};
use pagelog::{Config, Kind, Log, Lsn, SegmentMode};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const THREADS: u64 = 8;
const PER_THREAD: u64 = 10_000;

fn config() -> Config {
    Config {
        segment_size_bytes: 64 << 10,
        io_buf_size_bytes: 16 << 10,
        io_bufs: 4,
        blob_threshold_bytes: 1000,
        segment_mode: SegmentMode::Linear,
        ..Config::default()
    }
}

fn value(thread: u64, i: u64, len: usize) -> Vec<u8> {
    let mut v = vec![(thread * 31 + i) as u8; len];
    if len >= 16 {
        v[..8].copy_from_slice(&thread.to_le_bytes());
        v[8..16].copy_from_slice(&i.to_le_bytes());
    }
    v
}

/// Runs the workload; returns the completed messages by lsn.
fn workload(log: &Log) -> BTreeMap<Lsn, (u64, Vec<u8>)> {
    let done = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let done = &done;
            s.spawn(move || {
                let mut rng = ChaCha8Rng::seed_from_u64(t);
                let mut mine = Vec::new();
                for i in 0..PER_THREAD {
                    let len = if rng.random_bool(0.002) {
                        rng.random_range(1001..3000)
                    } else {
                        rng.random_range(0..200)
                    };
                    let v = value(t, i, len);
                    let pid = t * PER_THREAD + i;
                    let r = log.reserve(Kind::Append, pid, &v).expect("reserve");
                    if rng.random_bool(0.8) {
                        let lsn = r.lsn();
                        r.complete().expect("complete");
                        mine.push((lsn, (pid, v)));
                    } else {
                        r.abort().expect("abort");
                    }
                }
                done.lock().expect("lock").extend(mine);
            });
        }
    });
    done.into_inner().expect("lock")
}

fn check(storage: Arc<dyn Storage>, reopen: impl Fn() -> Arc<dyn Storage>) {
    let log = Log::open(config(), storage).expect("open");
    let done = workload(&log);
    log.flush().expect("flush");
    let stats = log.stats();
    drop(log);
    let log = Log::open(config(), reopen()).expect("reopen");
    let got: Vec<(Lsn, (u64, Vec<u8>))> = log
        .iter_from(0)
        .expect("iter")
        .map(|m| m.expect("message"))
        .map(|m| (m.lsn(), (m.pid, m.value)))
        .collect();
    let want: Vec<(Lsn, (u64, Vec<u8>))> = done.into_iter().collect();
    assert_eq!(got.len(), want.len(), "message count");
    assert!(
        got == want,
        "recovered messages differ from the completed set"
    );
    eprintln!(
        "{} messages, {} buffers written, {} syncs, {} stalls",
        want.len(),
        stats.buffers_written,
        stats.syncs,
        stats.stalls
    );
}

#[test]
fn eight_threads_of_reservations_on_sim_storage_come_back_exactly() {
    let disk = SimStorage::new(11);
    let again = disk.clone();
    check(Arc::new(disk), move || Arc::new(again.crash()));
}

#[test]
fn eight_threads_of_reservations_on_real_files_come_back_exactly() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("db");
    let storage = StdStorage::open(&path).expect("storage");
    check(Arc::new(storage), || {
        Arc::new(StdStorage::open(&path).expect("reopen storage"))
    });
}
