//! The log used as a write-ahead log: round trips, reopen, reads, blobs, batches.

mod common;

use std::sync::Arc;

use common::payload;
use pagelog::io::{SimStorage, Storage};
use pagelog::{Config, Error, Kind, Log, SegmentMode};

fn small(mode: SegmentMode) -> Config {
    Config {
        segment_size_bytes: 1024,
        io_buf_size_bytes: 1024,
        io_bufs: 2,
        blob_threshold_bytes: 200,
        segment_mode: mode,
        ..Config::default()
    }
}

fn storage(disk: &SimStorage) -> Arc<dyn Storage> {
    Arc::new(disk.clone())
}

fn values(log: &Log) -> Vec<(Kind, u64, Vec<u8>)> {
    log.iter_from(0)
        .expect("iter")
        .map(|m| m.expect("message"))
        .map(|m| (m.kind, m.pid, m.value))
        .collect()
}

#[test]
fn flushed_messages_come_back_in_order_after_reopen() {
    let disk = SimStorage::new(1);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk)).expect("open");
    let mut want = Vec::new();
    for i in 0..300u32 {
        let len = (i as usize * 7) % 190;
        let v = payload(i, len);
        log.write(Kind::Append, u64::from(i), &v).expect("write");
        want.push((Kind::Append, u64::from(i), v));
    }
    log.flush().expect("flush");
    assert!(values(&log) == want, "iteration before reopen");
    drop(log);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk.crash())).expect("reopen");
    assert_eq!(log.recovery().messages, 300);
    assert!(values(&log) == want, "iteration after crash and reopen");
}

#[test]
fn blobs_round_trip_and_aborted_blobs_leave_no_file() {
    let disk = SimStorage::new(2);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk)).expect("open");
    let big = payload(9, 5000);
    let ptr = log.write(Kind::Replace, 4, &big).expect("write blob");
    let aborted = log
        .reserve(Kind::Append, 5, &payload(10, 900))
        .expect("reserve");
    aborted.abort().expect("abort");
    log.flush().expect("flush");
    assert_eq!(log.read(ptr).expect("read").value, big);
    let blobs = disk
        .names()
        .iter()
        .filter(|n| n.starts_with("blob-"))
        .count();
    assert_eq!(blobs, 1, "the aborted blob is removed: {:?}", disk.names());
    let log = Log::open(small(SegmentMode::Linear), storage(&disk.crash())).expect("reopen");
    assert!(values(&log) == vec![(Kind::Replace, 4, big)]);
}

#[test]
fn reads_of_unflushed_messages_wait_for_them_and_bad_pointers_are_errors() {
    let disk = SimStorage::new(3);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk)).expect("open");
    let ptr = log
        .write(Kind::Append, 1, b"not yet flushed")
        .expect("write");
    assert_eq!(log.read(ptr).expect("read").value, b"not yet flushed");
    let bogus = pagelog::Pointer {
        lsn: ptr.lsn + 1,
        file_offset: ptr.file_offset + 1,
    };
    assert!(log.read(bogus).is_err(), "a pointer to no message");
    let err = log.make_stable(u64::MAX - 5).expect_err("never reserved");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

/// The log's own kinds (Pad, Cancelled, batch manifests, Vouch, Closed, the blob
/// forms) are not in the public `Kind` at all, so they cannot be passed; what remains
/// to refuse is a value too large for a kind that cannot go to a blob.
#[test]
fn oversized_values_of_kinds_without_a_blob_form_are_refused() {
    let disk = SimStorage::new(4);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk)).expect("open");
    assert_eq!(Kind::ALL.len(), 6, "the user kinds");
    let err = log
        .write(Kind::Meta, 1, &[1; 300])
        .expect_err("meta over threshold");
    assert!(matches!(err, Error::InvalidArgument(_)), "{err}");
}

#[test]
fn a_sealed_batch_comes_back_whole() {
    let disk = SimStorage::new(5);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk)).expect("open");
    let mut batch = log.pin_batch().expect("pin");
    for i in 0..5 {
        batch
            .write(Kind::Append, i, &payload(i as u32, 50))
            .expect("write");
    }
    batch.seal().expect("seal");
    log.flush().expect("flush");
    let log = Log::open(small(SegmentMode::Linear), storage(&disk.crash())).expect("reopen");
    assert_eq!(values(&log).len(), 5);
}

#[test]
fn stats_count_this_instance_only() {
    let disk_a = SimStorage::new(6);
    let disk_b = SimStorage::new(7);
    let a = Log::open(small(SegmentMode::Linear), storage(&disk_a)).expect("open a");
    let b = Log::open(small(SegmentMode::Linear), storage(&disk_b)).expect("open b");
    for i in 0..10 {
        a.write(Kind::Append, i, b"abc").expect("write");
    }
    a.reserve(Kind::Append, 1, b"gone")
        .expect("reserve")
        .abort()
        .expect("abort");
    a.flush().expect("flush");
    let s = a.stats();
    assert_eq!((s.messages, s.reservations, s.aborts), (10, 11, 1));
    assert!(s.buffers_written >= 1 && s.syncs >= s.buffers_written);
    assert_eq!(b.stats().messages, 0);
}

#[test]
fn the_periodic_flusher_makes_completed_messages_durable_without_a_flush() {
    let disk = SimStorage::new(8);
    let config = Config {
        flush_every_ms: Some(2),
        ..small(SegmentMode::Linear)
    };
    let log = Log::open(config, storage(&disk)).expect("open");
    let ptr = log
        .write(Kind::Append, 1, b"flushed by the thread")
        .expect("write");
    let mut polls = 0;
    while log.stable_lsn() <= ptr.lsn {
        polls += 1;
        assert!(polls < 5_000, "the flusher never flushed");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(log);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk.crash())).expect("reopen");
    assert!(values(&log) == vec![(Kind::Append, 1, b"flushed by the thread".to_vec())]);
}

#[test]
fn an_invalid_config_is_refused_at_open_with_the_field_named() {
    let disk = SimStorage::new(9);
    let config = Config {
        io_bufs: 1,
        ..small(SegmentMode::Linear)
    };
    let err = Log::open(config, storage(&disk)).expect_err("one buffer");
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("io_bufs")),
        "{err}"
    );
}

#[test]
fn reopening_with_another_segment_size_is_refused_not_read_as_empty() {
    let disk = SimStorage::new(10);
    let log = Log::open(small(SegmentMode::Linear), storage(&disk)).expect("open");
    log.write(Kind::Append, 1, b"kept").expect("write");
    log.flush().expect("flush");
    drop(log);
    let disk = disk.crash();
    let other = Config {
        segment_size_bytes: 2048,
        io_buf_size_bytes: 2048,
        ..small(SegmentMode::Linear)
    };
    let err = Log::open(other, storage(&disk)).expect_err("segment size changed");
    assert!(
        matches!(&err, Error::InvalidConfig(m) if m.contains("1024")),
        "{err}"
    );
    let log = Log::open(small(SegmentMode::Linear), storage(&disk)).expect("same size");
    assert_eq!(values(&log).len(), 1);
}
