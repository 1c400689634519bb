//! Risk: a nonsense `Config` panics (in `validate`, or in `open` after `validate`
//! accepted it) instead of returning a clear `InvalidConfig`.
//!
//! Regression: `Config { io_buf_size_bytes: 0, .. }` panicked in `validate` (a
//! subtraction overflowed in debug builds; release builds panicked with "empty IO
//! buffer" in `open`). The property below draws every field from a mix of edge values
//! (0, 1, powers of two and their neighbours, the type's maximum) and arbitrary ones,
//! and checks that `validate` never panics, that every rejection is `InvalidConfig`
//! naming a field, and that a log opened with an accepted config writes, flushes,
//! reopens and reads back its message.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::qc_gen;
use pagelog::io::{SimStorage, StdStorage, Storage};
use pagelog::{Config, Error, Kind, Log, Pointer, RecoveryMode, SegmentMode};
use quickcheck::{Arbitrary, Gen, QuickCheck, TestResult};

#[derive(Debug, Clone)]
struct AnyConfig(Config);

/// A value that is often at an edge: 0, 1, a power of two, one off a power of two, or
/// the maximum; otherwise arbitrary.
fn edgy(g: &mut Gen, max: u64) -> u64 {
    let shift = u64::from(u8::arbitrary(g) % 64);
    let power = 1u64.checked_shl(shift as u32).unwrap_or(0);
    let v = match u8::arbitrary(g) % 8 {
        0 => 0,
        1 => 1,
        2 | 3 => power,
        4 => power.saturating_sub(1),
        5 => power.saturating_add(1),
        6 => u64::MAX,
        _ => u64::arbitrary(g),
    };
    v.min(max)
}

/// A valid starting point: the default, the smallest simulated config, or one between.
fn valid_base(g: &mut Gen) -> Config {
    let tiny = Config {
        segment_size_bytes: 256,
        io_buf_size_bytes: 256,
        io_bufs: 2,
        blob_threshold_bytes: 64,
        ..Config::default()
    };
    let mid = Config {
        segment_size_bytes: 64 << 10,
        io_buf_size_bytes: 8 << 10,
        io_bufs: 3,
        blob_threshold_bytes: 1000,
        ..Config::default()
    };
    match u8::arbitrary(g) % 3 {
        0 => Config::default(),
        1 => tiny,
        _ => mid,
    }
}

impl Arbitrary for AnyConfig {
    /// A valid config with up to three fields replaced by edge or arbitrary values, so
    /// that both rejections and acceptances near the limits are drawn.
    fn arbitrary(g: &mut Gen) -> AnyConfig {
        let usize_max = usize::MAX as u64;
        let mut c = valid_base(g);
        for _ in 0..u8::arbitrary(g) % 4 {
            match u8::arbitrary(g) % 8 {
                0 => c.segment_size_bytes = edgy(g, u64::MAX),
                1 => c.io_buf_size_bytes = edgy(g, usize_max) as usize,
                2 => c.io_bufs = edgy(g, usize_max) as usize,
                3 => c.blob_threshold_bytes = edgy(g, usize_max) as usize,
                4 => c.cleanup_threshold_pct = edgy(g, 255) as u8,
                // A real flusher thread is not wanted here; 0 and 1 are the edges.
                5 => c.flush_every_ms = bool::arbitrary(g).then_some(edgy(g, 1)),
                6 => c.segment_mode = SegmentMode::Linear,
                _ => c.recovery_mode = RecoveryMode::TolerateCorruptTail,
            }
        }
        AnyConfig(c)
    }
}

const FIELDS: [&str; 6] = [
    "segment_size_bytes",
    "io_buf_size_bytes",
    "io_bufs",
    "blob_threshold_bytes",
    "cleanup_threshold_pct",
    "flush_every_ms",
];

fn validate_never_panics_and_accepted_configs_open(c: AnyConfig) -> TestResult {
    let config = c.0;
    let verdict = catch_unwind(AssertUnwindSafe(|| config.validate()));
    let Ok(verdict) = verdict else {
        return TestResult::error(format!("validate panicked on {config:?}"));
    };
    match verdict {
        Err(Error::InvalidConfig(msg)) => {
            if FIELDS.iter().any(|f| msg.contains(f)) {
                TestResult::passed()
            } else {
                TestResult::error(format!("rejection names no field: {msg}"))
            }
        }
        Err(e) => TestResult::error(format!("not InvalidConfig: {e:?}")),
        Ok(()) => match catch_unwind(AssertUnwindSafe(|| use_it(&config))) {
            Ok(Ok(())) => TestResult::passed(),
            Ok(Err(e)) => TestResult::error(format!("{config:?} accepted, then {e}")),
            Err(_) => TestResult::error(format!("open panicked on accepted {config:?}")),
        },
    }
}

/// How many drawn configs `validate` accepted (and so were opened).
static ACCEPTED: AtomicUsize = AtomicUsize::new(0);

/// Opens, writes one message, flushes, closes, reopens and reads it back: on the
/// simulated disk, or on real (sparse) files when segments are too large for the
/// simulator's in-memory files.
fn use_it(config: &Config) -> pagelog::Result<()> {
    ACCEPTED.fetch_add(1, Ordering::Relaxed);
    let config = Config {
        flush_every_ms: None,
        ..config.clone()
    };
    if config.segment_size_bytes <= 16 << 20 {
        let disk = SimStorage::new(5);
        let p = write_one(&config, Arc::new(disk.clone()))?;
        let log = Log::open(config, Arc::new(disk.crash()))?;
        assert_eq!(log.read(p)?.value, b"accepted");
        return Ok(());
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = Arc::new(StdStorage::open(dir.path())?);
    let p = write_one(&config, disk.clone())?;
    let log = Log::open(config, disk)?;
    assert_eq!(log.read(p)?.value, b"accepted");
    Ok(())
}

fn write_one(config: &Config, disk: Arc<dyn Storage>) -> pagelog::Result<Pointer> {
    let log = Log::open(config.clone(), disk)?;
    let p = log.write(Kind::Append, 1, b"accepted")?;
    log.flush()?;
    drop(log);
    Ok(p)
}

#[test]
fn any_config_is_rejected_cleanly_or_works() {
    QuickCheck::new()
        .rng(qc_gen(100))
        .tests(3_000)
        .max_tests(3_000)
        .quickcheck(validate_never_panics_and_accepted_configs_open as fn(AnyConfig) -> TestResult);
    let accepted = ACCEPTED.load(Ordering::Relaxed);
    eprintln!("{accepted} of 3,000 drawn configs were valid and opened");
    assert!(
        accepted >= 100,
        "only {accepted} valid configs drawn: the property tests little"
    );
}

/// The case that panicked, by name.
#[test]
fn a_zero_io_buffer_is_invalid_config() {
    let c = Config {
        io_buf_size_bytes: 0,
        ..Config::default()
    };
    let e = c.validate().expect_err("rejected");
    assert!(e.to_string().contains("io_buf_size_bytes"), "{e}");
}
