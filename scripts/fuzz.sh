#!/usr/bin/env bash
# Fuzzing tier: scripts only (CI runs the 60 s smoke, `scripts/fuzz.sh smoke`).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
#
# Usage:
#   scripts/fuzz.sh TARGET SECONDS   fuzz one target (recover_image, recover_pagecache,
#                                    ops_then_crash,
#                                    format_roundtrip, storage_crash) for SECONDS
#   scripts/fuzz.sh smoke [SECONDS]  every target for SECONDS (default 60) each;
#                                    without nightly it says so and exits 0
# New inputs go to fuzz/work/TARGET (not committed; copy the interesting ones to the
# seed corpus fuzz/corpus/TARGET, which every run also reads); a crash goes to
# fuzz/artifacts/TARGET, fails the script, and is replayed on stable by
# tests/fuzz_corpus.rs once committed. Minimise one with
#   cd fuzz && cargo +nightly fuzz tmin TARGET artifacts/TARGET/crash-...
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=(recover_image recover_pagecache ops_then_crash format_roundtrip storage_crash)

have_nightly() { rustup toolchain list 2>/dev/null | grep -q '^nightly'; }

ensure_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "installing cargo-fuzz"
        cargo install cargo-fuzz --locked
    fi
}

# Per-target length flags. ops_then_crash reads at most 8 + 3 * 400 bytes (its
# MAX_STEPS), and its bugs need long plans: libFuzzer's default length control took
# 10 minutes to let inputs reach 135 bytes, so it starts at the full length.
length_flags() {
    case "$1" in
        ops_then_crash) echo "-max_len=1208 -len_control=0" ;;
        *) echo "-max_len=65536" ;;
    esac
}

run_one() {
    local target=$1 seconds=$2
    mkdir -p "fuzz/corpus/$target" "fuzz/work/$target"
    # -rss_limit_mb and -max_len keep a bad input from hiding behind memory or size;
    # -timeout fails an input that hangs.
    # shellcheck disable=SC2046
    (cd fuzz && cargo +nightly fuzz run "$target" "work/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 $(length_flags "$target") \
        -print_final_stats=1)
}

case "${1:-}" in
    smoke)
        if ! have_nightly; then
            echo "fuzz smoke: no nightly toolchain here, skipped (rustup toolchain install nightly)"
            exit 0
        fi
        ensure_cargo_fuzz
        for t in "${TARGETS[@]}"; do
            echo "== fuzz $t for ${2:-60} s"
            run_one "$t" "${2:-60}"
        done
        ;;
    "" | -h | --help)
        sed -n 2,15p "$0"
        ;;
    *)
        [[ $# -eq 2 ]] || { echo "usage: scripts/fuzz.sh TARGET SECONDS" >&2; exit 2; }
        have_nightly || { echo "fuzzing needs the nightly toolchain" >&2; exit 2; }
        ensure_cargo_fuzz
        run_one "$1" "$2"
        ;;
esac
