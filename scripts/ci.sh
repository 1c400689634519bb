#!/usr/bin/env bash
# CI tier: every run. Budget: under 20 minutes on 2 cores from a clean clone,
# compiling included; measured 17.0 minutes on an idle machine at 77279ef (395
# results), 19.4 at 4400b12 (397) and 19.5 at 7bff5d2 (414 results, idle). To stay
# under it as tests grow, the fuzz smoke went from 30 to 20 s per target and the
# extra quickcheck seeds from 20 to 12 at cb698df (about a minute back): 18.5
# minutes at e411ea7, 18.9 at 62b3d78 (411 results). A fifth fuzz target
# (recover_pagecache) came with snapshots, so the smoke went to 16 s per target
# (the same 80 s in all): 16.1 minutes at 9ff1cb5 (434 results, idle machine);
# 13.7 minutes at 5dcd2a0 (444 results).
# What dominates: compiling (about 5 minutes: debug, test, loom, release and fuzz
# profiles), the 2,000-seed campaign with every fault class (about 3.5 to 4.5
# minutes, 205 to 280 s; each seed number runs a log seed and a page seed, and the
# 2,000 page seeds take about 7 s of it), the test suite with the kill -9 test (about 3), the fuzz smoke (under
# 2: 16 s for each of 5 targets), the failpoint suite (under 1: log and page-cache workloads),
# the benchmark smoke (under 1). The README's test command.
#
# Runs: rustfmt check, clippy with warnings denied, the whole test suite (unit,
# integration, quickcheck properties, fuzz-corpus replay, the simulator's CLI tests),
# the log crash property under 12 more seeds, the failpoint crash suite (feature
# `failpoints`), the kill -9 crash test, a 2,000-seed simulation campaign, the loom
# models (scripts/loom.sh), a 16 s fuzz smoke per target (with nightly), the
# benchmark smoke, and the crash demo over a few seeds.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

results="$(mktemp)"
trap 'rm -f "$results"' EXIT
# A step that prints no libtest line of its own records one when it passes (set -e
# has stopped the run if it failed), so the closing count covers every step.
pass() { echo "test result: ok. 1 passed; 0 failed; ($*)" | tee -a "$results"; }

step "cargo fmt --check"
cargo fmt --all -- --check
pass "rustfmt"

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --all-targets --locked --features failpoints -- -D warnings
pass "clippy"

step "cargo doc -D warnings"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
pass "rustdoc"

step "cargo test"
cargo test --workspace --locked 2>&1 | tee -a "$results"

step "log crash property, 12 more quickcheck seeds (12,000 cases, release)"
for seed in $(seq 1 12); do
    PAGELOG_QC_SEED="$seed" cargo test --quiet --release --locked --test log_crash_property \
        recovery_is 2>&1 | grep -E '^test result|Arguments|seed [0-9]+:' | tee -a "$results"
done

step "failpoint crash suite: a power cut at each failpoint's first 8 hits, 12 workloads"
cargo test --locked --features failpoints --test failpoints 2>&1 | tee -a "$results"

step "loom models"
bash scripts/loom.sh 2>&1 | tee -a "$results"

# Every fault class on in every seed (header damage included, coverage required).
step "simulation campaign: seeds 0..2000, every fault class on, coverage required"
cargo run --quiet --release --locked -p pagelog-sim -- run --seeds 0..2000 \
    --faults all --require-coverage
pass "campaign 0..2000"

# 16 s per fuzz target when the nightly toolchain is here (installs cargo-fuzz if
# needed); says so and skips otherwise. Any crash fails the run.
step "fuzz smoke: every target for 16 s"
bash scripts/fuzz.sh smoke 16
pass "fuzz smoke"

# The benchmarks in smoke mode (one short repetition of every case, no thresholds):
# they must keep running; their figures mean little on a shared CI machine.
step "benchmark smoke: scripts/bench.sh --smoke"
bash scripts/bench.sh --smoke
pass "benchmark smoke"

step "crash demo, seeds 1..5"
for seed in 1 2 3 4 5; do
    cargo run --quiet --release --locked -p pagelog-sim -- demo --seed "$seed" | tail -n 1
done
pass "crash demo"

# One closing line summing every "test result" line above.
awk '/^test result:/ { p += $4; f += $6 } END { printf "\nci: %d passed, %d failed\n", p, f }' "$results"
