//! The crash demo: the storage fault model made visible.
//!
//! A seeded writer appends records to one file on a `SimStorage`, syncing now and then;
//! `crash_after` cuts the power at a seeded storage call. After the crash every record
//! is compared with what was written: a record covered by a successful sync must be
//! intact (the demo exits 1 otherwise); the others may be intact, vanished or torn.

use std::process::ExitCode;

use clap::Args;
use pagelog::io::{OpenMode, SimStorage, Storage};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Flags of `pagelog-sim demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Seed for the writer and the disk.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records to attempt before the power cut: 1 to 10,000 (the demo keeps each
    /// record and the whole simulated disk in memory, and checks every byte).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    records: u32,
}

struct Record {
    offset: u64,
    bytes: Vec<u8>,
    synced: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Intact,
    Vanished,
    Torn,
}

/// Runs the demo; the exit code says whether every synced record survived.
pub fn run(args: &DemoArgs) -> ExitCode {
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let disk = SimStorage::new(args.seed);
    let calls_before_cut = rng.random_range(4..u64::from(args.records) * 2 + 6);
    let records = write_until_cut(&disk, &mut rng, args.records, calls_before_cut);
    let after = disk.crash();
    let image = after.read_file("demo.log").unwrap_or_default();
    println!(
        "seed {}: power cut after {calls_before_cut} storage calls; {} records written, file survived with {} bytes",
        args.seed,
        records.len(),
        image.len()
    );
    println!(
        "{:>4} {:>7} {:>6} {:>7} outcome",
        "rec", "offset", "bytes", "synced"
    );
    let mut broken = 0;
    for (i, r) in records.iter().enumerate() {
        let outcome = classify(&image, r);
        let flag = if r.synced && outcome != Outcome::Intact {
            broken += 1;
            "  <-- SYNCED RECORD DAMAGED"
        } else {
            ""
        };
        println!(
            "{i:>4} {:>7} {:>6} {:>7} {outcome:?}{flag}",
            r.offset,
            r.bytes.len(),
            r.synced
        );
    }
    let stats = after.stats();
    println!(
        "unsynced writes at the cut: {} persisted, {} vanished, {} torn; trace hash {:016x}",
        stats.writes_persisted,
        stats.writes_vanished,
        stats.writes_torn,
        after.trace_hash()
    );
    if broken > 0 {
        println!("FAIL: {broken} synced records damaged");
        return ExitCode::FAILURE;
    }
    println!("ok: every synced record survived");
    ExitCode::SUCCESS
}

/// Appends records (syncing about one call in three) until the disk stops answering.
fn write_until_cut(disk: &SimStorage, rng: &mut ChaCha8Rng, count: u32, cut: u64) -> Vec<Record> {
    disk.crash_after(cut);
    let mut records = Vec::new();
    let Ok(file) = disk.open("demo.log", OpenMode::Create) else {
        return records;
    };
    if disk.sync_dir().is_err() {
        return records;
    }
    let mut offset = 0_u64;
    for id in 0..count {
        let len = rng.random_range(100..1500_usize);
        // Payload bytes are never zero, so a vanished byte can't pass for a written one.
        let bytes = vec![(id % 255) as u8 + 1; len];
        if file.write_at(&bytes, offset).is_err() {
            break;
        }
        records.push(Record {
            offset,
            bytes,
            synced: false,
        });
        offset += len as u64;
        if rng.random_bool(0.3) {
            if file.sync().is_err() {
                break;
            }
            records.iter_mut().for_each(|r| r.synced = true);
        }
    }
    records
}

fn classify(image: &[u8], r: &Record) -> Outcome {
    let start = r.offset as usize;
    let same = r
        .bytes
        .iter()
        .enumerate()
        .filter(|(i, b)| image.get(start + i) == Some(b))
        .count();
    match same {
        0 => Outcome::Vanished,
        n if n == r.bytes.len() => Outcome::Intact,
        _ => Outcome::Torn,
    }
}
