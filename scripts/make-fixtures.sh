#!/usr/bin/env bash
# Writes the upgrade corpus: state dirs made by a released fizzflow binary,
# one per scenario a user could have been through, each with what that
# binary itself said of it. tests/backward_compatibility.rs opens every one
# with the current build.
#
#   scripts/make-fixtures.sh COMMIT [PREVIOUS_COMMIT]
#
# COMMIT is a release (see CHANGELOG.md). It is built in a throwaway
# `git worktree` (its build is cached under target/releases/COMMIT), never
# taken from the working tree: a fixture must be written by the code that
# shipped, not by code that already knows the checks it will meet.
# PREVIOUS_COMMIT, the release before it, is built the same way and used
# for one more scenario: a dir the earlier release started and this one
# continued. FIZZFLOW_BIN / FIZZFLOW_PREVIOUS_BIN name binaries already
# built from those commits instead.
#
# Output: fixtures/releases/<short commit>/<scenario>/
#   state/            the state dir's files, as the release left them
#   commands.txt      what was done to the dir, in order, with exit codes
#   stderr.txt        what the release printed on stderr meanwhile
#   release.txt       the commit and `fizzflow --version`
#   stats.json        `stats --json`
#   history.json      `stats --history --json`
#   launches.json     `stats --launches --json` (releases that have it)
#   recover-list.txt  `recover --list` (releases that have it, dirs with backups)
#
# A release's corpus is made once and kept: the script refuses to write
# into a release directory that exists. The full-disk scenarios mount a
# small tmpfs, so they need root; without it they are skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

usage() {
  echo "usage: $0 COMMIT [PREVIOUS_COMMIT]" >&2
  exit 2
}
[ $# -ge 1 ] && [ $# -le 2 ] || usage
commit=$(git rev-parse --short=7 "$1^{commit}")
previous=""
[ $# -eq 2 ] && previous=$(git rev-parse --short=7 "$2^{commit}")
out="$top/fixtures/releases/$commit"
if [ -e "$out" ]; then
  echo "make-fixtures: $out exists; a release's corpus is made once and kept" >&2
  exit 1
fi

export SS_QUIET_BUILD=1
work=$(mktemp -d)
worktrees=()
cleanup() {
  for w in "${worktrees[@]}"; do git -C "$top" worktree remove --force "$w" 2>/dev/null || true; done
  mountpoint -q "$work/full" 2>/dev/null && umount "$work/full"
  rm -rf "$work"
}
trap cleanup EXIT

# Builds a commit in a worktree of its own; prints the binary's path.
build() {
  local c=$1 target="$top/target/releases/$1"
  if [ ! -x "$target/release/fizzflow" ]; then
    local tree="$work/src-$c"
    git -C "$top" worktree add --detach "$tree" "$c" >/dev/null 2>&1
    worktrees+=("$tree")
    echo "make-fixtures: building $c (a few minutes)" >&2
    (cd "$tree" && CARGO_TARGET_DIR="$target" cargo build --release --quiet) >&2
  fi
  echo "$target/release/fizzflow"
}

bin=${FIZZFLOW_BIN:-$(build "$commit")}
prev_bin=""
if [ -n "$previous" ]; then
  prev_bin=${FIZZFLOW_PREVIOUS_BIN:-$(build "$previous")}
fi
has_recover=false
"$bin" recover --help >/dev/null 2>&1 && has_recover=true
has_launches=false
"$bin" stats --help 2>/dev/null | grep -q -- '--launches' && has_launches=true

# Runs happen in a scratch dir, so nothing a release writes relative to
# the working directory lands in the repository.
mkdir -p "$work/cwd"
cd "$work/cwd"
quiet=(--no-telemetry --progress off --no-metrics)
scenario=""
dir=""
log=""
err=""

# start NAME: a new scenario with an empty state dir.
start() {
  scenario=$1
  dir="$work/$scenario"
  log="$work/$scenario.commands.txt"
  err="$work/$scenario.stderr.txt"
  : >"$log"
  : >"$err"
  echo "make-fixtures: $commit/$scenario" >&2
}

# note TEXT: a line in commands.txt for what was done by hand.
note() { echo "# $*" >>"$log"; }

# run_with BINARY LABEL [ARGS]: one launch, to its end.
run_with() {
  local b=$1 label=$2; shift 2
  local code=0
  "$b" run --state-dir "$dir" "${quiet[@]}" "$@" >/dev/null 2>>"$err" || code=$?
  echo "${label}run $* -> exit $code" >>"$log"
}
run() { run_with "$bin" "" "$@"; }

# signalled_with BINARY LABEL SIGNAL SECONDS [ARGS]: a launch sent SIGNAL
# after SECONDS.
signalled_with() {
  local b=$1 label=$2 sig=$3 secs=$4; shift 4
  local code=0
  "$b" run --state-dir "$dir" "${quiet[@]}" "$@" >/dev/null 2>>"$err" &
  local pid=$!
  sleep "$secs"
  kill "-$sig" "$pid" 2>/dev/null || true
  wait "$pid" || code=$?
  echo "${label}run $* -> $sig after ${secs}s -> exit $code" >>"$log"
}
signalled() { signalled_with "$bin" "" "$@"; }

# tmpfs SIZE: a small disk at $work/full, its state dir the scenario's.
tmpfs() {
  mkdir -p "$work/full"
  if mount -t tmpfs -o "size=$1" tmpfs "$work/full" 2>/dev/null; then
    return 0
  fi
  echo "make-fixtures: cannot mount a tmpfs (not root?): a full-disk scenario skipped" >&2
  return 1
}

# keep: copies the state dir and what the release says of it.
keep() {
  local to="$out/$scenario"
  mkdir -p "$to"
  cp -a "$dir" "$to/state"
  rm -rf "$to/state/telemetry"
  # git keeps no empty directory: say which the release left, then drop it.
  find "$to/state" -mindepth 1 -type d -empty | while read -r empty; do
    note "git drops the empty directory ${empty#"$to/"} the release left"
    rmdir "$empty"
  done
  mv "$log" "$to/commands.txt"
  mv "$err" "$to/stderr.txt"
  {
    echo "commit $(git -C "$top" rev-parse "$commit")"
    echo "version $("$bin" --version)"
  } >"$to/release.txt"
  "$bin" stats --state-dir "$dir" --json >"$to/stats.json"
  "$bin" stats --state-dir "$dir" --history --json >"$to/history.json"
  if $has_launches; then
    "$bin" stats --state-dir "$dir" --launches --json >"$to/launches.json"
  fi
  if $has_recover && [ -d "$dir/backups" ]; then
    local code=0
    "$bin" recover --state-dir "$dir" --list >"$to/recover-list.txt" 2>&1 || code=$?
    echo "exit $code" >>"$to/recover-list.txt"
  fi
}

paced_long=(--rate 1 --beats 3000 --checkpoint-interval 50)

start one-finished-run
run --rate 1 --beats 300
keep

start default-flags
run --beats 500
keep

start short-unpaced-launches
for _ in 1 2 3; do run --rate 0 --beats 5; done
keep

start many-launches
for _ in $(seq 12); do run --rate 0 --beats 5; done
keep

start twenty-unpaced-launches
for _ in $(seq 20); do run --rate 0 --beats 3; done
keep

start ten-paced-launches
for _ in $(seq 10); do run --rate 1 --beats 30; done
keep

# More launches than the default history keeps (64 records).
start history-wrapped-by-launches
for _ in $(seq 40); do run --rate 0 --beats 2; done
keep

start paced-and-unpaced
run --rate 1 --beats 200
run --rate 0 --beats 300
run --rate 2 --beats 100
run --rate 0 --beats 50
keep

start custom-batches
run --rate 1 --beats 300 --generator-batch 100 --worker-batch 128 --logger-batch 500 --channel-capacity 4096
run --rate 0 --beats 50 --worker-batch 128
keep

start large-batches
run --rate 0 --beats 40 --worker-batch 4096 --generator-batch 8192 --logger-batch 16384 --channel-capacity 262144
run --rate 0 --beats 40 --worker-batch 4096 --channel-capacity 262144
keep

start checkpoints-only-at-ends
run --rate 0 --beats 100 --checkpoint-interval 0
run --rate 0 --beats 100 --checkpoint-interval 0
keep

start killed-once
signalled KILL 0.7 "${paced_long[@]}"
keep

start killed-several-times
run --rate 0 --beats 20
signalled KILL 0.5 "${paced_long[@]}"
signalled KILL 0.6 "${paced_long[@]}"
signalled KILL 0.4 "${paced_long[@]}"
keep

start killed-then-finished
signalled KILL 0.5 "${paced_long[@]}"
signalled KILL 0.5 "${paced_long[@]}"
run --rate 0 --beats 3000 --checkpoint-interval 50
keep

start aborted-inside-a-commit
run --rate 0 --beats 10
run --rate 1 --beats 1000 --checkpoint-interval 20 --inject-abort checkpoint:5
keep

for actor in heartbeat generator worker logger; do
  case $actor in
    heartbeat) every=70 ;;
    generator) every=170000 ;;
    worker) every=130000 ;;
    logger) every=110000 ;;
  esac
  start "panics-in-$actor"
  run --rate 0 --beats 300 --checkpoint-interval 10 --inject-panic "$actor:$every"
  keep
done

start panics-in-every-actor-then-killed
run --rate 0 --beats 300 --checkpoint-interval 10 --inject-panic heartbeat:70 \
  --inject-panic generator:170000 --inject-panic worker:130000 --inject-panic logger:110000
signalled KILL 0.6 "${paced_long[@]}" --inject-panic worker:300000
keep

start history-pruned
run --rate 1 --beats 500 --checkpoint-interval 20 --checkpoint-history 5
run --rate 0 --beats 20 --checkpoint-history 5
keep

start stopped-by-sigint
run --rate 0 --beats 10
signalled INT 0.6 "${paced_long[@]}"
keep

start stopped-by-sigterm
signalled TERM 0.6 "${paced_long[@]}"
keep

if $has_recover; then
  start with-backups
  for _ in $(seq 5); do run --rate 0 --beats 10; done
  keep

  start recovered
  for _ in $(seq 4); do run --rate 0 --beats 10; done
  note "the checkpoint file's first 4096 bytes overwritten with zeros"
  dd if=/dev/zero of="$dir/checkpoints.redb" bs=4096 count=1 conv=notrunc status=none
  code=0
  "$bin" recover --state-dir "$dir" >/dev/null 2>>"$err" || code=$?
  echo "recover -> exit $code" >>"$log"
  keep

  start recovered-then-run
  for _ in $(seq 4); do run --rate 0 --beats 10; done
  note "the checkpoint file's first 4096 bytes overwritten with zeros"
  dd if=/dev/zero of="$dir/checkpoints.redb" bs=4096 count=1 conv=notrunc status=none
  code=0
  "$bin" recover --state-dir "$dir" >/dev/null 2>>"$err" || code=$?
  echo "recover -> exit $code" >>"$log"
  run --rate 0 --beats 10
  keep

  # Disks too full for a backup, as users' disks get: the release did what
  # it did (dropped backups, wrote what fitted) and the file moved on.
  if tmpfs 2m; then
    start full-disk-at-a-launch
    dir="$work/full/state"
    for _ in $(seq 4); do run --rate 0 --beats 10; done
    note "every free byte of the disk taken by another file"
    head -c 100M /dev/zero >"$work/full/filler" 2>/dev/null || true
    run --rate 0 --beats 10
    rm -f "$work/full/filler"
    note "that file removed"
    keep
    umount "$work/full"
  fi
  if tmpfs 176k; then
    start tight-disk-lost-its-backups
    dir="$work/full/state"
    for _ in $(seq 3); do run --rate 0 --beats 10; done
    keep
    umount "$work/full"
  fi
fi

if [ -n "$prev_bin" ]; then
  start "started-by-$previous"
  # One launch of the earlier release: its second launch could already
  # have written what this release refuses (see CHANGELOG.md).
  signalled_with "$prev_bin" "($previous) " KILL 0.7 "${paced_long[@]}"
  run --rate 0 --beats 3000 --checkpoint-interval 50
  run --rate 0 --beats 10
  keep
fi

echo "make-fixtures: wrote $(ls "$out" | wc -l) scenarios to ${out#"$top"/}" >&2
