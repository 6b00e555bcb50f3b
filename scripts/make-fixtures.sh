#!/usr/bin/env bash
# Writes the checkpoint fixtures of the current schema into fixtures/.
# Run it once per schema version, before the schema changes, and keep the
# files: tests/backward_compatibility.rs opens them with every later build.
set -euo pipefail
cd "$(dirname "$0")/.."
schema=$(grep -o 'STEPS: \[Step; [0-9]*\]' src/migrations.rs | grep -o '[0-9]*')
bin=target/release/fizzflow
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A finished run of exactly 10 beats (81920 messages).
"$bin" run --state-dir "$work/finished" --rate 0 --beats 10 --checkpoint-interval 0 --no-telemetry --no-progress
cp "$work/finished/checkpoints.redb" "fixtures/schema${schema}-finished-10-beats.redb"

# An unfinished run: SIGKILLed part-way through 1000 paced beats.
timeout -s KILL 0.6 "$bin" run --state-dir "$work/killed" --rate 1 --beats 1000 --checkpoint-interval 50 \
  --no-telemetry --no-progress || true
cp "$work/killed/checkpoints.redb" "fixtures/schema${schema}-killed-of-1000-beats.redb"
"$bin" stats --state-dir "$work/killed" --json
