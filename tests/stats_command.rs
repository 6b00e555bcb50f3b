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
        // Beat latency is the launch's own, measured live: not in the file.
        if key == "beat_latency_us" {
            continue;
        }
        assert_eq!(&stats[key], value, "field {key}: run {run}\nstats {stats}");
    }
    assert!(
        run["beat_latency_us"]["beats"].as_u64() == Some(200),
        "{run}"
    );
    assert_eq!(field(&stats, "schema_version"), 3);
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
        "schema 3",
        "beats",
        "400 / 400 (finished)",
        "messages",
        "3,276,800",
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

#[test]
fn stats_during_a_run_committing_every_millisecond_never_cries_wolf() {
    // A copy taken while a commit is written can be torn; stats must read
    // the file as it was at one instant and never call a healthy file
    // damaged (exit 4).
    let dir = state_dir();
    let mut run = spawn_watched(
        fizzflow(&[
            "--rate",
            "1",
            "--beats",
            "2000",
            "--checkpoint-interval",
            "1",
        ])
        .arg("--state-dir")
        .arg(dir.path()),
    );
    assert!(run.wait_for_marker(Duration::from_secs(60)), "launched");
    let path = dir.path().to_path_buf();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let path = path.clone();
            std::thread::spawn(move || {
                let mut failures = Vec::new();
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                for _ in 0..150 {
                    if std::time::Instant::now() > deadline {
                        break;
                    }
                    let done = run_in(&path, &["stats", "--json"], Duration::from_secs(60));
                    if !done.status.success() {
                        failures.push(done.stderr);
                    }
                }
                failures
            })
        })
        .collect();
    let failures: Vec<String> = readers
        .into_iter()
        .flat_map(|r| r.join().expect("reader"))
        .collect();
    signal(run.id(), libc::SIGTERM);
    let _ = finish(run, Duration::from_secs(60));
    assert!(
        failures.is_empty(),
        "stats failed on a healthy file: {failures:?}"
    );
}

#[test]
fn a_new_state_dir_never_holds_a_file_without_a_record() {
    // Killed inside its very first commit: either no file at all, or one
    // with the launch record, never a file that every later stats refuses.
    let dir = state_dir();
    let done = run_in(
        dir.path(),
        &[
            "--rate",
            "0",
            "--beats",
            "5",
            "--inject-abort",
            "checkpoint:1",
        ],
        Duration::from_secs(60),
    );
    assert!(done.status.code().is_none(), "aborted: {}", done.stderr);
    assert!(!checkpoint_file(dir.path()).exists(), "no half-made file");
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "5", "--json"],
        Duration::from_secs(60),
    );
    let v = done.success_json();
    assert_eq!(field(&v, "beats"), 5);
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30)).json();
    assert_eq!(field(&stats, "launches"), 1);
}

/// Restarts are kept by actor name (schema 3), so a file may count an
/// actor this build does not have (one a later build added, or the other
/// pod's): `stats` shows it after this build's own, never hides it.
#[test]
fn restarts_of_an_actor_this_build_lacks_are_shown() {
    let dir = crafted(|r| r.restarts.set("sentinel", 7));
    let done = run_in(dir.path(), &["stats"], Duration::from_secs(60));
    assert!(done.status.success(), "{}", done.stderr);
    let line = done
        .stdout
        .lines()
        .find(|l| l.starts_with("restarts"))
        .unwrap_or_default();
    assert!(line.ends_with("checkpoint 0  sentinel 7"), "{line}");
}

/// A state dir that lost its checkpoint file but has backups is one to
/// recover, as `run` says (exit 4 with the command), not one where
/// "nothing has been checkpointed yet" (exit 1).
#[test]
fn stats_on_a_dir_that_lost_its_file_says_how_to_recover() {
    let dir = state_dir();
    let first = run_in(
        dir.path(),
        &["--beats", "5", "--rate", "0"],
        Duration::from_secs(60),
    );
    assert!(first.status.success(), "{}", first.stderr);
    std::fs::remove_file(checkpoint_file(dir.path())).expect("remove the file");
    let done = run_in(dir.path(), &["stats"], Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(
        done.stderr.contains("fizzflow recover --state-dir"),
        "{}",
        done.stderr
    );
}
