#!/usr/bin/env bash
# Writes checkpoint fixtures into fixtures/: state dirs of each schema, made
# by a build of that schema, with what that build's `stats` said of them
# beside each file (NAME.stats.json, NAME.history.json and, from schema 2
# on, NAME.launches.json). tests/backward_compatibility.rs opens every one
# with the current build and checks it against those sidecars.
#
#   scripts/make-fixtures.sh schema1   # builds the last schema-1 commit in a scratch worktree
#   scripts/make-fixtures.sh schema2   # builds the working tree
#   FIZZFLOW_BIN=path scripts/make-fixtures.sh schemaN   # a binary already built from that code
#
# Fixtures are made once per schema and then kept: never regenerate a
# committed one (the point is that they were written by the old code).
set -euo pipefail
cd "$(dirname "$0")/.."
# The last commit whose build writes schema 1.
SCHEMA1_COMMIT=${SCHEMA1_COMMIT:-89f4311}
export SS_QUIET_BUILD=1
work=$(mktemp -d)
cleanup() {
  git worktree remove --force "$work/src" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

case "${1:-}" in
  schema1)
    schema=1
    if [ -z "${FIZZFLOW_BIN:-}" ]; then
      git worktree add --detach "$work/src" "$SCHEMA1_COMMIT" >/dev/null
      (cd "$work/src" && CARGO_TARGET_DIR="$work/target" cargo build --release --quiet)
      FIZZFLOW_BIN="$work/target/release/fizzflow"
    fi
    ;;
  schema2)
    schema=2
    if [ -z "${FIZZFLOW_BIN:-}" ]; then
      cargo build --release --quiet
      FIZZFLOW_BIN=target/release/fizzflow
    fi
    ;;
  *)
    echo "usage: $0 schema1|schema2" >&2
    exit 2
    ;;
esac

bin=$FIZZFLOW_BIN
quiet=(--no-telemetry --progress off --no-metrics)
run() { "$bin" run "${quiet[@]}" "$@" >/dev/null; }
# Starts a paced run and SIGKILLs it once it has run for $1 seconds.
killed_after() {
  local secs=$1; shift
  "$bin" run "${quiet[@]}" "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$secs"
  kill -KILL "$pid"
  wait "$pid" 2>/dev/null || true
}
keep() {
  local dir=$1 name=$2
  local out="fixtures/schema${schema}-${name}"
  if [ -e "$out.redb" ]; then
    echo "fixtures: $out.redb exists; kept as it is" >&2
    return
  fi
  cp "$dir/checkpoints.redb" "$out.redb"
  "$bin" stats --state-dir "$dir" --json >"$out.stats.json"
  "$bin" stats --state-dir "$dir" --history --json >"$out.history.json"
  if [ "$schema" -ge 2 ]; then
    "$bin" stats --state-dir "$dir" --launches --json >"$out.launches.json"
  fi
  echo "fixtures: wrote $out.redb"
}

# A finished run in which every actor panicked and was restarted.
d="$work/panics"
run --state-dir "$d" --rate 0 --beats 300 --checkpoint-interval 10 \
  --inject-panic heartbeat:70 --inject-panic generator:170000 \
  --inject-panic worker:130000 --inject-panic logger:110000
keep "$d" finished-with-panics

# An unfinished run: SIGKILLed part-way through 2000 paced beats.
d="$work/killed"
killed_after 0.8 --state-dir "$d" --rate 1 --beats 2000 --checkpoint-interval 50
keep "$d" killed-mid-run

# Several launches: two finished runs, a killed one, its resumption.
d="$work/launches"
run --state-dir "$d" --rate 0 --beats 20
run --state-dir "$d" --rate 0 --beats 30
killed_after 0.6 --state-dir "$d" --rate 1 --beats 1000 --checkpoint-interval 50
run --state-dir "$d" --rate 0 --beats 1000
keep "$d" several-launches

# Non-default batches and a history of 3: older checkpoints were dropped.
d="$work/custom"
run --state-dir "$d" --rate 1 --beats 400 --checkpoint-interval 40 --checkpoint-history 3 \
  --generator-batch 100 --worker-batch 128 --logger-batch 500 --channel-capacity 4096
run --state-dir "$d" --rate 0 --beats 50 --checkpoint-history 3 --worker-batch 128
keep "$d" custom-batches-short-history
