//! Risk: recovery meets damage it cannot explain by a crash and returns Ok with
//! acknowledged data missing, or rewrites bytes it should have refused.
//!
//! Each test is a regression for a defect found by trying the log as a new user would
//! (issue 14), and each failed on the code before its fix:
//!
//! - a destroyed segment header in Linear mode left a silent hole: the walk accepted
//!   the next segment as if the damaged one had been freed (a Gc-only rule), returned
//!   the messages before and after it, and zeroed the damaged slot;
//! - rot in the newest segment was cut as a torn tail: nothing durable vouched for the
//!   stable lsn inside the last segment (default config: 321 of 1,000 flushed records
//!   came back, Ok);
//! - a file named `log` holding text or random bytes opened as an empty log and was
//!   rewritten with a segment header.
//!
//! The rules: under `AbsoluteConsistency` damage inside acknowledged data is
//! `Error::Corruption` and the open writes nothing; under `TolerateCorruptTail` the log
//! is cut at (or before) the damage, never skipped over it; a file that is not a
//! pagelog log is `Corruption` naming it in both modes.

mod common;

use std::sync::Arc;

use common::{payload, recovered};
use pagelog::LOG_FILE;
use pagelog::io::{SimStorage, StdStorage};
use pagelog::{Config, Error, Kind, Log, Lsn, RecoveryMode, SegmentMode};

fn linear_256() -> Config {
    Config {
        segment_size_bytes: 256,
        io_buf_size_bytes: 256,
        io_bufs: 2,
        blob_threshold_bytes: 100,
        segment_mode: SegmentMode::Linear,
        ..Config::default()
    }
}

fn tolerant(c: &Config) -> Config {
    Config {
        recovery_mode: RecoveryMode::TolerateCorruptTail,
        ..c.clone()
    }
}

/// `n` messages of `len` bytes, each flushed (acknowledged); returns the disk after a
/// power cut and the (lsn, value) of every message.
fn flushed(config: &Config, n: u32, len: usize, seed: u64) -> (SimStorage, Vec<(Lsn, Vec<u8>)>) {
    let disk = SimStorage::new(seed);
    let log = Log::open(config.clone(), Arc::new(disk.clone())).expect("open");
    let mut written = Vec::new();
    for i in 0..n {
        let v = payload(i, len);
        let p = log.write(Kind::Append, 1, &v).expect("write");
        log.flush().expect("flush");
        written.push((p.lsn, v));
    }
    let after = disk.crash();
    log.abandon();
    (after, written)
}

/// Opens `disk` under `config`; under AbsoluteConsistency it must report corruption
/// and leave every byte as it was; under TolerateCorruptTail it must recover a prefix
/// of `written` that stops at or before `damage_lsn`. Returns how many came back.
fn expect_reported_or_cut(
    disk: &SimStorage,
    config: &Config,
    written: &[(Lsn, Vec<u8>)],
    damage_lsn: Lsn,
    what: &str,
) -> usize {
    let image = disk.durable_file(LOG_FILE).expect("log file");
    let strict = Log::open(config.clone(), Arc::new(disk.clone()));
    match strict {
        Err(e) if e.is_corruption() => {}
        Err(e) => panic!("{what}: expected Corruption, got {e}"),
        Ok(log) => panic!(
            "{what}: opened Ok with {} of {} acknowledged messages",
            recovered(&log).len(),
            written.len()
        ),
    }
    assert!(
        disk.durable_file(LOG_FILE).expect("log") == image,
        "{what}: the refused open changed the log file"
    );
    let log = Log::open(tolerant(config), Arc::new(disk.clone())).expect("tolerant open");
    let got = recovered(&log);
    assert!(
        got[..] == written[..got.len()],
        "{what}: tolerant recovery is not a prefix"
    );
    let next = written.get(got.len()).map_or(Lsn::MAX, |w| w.0);
    assert!(
        next <= damage_lsn + 256,
        "{what}: tolerant recovery stopped at {} of {}, before lsn {next}, but the damage is at {damage_lsn}",
        got.len(),
        written.len()
    );
    got.len()
}

#[test]
fn a_destroyed_segment_header_in_linear_mode_is_reported_not_skipped() {
    let config = linear_256();
    for damage in ["zeroed", "bit 0", "bit 77", "bit 319"] {
        let (disk, written) = flushed(&config, 12, 40, 1);
        let slot = 256u64;
        match damage {
            "zeroed" => disk.forge(LOG_FILE, slot, &[0; 40]).expect("zero"),
            bit => {
                let b: u64 = bit[4..].parse().expect("bit");
                disk.flip_bit(LOG_FILE, slot + b / 8, (b % 8) as u8)
                    .expect("flip");
            }
        }
        let lsn_of_slot = written
            .iter()
            .map(|w| w.0)
            .find(|l| (256..512).contains(l))
            .expect("a message in slot 1");
        let kept = expect_reported_or_cut(&disk, &config, &written, lsn_of_slot, damage);
        assert!(
            kept <= written.iter().filter(|w| w.0 < 256).count(),
            "{damage}"
        );
    }
}

#[test]
fn rot_in_the_newest_segment_is_reported_not_cut_as_a_torn_tail() {
    let config = Config::default();
    let (disk, written) = flushed(&config, 1000, 20, 2);
    disk.flip_bit(LOG_FILE, 20_000, 3).expect("flip");
    expect_reported_or_cut(&disk, &config, &written, 20_000, "one bit at 20,000");
}

#[test]
fn rot_in_any_flushed_message_is_reported_once_a_later_write_vouches_for_it() {
    // Each message was flushed on its own, so every later buffer write vouches for
    // it, whichever segment holds it (several segments with 256 B, one by default).
    for config in [linear_256(), Config::default()] {
        for k in [0, 7, 30] {
            let (disk, written) = flushed(&config, 40, 30, 3);
            let image = disk.durable_file(LOG_FILE).expect("image");
            let at = image
                .windows(30)
                .position(|w| w == written[k].1.as_slice())
                .expect("payload on disk") as u64;
            disk.flip_bit(LOG_FILE, at + 5, 1).expect("flip");
            let what = format!(
                "payload of message {k}, {} B segments",
                config.segment_size_bytes
            );
            expect_reported_or_cut(&disk, &config, &written, written[k].0, &what);
        }
    }
}

fn foreign(bytes: &[u8]) -> SimStorage {
    let disk = SimStorage::new(4);
    let f =
        pagelog::io::Storage::open(&disk, LOG_FILE, pagelog::io::OpenMode::Create).expect("create");
    f.write_at(bytes, 0).expect("write");
    f.sync().expect("sync");
    pagelog::io::Storage::sync_dir(&disk).expect("sync dir");
    disk
}

#[test]
fn a_foreign_file_is_refused_in_every_mode_and_left_as_it_was() {
    let text = b"# my notes\nthis is not a log\n".repeat(40);
    let random: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let short = b"hello".to_vec();
    for (what, bytes) in [("text", text), ("random", random), ("five bytes", short)] {
        for config in [Config::default(), linear_256()] {
            for config in [config.clone(), tolerant(&config)] {
                let disk = foreign(&bytes);
                let e = Log::open(config.clone(), Arc::new(disk.clone()))
                    .expect_err(&format!("{what} opened as a log"));
                assert!(e.is_corruption(), "{what}: {e}");
                assert!(e.to_string().contains(LOG_FILE), "{what}: {e}");
                assert_eq!(disk.read_file(LOG_FILE).expect("file"), bytes, "{what}");
            }
        }
    }
}

#[test]
fn an_empty_or_all_zero_file_opens_as_an_empty_log() {
    for bytes in [vec![], vec![0; 100], vec![0; 9000]] {
        let disk = foreign(&bytes);
        let log = Log::open(linear_256(), Arc::new(disk.clone())).expect("open");
        log.write(Kind::Append, 1, b"first").expect("write");
        log.close().expect("close");
        let log = Log::open(linear_256(), Arc::new(disk.crash())).expect("reopen");
        assert_eq!(recovered(&log).len(), 1);
    }
}

#[test]
fn a_foreign_file_on_real_files_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("log"), "not a log\n").expect("write");
    let storage = Arc::new(StdStorage::open(dir.path()).expect("storage"));
    let e = Log::open(Config::default(), storage).expect_err("refused");
    assert!(matches!(e, Error::Corruption { .. }), "{e}");
    let after = std::fs::read(dir.path().join("log")).expect("read");
    assert_eq!(after, b"not a log\n");
}

fn blob_config(mode: SegmentMode) -> Config {
    Config {
        segment_size_bytes: 4096,
        io_buf_size_bytes: 4096,
        io_bufs: 2,
        blob_threshold_bytes: 200,
        segment_mode: mode,
        ..Config::default()
    }
}

fn blob_files(disk: &SimStorage) -> Vec<String> {
    disk.names()
        .into_iter()
        .filter(|n| n.starts_with("blob-"))
        .collect()
}

/// Regression (issue 14, defect 5): a Gc log whose blob file was deleted skipped the
/// acknowledged message silently (Linear reported Corruption). A live message's blob
/// is removed by nothing, so its absence is damage in both modes: reported at open,
/// with nothing written, and at read time if it goes missing while the log is open.
#[test]
fn a_missing_blob_of_a_live_message_is_corruption_in_both_modes() {
    for mode in [SegmentMode::Gc, SegmentMode::Linear] {
        let config = blob_config(mode);
        let disk = SimStorage::new(9);
        let log = Log::open(config.clone(), Arc::new(disk.clone())).expect("open");
        log.write(Kind::Append, 1, b"small").expect("write");
        let big = log.write(Kind::Append, 2, &payload(7, 1000)).expect("blob");
        log.close().expect("close");
        let names = blob_files(&disk);
        assert_eq!(names.len(), 1, "{mode:?}: one blob file");
        pagelog::io::Storage::remove(&disk, &names[0]).expect("delete the blob");
        let image = disk.read_file(LOG_FILE).expect("log");
        let e = Log::open(config.clone(), Arc::new(disk.clone())).expect_err("reported");
        assert!(
            e.is_corruption() && e.to_string().contains(&names[0]),
            "{mode:?}: {e}"
        );
        assert_eq!(
            disk.read_file(LOG_FILE).expect("log"),
            image,
            "{mode:?}: wrote"
        );
        let _ = big;
    }
}

#[test]
fn a_blob_deleted_while_the_log_is_open_is_corruption_when_read() {
    for mode in [SegmentMode::Gc, SegmentMode::Linear] {
        let config = blob_config(mode);
        let disk = SimStorage::new(10);
        let log = Log::open(config, Arc::new(disk.clone())).expect("open");
        let big = log.write(Kind::Append, 2, &payload(7, 1000)).expect("blob");
        log.flush().expect("flush");
        let names = blob_files(&disk);
        pagelog::io::Storage::remove(&disk, &names[0]).expect("delete the blob");
        let e = log.read(big).expect_err("read of a live message");
        assert!(e.is_corruption(), "{mode:?}: {e}");
        let first = log.iter_from(0).expect("iter").next().expect("an item");
        assert!(
            first.is_err_and(|e| e.is_corruption()),
            "{mode:?}: iteration"
        );
    }
}

/// The other side of the rule: in Gc mode a superseded message's blob may be gone
/// (reclaimed once the replacement was durable), and the open and iteration go on.
#[test]
fn a_reclaimed_blob_of_a_superseded_message_is_not_damage() {
    let config = blob_config(SegmentMode::Gc);
    let disk = SimStorage::new(11);
    let log = Log::open(config.clone(), Arc::new(disk.clone())).expect("open");
    log.write(Kind::Append, 2, &payload(7, 1000)).expect("blob");
    log.write(Kind::Replace, 2, b"replaced").expect("replace");
    for i in 0..200u32 {
        log.write(Kind::Append, 3, &payload(i, 100))
            .expect("filler");
        log.flush().expect("flush");
    }
    log.close().expect("close");
    for name in blob_files(&disk) {
        pagelog::io::Storage::remove(&disk, &name).expect("delete");
    }
    let log = Log::open(config, Arc::new(disk.crash())).expect("open");
    for m in log.iter_from(0).expect("iter") {
        let m = m.expect("no damage");
        assert_ne!(
            m.value,
            payload(7, 1000),
            "the replaced blob's value came back"
        );
    }
}
