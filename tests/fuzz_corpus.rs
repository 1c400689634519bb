//! Risk: a crash a fuzzer found once coming back. Every file under fuzz/corpus/TARGET
//! and fuzz/artifacts/TARGET is replayed through the same library body cargo-fuzz runs
//! (`pagelog::fuzzing`), on stable, in every CI run. `fuzz/artifacts` is scratch (not
//! committed): a crash a fuzzer finds is fixed, then kept as
//! `fuzz/corpus/TARGET/regress-<what>`, so the replay holds it fixed for good.
//!
//! The seed corpora are written by `write_seed_corpora` (ignored; run it with
//! `cargo test --test fuzz_corpus -- --ignored` after a format change, and commit the
//! files): valid logs, a multi-segment log, a torn tail, a batch, blobs.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
use common::Numbers;

use pagelog::LOG_FILE;
use pagelog::internals::blob::blob_name;
use pagelog::io::{OpenMode, SimStorage, Storage};
use pagelog::{Config, Kind, Log, PageCache, RecoveryMode, SegmentMode};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

fn replay(target: &str, body: fn(&[u8])) -> usize {
    let mut count = 0;
    for kind in ["corpus", "artifacts"] {
        let Ok(entries) = fs::read_dir(fuzz_dir().join(kind).join(target)) else {
            continue;
        };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let bytes = fs::read(&path).expect("read corpus file");
            body(&bytes);
            count += 1;
        }
    }
    count
}

#[test]
fn storage_crash_corpus_replays_clean() {
    let n = replay("storage_crash", pagelog::fuzzing::storage_crash);
    assert!(n >= 3, "the committed seed corpus is missing ({n} files)");
}

#[test]
fn recover_image_corpus_replays_clean() {
    let n = replay("recover_image", pagelog::fuzzing::recover_image);
    assert!(n >= 5, "the committed seed corpus is missing ({n} files)");
}

#[test]
fn ops_then_crash_corpus_replays_clean() {
    let n = replay("ops_then_crash", pagelog::fuzzing::ops_then_crash);
    assert!(n >= 3, "the committed seed corpus is missing ({n} files)");
}

#[test]
fn recover_pagecache_corpus_replays_clean() {
    let n = replay("recover_pagecache", pagelog::fuzzing::recover_pagecache);
    assert!(n >= 6, "the committed seed corpus is missing ({n} files)");
}

#[test]
fn format_roundtrip_corpus_replays_clean() {
    let n = replay("format_roundtrip", pagelog::fuzzing::format_roundtrip);
    assert!(n >= 3, "the committed seed corpus is missing ({n} files)");
}

// ------------------------------------------------------------ seed corpus writer

/// The config `recover_image` derives from selector byte 0: 256 B segments, Linear,
/// AbsoluteConsistency.
fn selector0() -> Config {
    Config {
        segment_size_bytes: 256,
        io_buf_size_bytes: 256,
        io_bufs: 2,
        blob_threshold_bytes: 64,
        segment_mode: SegmentMode::Linear,
        recovery_mode: RecoveryMode::AbsoluteConsistency,
        ..Config::default()
    }
}

/// A `recover_image` input: selector 0, the log image, then the blob files.
fn image_input(disk: &SimStorage, blobs: &[u64], cut: Option<usize>) -> Vec<u8> {
    let mut log = disk.read_file(LOG_FILE).expect("log file");
    if let Some(len) = cut {
        log.truncate(len);
    }
    let mut input = vec![0];
    input.extend_from_slice(&u16::try_from(log.len()).expect("small log").to_le_bytes());
    input.extend_from_slice(&log);
    for &lsn in blobs {
        let blob = disk.read_file(&blob_name(lsn)).expect("blob file");
        input.extend_from_slice(&lsn.to_le_bytes());
        input.extend_from_slice(&u16::try_from(blob.len()).expect("small blob").to_le_bytes());
        input.extend_from_slice(&blob);
    }
    input
}

/// Writes `n` messages (every fifth one a blob) and flushes; returns the blob lsns.
fn fill(log: &Log, n: u8) -> Vec<u64> {
    let mut blobs = Vec::new();
    for i in 0..n {
        let len = if i % 5 == 4 {
            100
        } else {
            10 + usize::from(i) * 3
        };
        let ptr = log
            .write(Kind::Append, u64::from(i % 4), &vec![i; len])
            .expect("write");
        if len > 64 {
            blobs.push(ptr.lsn);
        }
    }
    log.flush().expect("flush");
    blobs
}

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = fuzz_dir().join("corpus").join(target);
    fs::create_dir_all(&dir).expect("corpus dir");
    fs::write(dir.join(name), bytes).expect("write corpus file");
}

fn recover_image_seeds() {
    let disk = SimStorage::new(1);
    let log = Log::open(selector0(), Arc::new(disk.clone())).expect("open");
    let blobs = fill(&log, 12);
    write(
        "recover_image",
        "multi-segment",
        &image_input(&disk, &blobs, None),
    );
    let full = disk.read_file(LOG_FILE).expect("log").len();
    write(
        "recover_image",
        "torn-tail",
        &image_input(&disk, &blobs, Some(full - 7)),
    );
    write(
        "recover_image",
        "missing-blobs",
        &image_input(&disk, &[], None),
    );
    let mut b = log.pin_batch().expect("batch");
    for i in 0..3 {
        b.write(Kind::Append, 9, &[0xB0 + i; 20])
            .expect("batch write");
    }
    b.seal().expect("seal");
    log.flush().expect("flush");
    write("recover_image", "batch", &image_input(&disk, &blobs, None));
    drop(log);
    let after = disk.crash();
    let log = Log::open(selector0(), Arc::new(after.clone())).expect("reopen");
    let more = fill(&log, 4);
    let all: Vec<u64> = blobs.iter().chain(&more).copied().collect();
    write(
        "recover_image",
        "two-runs",
        &image_input(&after, &all, None),
    );
    // Damaged-log mode (selector high bit): a seeded workload, then damage records
    // [op, offset lo, offset hi, arg]; see pagelog::fuzzing's damaged_log.rs.
    let damaged: [(&str, &[u8]); 5] = [
        ("damaged-linear-flip", &[0x80, 7, 0, 0, 0x20, 0x01, 3]),
        (
            "damaged-gc-flip-flush-only",
            &[0x84, 9, 1, 0, 0x80, 0x00, 5],
        ),
        ("damaged-linear-header-rot", &[0x81, 3, 0, 3, 1, 0, 17]),
        ("damaged-gc-stale-header", &[0x85, 5, 0, 2, 0, 0, 2]),
        ("damaged-tolerant-zeroed", &[0x88, 11, 1, 1, 0x10, 0x01, 90]),
    ];
    for (name, input) in damaged {
        write("recover_image", name, input);
    }
    let empty = SimStorage::new(2);
    let file = empty.open(LOG_FILE, OpenMode::Create).expect("create");
    file.sync().expect("sync");
    write("recover_image", "empty", &image_input(&empty, &[], None));
}

/// `ops_then_crash` inputs: a seed, then 3-byte steps (see its module doc).
fn ops_seeds() {
    let steps = |seed: u64, ops: &[[u8; 3]]| {
        let mut v = seed.to_le_bytes().to_vec();
        ops.iter().for_each(|s| v.extend_from_slice(s));
        v
    };
    let writes = [
        [0, 1, 2],
        [1, 40, 3],
        [16, 2, 1],
        [7, 0, 0],
        [0, 200, 4],
        [14, 1, 0],
    ];
    write("ops_then_crash", "writes-flush-crash", &steps(1, &writes));
    let batch = [
        [9, 0, 0],
        [10, 0, 30],
        [10, 0, 90],
        [11, 0, 0],
        [8, 0, 0],
        [14, 1, 0],
    ];
    write("ops_then_crash", "batch", &steps(2, &batch));
    let inside = [
        [4, 1, 5],
        [0, 2, 3],
        [5, 1, 0],
        [6, 2, 0],
        [15, 3, 0],
        [7, 0, 0],
        [13, 0, 0],
    ];
    write("ops_then_crash", "crash-inside", &steps(3, &inside));
}

fn format_seeds() {
    let header = pagelog::internals::format::SegmentHeader {
        segment_lsn: 512,
        stable_lsn: 100,
        prev_end: 200,
        size_log2: 8,
        nonce: pagelog::internals::format::Nonce(7),
    };
    write("format_roundtrip", "segment-header", &header.encode());
    write("format_roundtrip", "zeros", &[0; 64]);
    let text = b"pagelog format round trip seed with some payload bytes after the header";
    write("format_roundtrip", "text", text);
}

/// `recover_pagecache` inputs: damage records `[what, offset lo, offset hi, xor]`
/// after the selector, or (selector high bit) a whole snapshot file; see its module
/// doc.
fn pagecache_seeds() {
    let damaged: [(&str, &[u8]); 6] = [
        ("intact-gc", &[0]),
        ("intact-linear", &[1]),
        ("newer-snapshot-flip", &[2, 0, 40, 0, 0x10]),
        ("both-snapshots-flip", &[4, 0, 9, 0, 1, 1, 60, 0, 0x80]),
        ("newer-snapshot-cut", &[6, 3, 30, 0, 0]),
        ("log-flip", &[8, 2, 0, 2, 4]),
    ];
    for (name, input) in damaged {
        write("recover_pagecache", name, input);
    }
    // Whole snapshot files of a store like the body's (1 KiB segments, Gc).
    let config = Config {
        segment_size_bytes: 1024,
        io_buf_size_bytes: 1024,
        io_bufs: 2,
        blob_threshold_bytes: 200,
        snapshot_every_bytes: 0,
        ..Config::default()
    };
    let disk = SimStorage::new(3);
    let pc = PageCache::open(config, Arc::new(disk.clone()), Numbers).expect("open");
    let a = pc.allocate(vec![1, 2, 3]).expect("allocate");
    pc.allocate(vec![4]).expect("allocate");
    pc.link(&a, vec![5]).expect("link");
    pc.cas_root("r", None, Some(a.pid()))
        .expect("root")
        .expect("set");
    pc.flush().expect("flush");
    let lsn = pc.snapshot().expect("snapshot");
    let bytes = disk
        .read_file(&pagelog::pagecache::snapshot::file_name(lsn))
        .expect("snapshot file");
    let whole = |b: &[u8]| [&[0x80][..], b].concat();
    write("recover_pagecache", "snapshot-whole", &whole(&bytes));
    write(
        "recover_pagecache",
        "snapshot-half",
        &whole(&bytes[..bytes.len() / 2]),
    );
}

#[test]
#[ignore = "writes the committed seed corpora; run after a format change"]
fn write_seed_corpora() {
    pagecache_seeds();
    recover_image_seeds();
    ops_seeds();
    format_seeds();
}
