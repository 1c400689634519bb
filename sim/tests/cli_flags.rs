//! Every bad flag value is a usage error (exit 2, a message naming the flag) before any
//! seed runs: never a panic, and never a seed reported as an engine violation. One test
//! per rejected value, so a regression names the flag.

mod common;

use common::sim;

/// `args` must exit 2 with a message containing `names`, having run no seed.
fn rejected(args: &[&str], names: &str) {
    let (code, text) = sim(args);
    assert_eq!(code, 2, "{args:?} exited {code}:\n{text}");
    assert!(
        text.contains(names),
        "{args:?}: the message does not name {names:?}:\n{text}"
    );
    for never in ["panicked", "VIOLATION", "FAIL seed", "seeds/s"] {
        assert!(!text.contains(never), "{args:?} printed {never:?}:\n{text}");
    }
}

macro_rules! rejects {
    ($($name:ident: [$($arg:expr),*] names $what:expr;)*) => {
        $(
            #[test]
            fn $name() {
                rejected(&[$($arg),*], $what);
            }
        )*
    };
}

rejects! {
    segment_not_a_power_of_two: ["run", "--seeds", "0..2", "--pins", "segment=3"] names "segment=3";
    segment_too_large: ["run", "--seeds", "0..2", "--pins", "segment=1099511627776"] names "segment=";
    segment_not_a_number: ["run", "--seeds", "0..2", "--pins", "segment=big"] names "segment=big";
    zero_clients: ["run", "--seeds", "0..2", "--pins", "clients=0"] names "clients=0";
    too_many_clients: ["run", "--seeds", "0..2", "--pins", "clients=17"] names "clients=17";
    negative_crash_rate: ["run", "--seeds", "0..2", "--pins", "crash=-1"] names "crash=-1";
    crash_rate_above_one: ["run", "--seeds", "0..2", "--pins", "crash=2"] names "crash=2";
    fault_rate_above_one: ["run", "--seeds", "0..2", "--pins", "rate=5"] names "rate=5";
    zero_buffers: ["run", "--seeds", "0..2", "--pins", "bufs=0"] names "bufs=0";
    too_many_buffers: ["run", "--seeds", "0..2", "--pins", "bufs=65"] names "bufs=65";
    zero_blob_threshold: ["run", "--seeds", "0..2", "--pins", "blob=0"] names "blob=0";
    blob_threshold_past_any_segment: ["run", "--seeds", "0..2", "--pins", "blob=100000"] names "blob=100000";
    blob_threshold_past_the_pinned_segment: ["run", "--seeds", "0..2", "--pins", "segment=4096,blob=5000"] names "blob=5000";
    cleanup_out_of_range: ["run", "--seeds", "0..2", "--pins", "cleanup=500"] names "out of range";
    cleanup_zero: ["run", "--seeds", "0..2", "--pins", "cleanup=0"] names "cleanup=0";
    unknown_mode: ["run", "--seeds", "0..2", "--pins", "mode=fast"] names "mode=fast";
    unknown_pin: ["run", "--seeds", "0..2", "--pins", "speed=3"] names "speed";
    pin_without_a_value: ["run", "--seeds", "0..2", "--pins", "segment"] names "segment";
    zero_ops: ["run", "--seeds", "0..2", "--ops", "0"] names "--ops";
    zero_ops_pin: ["run", "--seeds", "0..2", "--pins", "ops=0"] names "ops=0";
    zero_jobs: ["run", "--seeds", "0..2", "--jobs", "0"] names "--jobs";
    empty_seed_range: ["run", "--seeds", "5..5"] names "5..5";
    seed_range_without_dots: ["run", "--seeds", "7"] names "START..END";
    empty_fault_list: ["run", "--seeds", "0..2", "--faults", ""] names "empty";
    unknown_fault_class: ["run", "--seeds", "0..2", "--faults", "gremlins"] names "gremlins";
    unknown_liar: ["run", "--seeds", "0..2", "--liar", "sometimes"] names "sometimes";
    faults_at_without_a_plan: ["replay", "--seed", "1", "--faults-at", "3"] names "--plan";
    replay_bad_pin: ["replay", "--seed", "1", "--pins", "bufs=1"] names "bufs=1";
    demo_too_many_records: ["demo", "--records", "1000000"] names "--records";
    demo_zero_records: ["demo", "--records", "0"] names "--records";
    shrink_bad_pin: ["shrink", "--seed", "1", "--pins", "clients=99"] names "clients=99";
    page_replay_unknown_site_op: ["replay", "--pages", "--seed", "1", "--plan", "a0.1", "--faults-at", "frob:log#3"] names "frob:log#3";
    page_replay_two_sites_without_a_comma: ["replay", "--pages", "--seed", "1", "--plan", "a0.1", "--faults-at", "write:log#1 write:log#2"] names "not a fault site";
    page_replay_bad_step: ["replay", "--pages", "--seed", "1", "--plan", "zz9.1"] names "zz9.1";
    page_scenario_key_typo: ["replay", "--pages", "--scenario", "seed=1,page_cahce=2", "--plan", "a0.1"] names "page_cahce";
}

/// A shrink never overwrites a test already written (a committed regression test
/// could be lost): it says so and exits 2; `--force` replaces it.
#[test]
fn a_shrink_keeps_an_existing_test_unless_forced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8 path");
    let path = dir.path().join("sim_page_seed_18.rs");
    std::fs::write(&path, "// kept\n").expect("write");
    let args = [
        "shrink",
        "--pages",
        "--seed",
        "18",
        "--pins",
        "materializer=wrong",
        "--out",
        out,
    ];
    let (code, text) = sim(&args);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("--force"), "{text}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), "// kept\n");
    let (code, text) = sim(&[&args[..], &["--force"]].concat());
    assert_eq!(code, 0, "{text}");
    let written = std::fs::read_to_string(&path).expect("read");
    assert!(written.contains("fn sim_page_seed_18_"), "{written}");
}

/// Output piped into a reader that stops early ends the run quietly: no panic.
#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_a_replay_without_a_panic() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagelog-sim"))
        .args(["replay", "--seed", "3", "--verbose"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut first)
        .expect("a line");
    // The reader is dropped here: the pipe closes with most of the trace unread.
    let out = child.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!first.is_empty());
    assert!(!err.contains("panicked"), "{err}");
}

/// The last seed of the seed space runs once (a wrapping seed counter once ran past
/// it and panicked).
#[test]
fn a_range_at_the_end_of_the_seed_space_runs_its_one_seed() {
    let (code, text) = sim(&[
        "run",
        "--seeds",
        "18446744073709551614..18446744073709551615",
        "--ops",
        "10",
        "--json",
    ]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("\"seeds\":1,"), "{text}");
}

/// With stderr not a terminal (a CI log), progress comes as plain lines: seeds done,
/// failures, rate and ETA (every 10 s by default; every seed here).
#[test]
fn progress_lines_when_stderr_is_not_a_terminal() {
    let (code, text) = sim(&[
        "run",
        "--seeds",
        "0..3",
        "--ops",
        "20",
        "--progress-every",
        "0",
    ]);
    assert_eq!(code, 0, "{text}");
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("pagelog-sim: "))
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines[2].contains("3/3 seeds, 0 failed") && lines[2].contains("eta"),
        "{text}"
    );
}
