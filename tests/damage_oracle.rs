//! Risk: recovery of a damaged log returns Ok while acknowledged messages are missing
//! or altered, in a way no hand-written case foresaw.
//!
//! Runs the `recover_image` fuzz body in its damaged-log mode (`pagelog::fuzzing`,
//! `damaged_log.rs`) over seeded random inputs, on stable, in every CI run: a seeded
//! workload's log, every message acknowledged, then 1 to 4 damage records (bit flips,
//! zeroed ranges, a stale segment header copied over another slot, rot in a segment
//! header), checked against the undamaged log's messages under both recovery modes.
//! A failure prints the input as hex; save it as `fuzz/corpus/recover_image/regress-..`
//! to keep it in the corpus replay. `PAGELOG_QC_SEED` explores other inputs.

use std::panic::{AssertUnwindSafe, catch_unwind};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const INPUTS: usize = 1500;

fn input(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let selector = 0x80 | rng.random_range(0..16u8);
    let mut data = vec![selector, rng.random(), rng.random_range(0..2u8)];
    for _ in 0..rng.random_range(1..=4) {
        let op = rng.random_range(0..4u8);
        let offset: u16 = if rng.random_bool(0.5) {
            rng.random_range(0..4096)
        } else {
            rng.random_range(0..16)
        };
        data.push(op);
        data.extend_from_slice(&offset.to_le_bytes());
        data.push(rng.random());
    }
    data
}

#[test]
fn damaged_logs_are_reported_or_recovered_whole() {
    let seed = std::env::var("PAGELOG_QC_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x0da3_a6ed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for i in 0..INPUTS {
        let data = input(&mut rng);
        let run = catch_unwind(AssertUnwindSafe(|| pagelog::fuzzing::recover_image(&data)));
        if run.is_err() {
            let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
            panic!("seed {seed}, input {i} failed: {hex}");
        }
    }
}
