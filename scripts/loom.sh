#!/usr/bin/env bash
# CI tier: every run. Budget: under 10 minutes on 2 cores (the models themselves take
# seconds today; most of the time is compiling the crate with --cfg loom).
#
# Model-checks the engine's concurrency protocols with loom. The engine's atomics,
# locks and cells come from src/sync.rs, so the models run the real code.
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg loom"
export LOOM_MAX_PREEMPTIONS="${LOOM_MAX_PREEMPTIONS:-3}"
# A separate target dir keeps the loom build from invalidating the normal one.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/loom}"
cargo test --locked --release --test 'loom_*'
