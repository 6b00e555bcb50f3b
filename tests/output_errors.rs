//! A stdout or stderr that cannot be written to (a full disk, /dev/full)
//! is an error with exit code 1, never a panic, and whatever was committed
//! stays committed.

mod common;
use common::*;
use std::fs::File;
use std::process::Stdio;
use std::time::Duration;

fn dev_full() -> Stdio {
    Stdio::from(
        File::options()
            .write(true)
            .open("/dev/full")
            .expect("/dev/full"),
    )
}

/// fizzflow with `args` on `dir`, its stdout (or stderr) a full disk.
fn into_full(args: &[&str], dir: &std::path::Path, stderr: bool) -> Finished {
    let mut cmd = fizzflow(args);
    cmd.arg("--state-dir").arg(dir);
    if stderr {
        cmd.stderr(dev_full());
    } else {
        cmd.stdout(dev_full());
    }
    wait_with_deadline(cmd.spawn().expect("spawn"), Duration::from_secs(60))
}

fn stored_beats(dir: &std::path::Path) -> u64 {
    let stats = run_in(dir, &["stats", "--json"], Duration::from_secs(30));
    field(&stats.json(), "beats")
}

#[test]
fn a_json_summary_that_cannot_be_written_is_exit_1_with_the_state_committed() {
    let dir = state_dir();
    let done = into_full(
        &["--rate", "0", "--beats", "5", "--json"],
        dir.path(),
        false,
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("cannot write the JSON summary"),
        "{}",
        done.stderr
    );
    assert!(!done.stderr.contains("panicked"), "{}", done.stderr);
    assert_eq!(stored_beats(dir.path()), 5, "the run was committed");
}

#[test]
fn a_stderr_that_cannot_be_written_is_exit_1_and_the_json_still_comes() {
    let dir = state_dir();
    let done = into_full(&["--rate", "0", "--beats", "5", "--json"], dir.path(), true);
    // 101 would be a panic.
    assert_eq!(done.status.code(), Some(1));
    assert_eq!(field(&done.json(), "beats"), 5);
    assert_eq!(stored_beats(dir.path()), 5, "the run was committed");
}

#[test]
fn a_stats_report_that_cannot_be_written_is_exit_1() {
    let dir = state_dir();
    let first = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "5"],
        Duration::from_secs(60),
    );
    assert!(first.status.success(), "{}", first.stderr);
    for args in [
        &["stats"][..],
        &["stats", "--json"],
        &["stats", "--history"],
    ] {
        let done = into_full(args, dir.path(), false);
        assert_eq!(done.status.code(), Some(1), "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.contains("cannot write the report"),
            "{}",
            done.stderr
        );
    }
}

#[test]
fn help_or_version_that_cannot_be_written_is_exit_1() {
    for args in [
        &["--help"][..],
        &["--version"],
        &["stats", "--help"],
        &["help", "torture"],
    ] {
        let child = fizzflow(args).stdout(dev_full()).spawn().expect("spawn");
        let done = wait_with_deadline(child, Duration::from_secs(30));
        assert_eq!(done.status.code(), Some(1), "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.contains("cannot write to stdout"),
            "{args:?}: {}",
            done.stderr
        );
    }
    // Written, the same help is a success.
    let done = wait_with_deadline(
        fizzflow(&["--help"]).spawn().expect("spawn"),
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(0), "{}", done.stderr);
    assert!(done.stdout.contains("Usage"), "{}", done.stdout);
}
