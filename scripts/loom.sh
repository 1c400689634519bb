#!/usr/bin/env bash
# CI tier: every run. Budget: under 10 minutes on 2 cores. Measured here (2 cores,
# LOOM_MAX_PREEMPTIONS=3): about 45 s in all, ~25 s compiling with --cfg loom and
# ~20 s exploring (the salt model is the largest, ~14 s; the page table's, under 1 s).
#
# Model-checks the engine's concurrency protocols with loom. The engine's atomics,
# locks and cells come from src/sync.rs, so the models run the real code:
#   tests/loom_iobuf.rs   IO-buffer seal and write through the real Log; poison and wake
#   tests/loom_stable.rs  stable interval over out-of-order writes; waiters; poison
#   tests/loom_salt.rs    a stale claim against a reused buffer (the header salt, I9)
#   tests/loom_commit.rs  group commit: a flush riding on another thread's sync
#   tests/loom_pagetable.rs  the page table: a link racing a replace, a page-out
#                         racing a link, a reader pinned over a replaced view (with
#                         crossbeam-epoch under loom: --cfg crossbeam_loom)
# Each test file's doc lists the engine mutations its models were shown to catch.
# Usage: scripts/loom.sh [test-name-filter]   (LOOM_MAX_PREEMPTIONS overrides 3)
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom --cfg crossbeam_loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
# A separate target dir keeps the loom build from invalidating the normal one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
cargo clippy --locked --release --test 'loom_*' -- -D warnings
cargo test --locked --release --test 'loom_*' -- "$@"
