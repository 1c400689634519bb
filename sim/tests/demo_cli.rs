//! Risk: the README's main command failing or printing nothing useful on a fresh machine.

use std::process::Command;

fn demo(seed: u64) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pagelog-sim"))
        .args(["demo", "--seed", &seed.to_string()])
        .output()
        .expect("run pagelog-sim");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn demo_keeps_every_synced_record_across_seeds() {
    let mut saw_torn = false;
    for seed in 0..30 {
        let (ok, text) = demo(seed);
        assert!(ok, "seed {seed} failed:\n{text}");
        assert!(text.contains("ok: every synced record survived"), "{text}");
        saw_torn |= text.contains("Torn");
    }
    assert!(
        saw_torn,
        "30 seeds and no torn record: the crash model is not tearing"
    );
}

#[test]
fn demo_replays_identically_for_a_seed() {
    assert_eq!(demo(42), demo(42));
    assert_ne!(demo(42).1, demo(43).1);
}
