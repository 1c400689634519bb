//! `Log::truncate_before`: a write-ahead log that checkpoints stays within a stated
//! size forever, on real files; a power cut at every storage call of a truncation
//! loses nothing at or past the checkpoint; a Linear log missing its first segments
//! without a Truncate record is still damage.

mod common;

use std::sync::Arc;

use common::payload;
use pagelog::LOG_FILE;
use pagelog::io::{SimStorage, Storage};
use pagelog::{Config, Error, Log, Lsn, SegmentMode};

/// 16 KiB segments, 4 KiB buffers: many segments for a small workload.
fn wal() -> Config {
    Config::for_simulation().segment_mode(SegmentMode::Linear)
}

fn storage(disk: &SimStorage) -> Arc<dyn Storage> {
    Arc::new(disk.clone())
}

const RECORD: usize = 200;
const EVERY: u32 = 300;

/// Bytes one checkpoint interval writes: each record and its header, and a Vouch per
/// buffer write at most once per record.
fn interval_bytes() -> u64 {
    u64::from(EVERY) * (RECORD as u64 + 28 + 28)
}

/// The stated bound: the span between two checkpoints plus three segments (the one
/// holding the checkpoint, the one being written, and one the ring may have started).
fn bound(config: &Config) -> u64 {
    interval_bytes() + 3 * config.segment_size_bytes
}

#[test]
fn a_wal_that_checkpoints_stays_within_its_bound_forever_on_real_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = wal();
    let mut checkpoint: Lsn = 0;
    let mut largest = 0;
    let mut written = 0u32;
    for session in 0..6 {
        let log = config.open(dir.path()).expect("open");
        for _ in 0..10 {
            for _ in 0..EVERY {
                let p = log.append(&payload(written, RECORD)).expect("append");
                written += 1;
                if written % EVERY == 0 {
                    checkpoint = p.lsn;
                }
            }
            log.flush().expect("flush");
            log.truncate_before(checkpoint).expect("truncate");
            let len = std::fs::metadata(dir.path().join(LOG_FILE))
                .expect("log")
                .len();
            largest = largest.max(len);
            assert!(
                len <= bound(&config),
                "session {session}: {len} bytes after {written} records (bound {})",
                bound(&config)
            );
        }
        if session % 2 == 0 {
            log.close().expect("close");
        } else {
            log.abandon();
        }
    }
    let log = config.open(dir.path()).expect("open");
    let first = log
        .iter_from(0)
        .expect("iter")
        .next()
        .expect("a message")
        .expect("ok");
    assert_eq!(
        first.lsn(),
        checkpoint,
        "the log starts at the last checkpoint"
    );
    let total = u64::from(written) * RECORD as u64;
    println!(
        "wal_truncate: {written} records ({total} bytes) through a file of at most {largest} bytes (bound {})",
        bound(&config)
    );
}

/// A log of `n` flushed records; returns the disk and each record's lsn.
fn written_log(seed: u64, n: u32) -> (SimStorage, Vec<Lsn>) {
    let disk = SimStorage::new(seed);
    let log = Log::open(wal(), storage(&disk)).expect("open");
    let lsns = (0..n)
        .map(|i| log.append(&payload(i, RECORD)).expect("append").lsn)
        .collect();
    log.close().expect("close");
    (disk.crash(), lsns)
}

/// Several seeds per call, so the crash model persists different subsets of the
/// header zeroings in flight (released one segment at a time, lowest first: a subset
/// that skipped a lower segment would leave a hole no Truncate record explains).
#[test]
fn a_power_cut_at_any_call_of_a_truncation_loses_nothing_at_or_past_the_checkpoint() {
    for seed in 0..8 {
        power_cut_during_truncation(seed);
    }
}

fn power_cut_during_truncation(seed: u64) {
    let n = 400;
    let mut reached_end = false;
    for calls in 0..200 {
        let (disk, lsns) = written_log(100 + seed, n);
        let cut_at = lsns[300];
        let log = Log::open(wal(), storage(&disk)).expect("open");
        disk.crash_after(calls);
        let outcome = log.truncate_before(cut_at);
        let crashed = disk.is_crashed();
        log.abandon();
        let disk = disk.crash();
        let log = Log::open(wal(), storage(&disk)).expect("recovery after the cut");
        let got: Vec<(Lsn, Vec<u8>)> = log
            .iter_from(0)
            .expect("iter")
            .map(|m| m.expect("message"))
            .map(|m| (m.lsn(), m.value))
            .collect();
        let want: Vec<(Lsn, Vec<u8>)> = lsns
            .iter()
            .enumerate()
            .map(|(i, &l)| (l, payload(i as u32, RECORD)))
            .collect();
        let kept_from = want.len() - got.len();
        assert_eq!(
            got[..],
            want[kept_from..],
            "calls {calls}: a suffix of the log"
        );
        assert!(
            kept_from <= 300,
            "calls {calls}: lost records at or past the checkpoint"
        );
        if outcome.is_ok() && !crashed {
            assert_eq!(kept_from, 300, "calls {calls}: a durable truncation holds");
            reached_end = true;
            break;
        }
    }
    assert!(
        reached_end,
        "the truncation never completed within the call budget"
    );
}

#[test]
fn a_linear_log_missing_its_first_segment_without_a_truncate_record_is_damage() {
    let (disk, _) = written_log(8, 200);
    let f = disk
        .open(LOG_FILE, pagelog::io::OpenMode::Existing)
        .expect("log");
    f.write_at(&[0; 40], 0).expect("zero the first header");
    f.sync().expect("sync");
    let err = Log::open(wal(), storage(&disk)).expect_err("first segment gone");
    assert!(err.is_corruption(), "{err}");
}

#[test]
fn misuse_of_truncate_is_an_invalid_argument() {
    let (disk, lsns) = written_log(9, 50);
    let log = Log::open(wal(), storage(&disk)).expect("open");
    let err = log.truncate_before(u64::MAX / 4).expect_err("past the end");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    log.truncate_before(lsns[20]).expect("truncate");
    let below = log
        .iter_from(0)
        .expect("iter")
        .next()
        .expect("m")
        .expect("ok");
    assert_eq!(
        below.lsn(),
        lsns[20],
        "iteration starts at the truncation point"
    );
    let first = Log::open(wal(), storage(&SimStorage::new(1))).expect("fresh");
    let p = first.append(b"x").expect("append");
    first
        .truncate_before(p.lsn + 1)
        .expect("truncate past the record");
    let err = first.read(p).expect_err("below the start");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let gc = Log::open(Config::for_simulation(), storage(&SimStorage::new(2))).expect("gc");
    let err = gc.truncate_before(0).expect_err("gc mode");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

/// Found by a newcomer's trial: with a blob threshold below 8 bytes, the log's own
/// 8-byte records (a batch manifest, a Truncate record) were refused as oversized.
/// They are always inline now; and a refused truncation writes nothing.
#[test]
fn the_logs_own_records_ignore_a_tiny_blob_threshold_and_a_refused_truncation_writes_nothing() {
    let disk = SimStorage::new(10);
    let config = wal().blob_threshold(7);
    let log = Log::open(config, storage(&disk)).expect("open");
    let ptrs = log
        .append_batch(&[b"one", b"a value longer than seven"])
        .expect("batch");
    log.truncate_before(ptrs[1].lsn).expect("truncate");
    let next = log.append(b"x").expect("append").lsn;
    let err = log.truncate_before(next + 1000).expect_err("past the end");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
    let after = log.append(b"y").expect("append").lsn;
    assert_eq!(after, next + 28 + 1, "the refused call reserved nothing");
}
