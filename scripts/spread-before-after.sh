#!/usr/bin/env bash
# Two fizzflow binaries' unpaced default runs, alternating (old, new, old,
# new, ...), each its own run's rate (graph start to stop, from --json):
# min, median, max and slowest / median of each. How the worker's step
# change was measured against the build before it. Run it on a quiet
# machine: no build, test or benchmark beside it.
#
#   scripts/spread-before-after.sh OLD_BIN NEW_BIN [RUNS=9] [BEATS=25000]
set -euo pipefail
old=$1 new=$2 runs=${3:-9} beats=${4:-25000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rate() {
  "$1" run --state-dir "$work/$2" --rate 0 --beats "$beats" --progress off \
    --metrics-addr 127.0.0.1:0 --json 2>/dev/null |
    sed -n 's/.*"msgs_per_sec":\([0-9.e+]*\).*/\1/p'
}
: >"$work/old" && : >"$work/new"
for i in $(seq "$runs"); do
  rate "$old" "o$i" >>"$work/old"
  rate "$new" "n$i" >>"$work/new"
  printf 'run %d: old %.1f  new %.1f M msgs/s\n' "$i" \
    "$(awk '{print $1/1e6}' "$work/old" | tail -1)" "$(awk '{print $1/1e6}' "$work/new" | tail -1)"
done
for which in old new; do
  sort -g "$work/$which" | awk -v w="$which" '{a[NR]=$1} END {
    m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2
    printf "%s: min %.1f  median %.1f  max %.1f M msgs/s, slowest / median %.3f\n", w, a[1]/1e6, m/1e6, a[NR]/1e6, a[1]/m }'
done
