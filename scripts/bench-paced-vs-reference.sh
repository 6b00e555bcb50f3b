#!/usr/bin/env bash
# CPU per message at the paced rate: fizzflow (--rate 2, 8192-slot channels,
# checkpoints every 1 s, telemetry on) against the reference lesson rebuilt
# with 8192-slot channels instead of its 2 M, alternating, same machine.
# Prints CPU seconds (user + sys) per billion messages for each, and the ratio.
#
#   scripts/bench-paced-vs-reference.sh [runs=3] [beats=2500]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
beats=${2:-2500}
ref_src=../shared/reference/steady-state-performant
ref_target=${REFERENCE_TARGET_DIR:-/tmp/reference-target}
[ -d "$ref_src" ] || { echo "no reference at $ref_src" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A scratch copy with 8192-slot channels; the shared tree is left alone.
cp -r "$ref_src" "$work/ref8192"
sed -i 's/with_capacity(1<<21)/with_capacity(8192)/g' "$work/ref8192/src/main.rs"
grep -q 'with_capacity(8192)' "$work/ref8192/src/main.rs" || { echo "could not set the reference's channels" >&2; exit 1; }
export SS_QUIET_BUILD=1
cargo build --release --quiet
# Its own target dir: sharing one would overwrite the unmodified binary.
(cd "$work/ref8192" && CARGO_TARGET_DIR="$ref_target-8192" cargo build --release --quiet)
ref_bin="$ref_target-8192/release/performant"
ff_bin=target/release/fizzflow

# cpu_per_g MESSAGES USER_PLUS_SYS
cpu_per_g() { awk -v m="$1" -v c="$2" 'BEGIN { printf "%.2f", c / (m / 1e9) }'; }
ref_vals=() ff_vals=()
for i in $(seq 1 "$runs"); do
  out=$( { /usr/bin/time -f 'CPU %U %S' "$ref_bin" --rate 2 --beats "$beats" ; } 2>&1 )
  msgs=$(echo "$out" | sed -n 's/.*Logger shutting down. Total: \([0-9]*\).*/\1/p' | tail -1)
  cpu=$(echo "$out" | awk '/^CPU/ { print $2 + $3 }')
  ref_vals+=("$(cpu_per_g "$msgs" "$cpu")")
  out=$( { /usr/bin/time -f 'CPU %U %S' "$ff_bin" run --state-dir "$work/ff$i" --rate 2 --beats "$beats" --json --progress off --no-metrics ; } 2>&1 )
  fmsgs=$(echo "$out" | sed -n 's/.*"messages":\([0-9]*\).*/\1/p')
  fcpu=$(echo "$out" | awk '/^CPU/ { print $2 + $3 }')
  ff_vals+=("$(cpu_per_g "$fmsgs" "$fcpu")")
  echo "run $i: reference $msgs msgs, ${cpu} CPU s → ${ref_vals[-1]} CPU s/G msgs;  fizzflow $fmsgs msgs, ${fcpu} CPU s → ${ff_vals[-1]} CPU s/G msgs"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
r=$(median "${ref_vals[@]}"); f=$(median "${ff_vals[@]}")
awk -v r="$r" -v f="$f" 'BEGIN { printf "median CPU s per G msgs: reference (8192 slots) %.2f, fizzflow %.2f, ratio fizzflow/reference %.2f\n", r, f, f / r }'
