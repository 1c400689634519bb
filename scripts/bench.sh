#!/usr/bin/env bash
# pagelog's benchmarks: the log against the raw disk (benches/log), then the
# simulator's speed. Prints every figure and ratio of one run; docs/performance.md
# records one with its machine.
#
#   scripts/bench.sh            full run (5 repetitions; about 7 minutes on 2 cores)
#   scripts/bench.sh --smoke    one short repetition of everything (CI: it must run,
#                               its figures mean little and no threshold is applied)
#
# Other arguments go to the log benchmark (--reps N, --dir D, --only CASE). Keep the
# machine otherwise idle: figures are wall-clock ratios.
set -euo pipefail
cd "$(dirname "$0")/.."

smoke=false
for a in "$@"; do
    [[ "$a" == "--smoke" ]] && smoke=true
done

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "== commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (uncommitted changes)')"
echo "== load: $(cut -d' ' -f1-3 /proc/loadavg)"

echo
echo "== log against the raw disk: cargo bench --bench log -- $*"
cargo bench --quiet --locked --bench log -- "$@"

echo
echo "== page cache: cargo bench --bench pagecache -- $*"
cargo bench --quiet --locked --bench pagecache -- "$@"

echo
echo "== simulator speed (release, every core)"
cargo build --quiet --release --locked -p pagelog-sim
sim=target/release/pagelog-sim
if $smoke; then
    runs=("--seeds 0..20" "--seeds 0..50 --ops 300 --pins segment=256")
else
    runs=("--seeds 0..300" "--seeds 0..300 --faults none"
        "--seeds 0..2000 --ops 300 --pins segment=256" "--seeds 0..2000 --ops 300 --faults none")
fi
printf '%-48s %14s %12s %26s\n' "campaign" "ops/s" "ops/s/core" "crash+recover cycles/s/core"
for r in "${runs[@]}"; do
    # shellcheck disable=SC2086
    out="$($sim run $r --progress-every 1000 2>/dev/null)"
    field() { awk -v k="$1" 'index($0, k) == 3 { print $NF }' <<<"$out"; }
    printf '%-48s %14s %12s %26s\n' "pagelog-sim run $r" "$(field 'simulated ops/s')" \
        "$(field 'ops/s/core')" "$(field 'crash+recover cycles/s/core')"
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
