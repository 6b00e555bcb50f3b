#!/usr/bin/env bash
# Compares two fizzflow binaries by the ratio each measures itself:
# default / plain-threads, unpaced, from `fizzflow bench` (a ratio from one
# invocation cancels most of a shared machine's noise). The two binaries
# run alternately, N invocations of 5 rounds each; prints every ratio and
# the medians. Run it on a quiet machine: no build, test or benchmark beside it.
#
#   scripts/compare-bench.sh OLD_BIN NEW_BIN [N=4]
set -euo pipefail
old=$1 new=$2 n=${3:-4}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for _ in $(seq "$n"); do
  for bin in "$old" "$new"; do
    echo "== $bin" >>"$log"
    "$bin" bench --only plain-threads --rounds 5 --paced-beats 0 2>&1 | grep -E '^round' >>"$log"
  done
done
python3 - "$log" "$old" "$new" <<'PY'
import re, statistics, sys
log, old, new = sys.argv[1:]
ratios = {old: [], new: []}
cur, rounds = None, {}
def flush():
    for r in rounds.values():
        if "default" in r and "plain-threads" in r:
            ratios[cur].append(r["default"] / r["plain-threads"])
for line in open(log):
    if line.startswith("== "):
        if cur: flush()
        cur, rounds = line[3:].strip(), {}
    m = re.match(r"round (\d+): (\S+)\s+unpaced\s+([\d.]+)", line)
    if m:
        rounds.setdefault(m[1], {})[m[2]] = float(m[3])
if cur: flush()
for name in (old, new):
    r = ratios[name]
    print(f"{name}: default/plain-threads over {len(r)} rounds: min {min(r):.3f} median {statistics.median(r):.3f} max {max(r):.3f}")
mo, mn = statistics.median(ratios[old]), statistics.median(ratios[new])
print(f"new/old median: {mn / mo:.3f} ({(mn / mo - 1) * 100:+.1f}%)")
PY
