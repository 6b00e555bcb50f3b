//! `fizzflow stats` shows what the checkpoint file holds, without running
//! anything and without creating anything.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn after_a_clean_exit_stats_equals_the_runs_own_summary() {
    let dir = state_dir();
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "200", "--json"],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    let run = done.json();
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30));
    assert!(stats.status.success(), "{}", stats.stderr);
    let stats = stats.json();
    for (key, value) in run.as_object().expect("object") {
        assert_eq!(&stats[key], value, "field {key}: run {run}\nstats {stats}");
    }
    assert_eq!(field(&stats, "schema_version"), 1);
    assert_eq!(field(&stats, "launches"), 1);
    assert!(
        field(&stats, "checkpoints") >= 2,
        "launch and final checkpoints"
    );
    assert!(field(&stats, "checkpoint_unix_ms") > 0);
}

#[test]
fn table_and_history_are_readable() {
    let dir = state_dir();
    let done = run_in(
        dir.path(),
        &[
            "--rate",
            "1",
            "--beats",
            "400",
            "--checkpoint-interval",
            "50",
        ],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    let table = run_in(dir.path(), &["stats"], Duration::from_secs(30));
    assert!(table.status.success(), "{}", table.stderr);
    for label in [
        "schema 1",
        "beats",
        "400 / 400 (finished)",
        "messages",
        "3276800",
        "launches",
        "checkpoints written",
    ] {
        assert!(
            table.stdout.contains(label),
            "'{label}' in:\n{}",
            table.stdout
        );
    }
    let history = run_in(dir.path(), &["stats", "--history"], Duration::from_secs(30));
    assert!(history.status.success(), "{}", history.stderr);
    assert!(history.stdout.lines().count() >= 4, "{}", history.stdout);
    assert!(
        history.stdout.contains('█'),
        "sparkline in:\n{}",
        history.stdout
    );
}

#[test]
fn a_missing_state_dir_is_reported_and_not_created() {
    let parent = state_dir();
    let missing = parent.path().join("nothing-here");
    let done = run(
        &["stats", "--state-dir", missing.to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("does not exist"), "{}", done.stderr);
    assert!(!missing.exists(), "stats must not create the state dir");

    let empty = state_dir();
    let done = run(
        &["stats", "--state-dir", empty.path().to_str().unwrap()],
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("nothing has been checkpointed"),
        "{}",
        done.stderr
    );
    assert_eq!(
        std::fs::read_dir(empty.path()).unwrap().count(),
        0,
        "nothing created"
    );
}
