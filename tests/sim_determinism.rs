//! Risk: a simulator whose runs depend on anything but (seed, calls), a hash-ordered
//! map, a clock, ambient randomness, cannot replay a failing seed.

mod common;

use common::{payload, sim};
use pagelog::io::{FaultRates, OpenMode, SimConfig, SimStorage, Storage};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A workload with every fault class on and three crashes; returns the trace hash and
/// every file's final bytes.
fn run(seed: u64) -> (u64, Vec<(String, Vec<u8>)>) {
    let faults = FaultRates {
        enospc_quota_bytes: Some(200_000),
        ..FaultRates::all(0.05)
    };
    let mut disk = sim(
        seed,
        SimConfig {
            faults,
            ..SimConfig::default()
        },
    );
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed);
    for _round in 0..3 {
        for _ in 0..60 {
            let name = format!("f{}", rng.random_range(0..4));
            let Ok(f) = disk.open(&name, OpenMode::Create) else {
                continue;
            };
            let at = rng.random_range(0..20_000);
            let len = rng.random_range(1..3000);
            let _ = f.write_at(&payload(rng.random(), len), at);
            let _ = f.read_at(&mut [0; 100], rng.random_range(0..20_000));
            match rng.random_range(0..6) {
                0 => drop(f.sync()),
                1 => drop(disk.sync_dir()),
                2 => drop(disk.rename(&name, &format!("f{}", rng.random_range(0..4)))),
                3 => drop(f.set_len(rng.random_range(0..20_000))),
                _ => {}
            }
        }
        disk.crash_after(rng.random_range(0..10));
        let _ = disk
            .open("late", OpenMode::Create)
            .and_then(|f| f.write_at(b"late", 0));
        disk = disk.crash();
    }
    let files = disk
        .names()
        .into_iter()
        .map(|n| (n.clone(), disk.read_file(&n).unwrap_or_default()))
        .collect();
    (disk.trace_hash(), files)
}

#[test]
fn same_seed_gives_identical_images_and_trace_hash() {
    for seed in 0..20 {
        let (h1, f1) = run(seed);
        let (h2, f2) = run(seed);
        assert_eq!(h1, h2, "seed {seed}");
        assert_eq!(f1, f2, "seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_runs() {
    let hashes: std::collections::BTreeSet<u64> = (0..20).map(|s| run(s).0).collect();
    assert_eq!(hashes.len(), 20, "every seed has its own trace");
}

#[test]
fn the_trace_hash_sees_data_not_just_call_shapes() {
    let a = SimStorage::new(1);
    let b = SimStorage::new(1);
    for (disk, byte) in [(&a, 1_u8), (&b, 2_u8)] {
        let f = disk.open("f", OpenMode::Create).expect("open");
        f.write_at(&[byte; 8], 0).expect("write");
    }
    assert_ne!(a.trace_hash(), b.trace_hash());
}
