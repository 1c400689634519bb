//! Fuzz body `recover_image`: recovery reads a log (and blob files) shaped by the
//! input, as a crash, a bad disk or an attacker might have left them.
//!
//! Two modes, by the high bit of byte 0. Set: a seeded workload's log, damaged where
//! the input says and checked against the undamaged log's messages
//! (`damaged_log.rs`). Clear: a log image taken from the input as it is:
//!
//! Input layout:
//! - byte 0: the config (segment size 256 B to 2 KiB, Linear or Gc, recovery mode);
//! - bytes 1..3: `L`, little-endian; the next `L` bytes (or all that is left) are the
//!   log file;
//! - then blob files, each `[lsn: u64][len: u16][len bytes]`, until the input ends.
//!
//! Checks: opening returns Ok or a clean error (Corruption, or InvalidConfig when the
//! segment headers name another segment size), never panics; Ok only for a file that
//! is all zeros or holds a valid segment header (a foreign file is never taken for a
//! new log and rewritten); when it returns Ok, reading
//! every message back yields messages or a Corruption error (a damaged blob is found
//! only when read), never anything else; and a second open of what the first left
//! behind yields exactly the same messages (I7). Work is bounded by the input: the
//! files are at most the input's size, and nothing is read past them.

use crate::config::{Config, RecoveryMode, SegmentMode};
use crate::error::Error;
use crate::io::{OpenMode, SimStorage, Storage};
use crate::log::blob::blob_name;
use crate::log::format::{Place, SegmentHeader};
use crate::log::{Kind, LOG_FILE, Log, Lsn};
use crate::sync::Arc;

/// What one open read back: the messages, then whether a Corruption ended the read.
type Readback = (Vec<(Lsn, Kind, u64, Vec<u8>)>, bool);

/// Runs one input. Panics if recovery panics or the checks above fail.
pub fn recover_image(data: &[u8]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let config = config(selector);
    if selector & 0x80 != 0 {
        return super::damaged_log::damaged_log(config, rest);
    }
    let disk = SimStorage::new(u64::from(selector));
    place_files(&disk, rest);
    let image = disk.read_file(LOG_FILE).unwrap_or_default();
    let first = match Log::open(config.clone(), Arc::new(disk.clone())) {
        Ok(log) => readback(&log),
        Err(e) => return expect_clean_open(&e, config.segment_mode),
    };
    assert!(
        image.iter().all(|&b| b == 0) || has_segment_header(&image, config.segment_size_bytes),
        "a file with no valid segment header and non-zero bytes opened as a log"
    );
    let log = Log::open(config, Arc::new(disk)).expect("a log that opened once opens again");
    assert_eq!(
        readback(&log),
        first,
        "a second open recovered another state"
    );
}

/// Whether some slot of `image` starts with a valid segment header (its checksum and
/// fields check out): a file without one is not a pagelog log.
fn has_segment_header(image: &[u8], size: u64) -> bool {
    (0..image.len()).step_by(size as usize).any(|at| {
        let place = Place {
            file: LOG_FILE,
            offset: at as u64,
        };
        SegmentHeader::decode(&image[at..], place).is_ok()
    })
}

fn config(selector: u8) -> Config {
    let segment = 256_u64 << (selector % 4);
    Config {
        segment_size_bytes: segment,
        io_buf_size_bytes: segment as usize,
        io_bufs: 2,
        blob_threshold_bytes: 64,
        segment_mode: if selector & 4 == 0 {
            SegmentMode::Linear
        } else {
            SegmentMode::Gc
        },
        recovery_mode: if selector & 8 == 0 {
            RecoveryMode::AbsoluteConsistency
        } else {
            RecoveryMode::TolerateCorruptTail
        },
        ..Config::default()
    }
}

/// Writes the log and blob files the input describes, synced (no faults).
fn place_files(disk: &SimStorage, rest: &[u8]) {
    let (log_len, mut rest) = match rest.split_first_chunk::<2>() {
        Some((len, tail)) => (usize::from(u16::from_le_bytes(*len)), tail),
        None => (rest.len(), rest),
    };
    let (image, tail) = rest.split_at(log_len.min(rest.len()));
    write_file(disk, LOG_FILE, image);
    rest = tail;
    while let Some((lsn, tail)) = rest.split_first_chunk::<8>() {
        let Some((len, tail)) = tail.split_first_chunk::<2>() else {
            break;
        };
        let (bytes, tail) = tail.split_at(usize::from(u16::from_le_bytes(*len)).min(tail.len()));
        write_file(disk, &blob_name(u64::from_le_bytes(*lsn)), bytes);
        rest = tail;
    }
    disk.sync_dir().expect("fault-free sync_dir");
}

fn write_file(disk: &SimStorage, name: &str, bytes: &[u8]) {
    let file = disk
        .open(name, OpenMode::Create)
        .expect("fault-free create");
    file.set_len(0).expect("fault-free truncate");
    file.write_at(bytes, 0).expect("fault-free write");
    file.sync().expect("fault-free sync");
}

/// Every message, in order, until the end or the first error (which must be a
/// Corruption: the disk has no faults).
fn readback(log: &Log) -> Readback {
    let mode = log.config().segment_mode;
    let mut got = Vec::new();
    let iter = match log.iter_from(0) {
        Ok(iter) => iter,
        Err(e) => {
            expect_clean(&e, mode);
            return (got, true);
        }
    };
    for m in iter {
        match m {
            Ok(m) => got.push((m.lsn(), m.kind, m.pid, m.value)),
            Err(e) => {
                expect_clean(&e, mode);
                return (got, true);
            }
        }
    }
    (got, false)
}

/// A fault-free disk gives only Corruption (what the bytes say) as an error; in a Gc
/// log a missing blob file may also read as `NotFound` (a reclaimed message's blob).
fn expect_clean(e: &Error, mode: SegmentMode) {
    let reclaimed = mode == SegmentMode::Gc && e.is_not_found();
    assert!(
        matches!(e, Error::Corruption { .. }) || reclaimed,
        "reading a fault-free image failed with a non-corruption error: {e}"
    );
}

/// At open, also a config the log was not written with (its segment headers name
/// another segment size): `InvalidConfig`, which names both sizes.
fn expect_clean_open(e: &Error, mode: SegmentMode) {
    if !matches!(e, Error::InvalidConfig(_)) {
        expect_clean(e, mode);
    }
}
