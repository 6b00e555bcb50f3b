#!/usr/bin/env bash
# fizzflow (unpaced, default channels and batches, checkpoints every 1 s, metrics on,
# every message verified) against the steady_state lesson it grew from
# (../shared/reference/steady-state-performant: 2 M-slot channels, no
# durability, no verification), alternating runs on the same machine.
# Prints both medians (messages / process wall time) and their ratio.
#
#   scripts/bench-vs-reference.sh [runs=3] [telemetry: off|on]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
telemetry=${2:-off}
ref_src=../shared/reference/steady-state-performant
ref_target=${REFERENCE_TARGET_DIR:-/tmp/reference-target}
if [ ! -d "$ref_src" ]; then
  echo "no reference at $ref_src; nothing to compare" >&2
  exit 1
fi
export SS_QUIET_BUILD=1
cargo build --release --quiet
(cd "$ref_src" && CARGO_TARGET_DIR="$ref_target" cargo build --release --quiet)
ref_bin="$ref_target/release/performant"
ff_bin=target/release/fizzflow
flags=(--rate 0 --beats 150000 --progress off --metrics-addr 127.0.0.1:0 --checkpoint-interval 1000)
[ "$telemetry" = off ] && flags+=(--no-telemetry)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
# rate MESSAGES T0 T1 → messages per second
rate() { awk -v m="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", m / (b - a) }'; }
ref_rates=() ff_rates=()
for i in $(seq 1 "$runs"); do
  t0=$(now)
  total=$(cd "$work" && "$ref_bin" --rate 2 --beats 2500 2>&1 | sed -n 's/.*Logger shutting down. Total: \([0-9]*\).*/\1/p' | tail -1)
  t1=$(now)
  ref_rates+=("$(rate "$total" "$t0" "$t1")")
  t0=$(now)
  msgs=$("$ff_bin" run --state-dir "$work/ff$i" "${flags[@]}" --json 2>/dev/null | sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
  t1=$(now)
  ff_rates+=("$(rate "$msgs" "$t0" "$t1")")
  awk -v i="$i" -v r="${ref_rates[-1]}" -v t="$total" -v f="${ff_rates[-1]}" -v m="$msgs" \
    'BEGIN { printf "run %d: reference %6.1f M msgs/s (%d msgs)   fizzflow %6.1f M msgs/s (%d msgs)\n", i, r / 1e6, t, f / 1e6, m }'
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ref_med=$(median "${ref_rates[@]}")
ff_med=$(median "${ff_rates[@]}")
awk -v r="$ref_med" -v f="$ff_med" -v t="$telemetry" \
  'BEGIN { printf "median: reference %.1f M msgs/s, fizzflow %.1f M msgs/s (telemetry %s), ratio %.2f\n", r / 1e6, f / 1e6, t, f / r }'
