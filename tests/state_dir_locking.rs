//! Only one fizzflow may use a state dir; a second gets exit 3 and a clear
//! message, and the first is undisturbed. `stats` still works meanwhile.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn a_second_run_on_a_held_dir_exits_3() {
    let dir = state_dir();
    let mut first = spawn_watched(
        fizzflow(&["--rate", "1", "--beats", "1500", "--json"])
            .arg("--state-dir")
            .arg(dir.path()),
    );
    // Launched: it holds the lock and has committed its launch record.
    assert!(first.wait_for_marker(Duration::from_secs(60)), "launched");
    let second = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "10"],
        Duration::from_secs(30),
    );
    assert_eq!(second.status.code(), Some(3), "{}", second.stderr);
    assert!(
        second.stderr.contains("in use by another fizzflow process"),
        "{}",
        second.stderr
    );
    assert!(
        second.stderr.contains(dir.path().to_str().unwrap()),
        "names the dir: {}",
        second.stderr
    );

    // stats reads a copy, so it works while the dir is held.
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30));
    assert!(stats.status.success(), "{}", stats.stderr);
    assert_closed_form(&stats.json());

    let first = finish(first, Duration::from_secs(60));
    assert!(first.status.success(), "{}", first.stderr);
    let v = first.json();
    assert_eq!(field(&v, "beats"), 1500);
    assert_closed_form(&v);
}

#[test]
fn deleting_the_lock_file_does_not_let_a_second_run_in() {
    let dir = state_dir();
    let mut first = spawn_watched(
        fizzflow(&["--rate", "1", "--beats", "100000", "--json"])
            .arg("--state-dir")
            .arg(dir.path()),
    );
    assert!(first.wait_for_marker(Duration::from_secs(60)), "launched");
    std::fs::remove_file(dir.path().join("fizzflow.lock")).expect("lock file");
    let second = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "10"],
        Duration::from_secs(30),
    );
    assert_eq!(second.status.code(), Some(3), "{}", second.stderr);
    signal(first.id(), libc::SIGTERM);
    let v = finish(first, Duration::from_secs(60)).success_json();
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30)).json();
    assert_eq!(
        stats["messages"], v["messages"],
        "only the first run counted"
    );
    assert_eq!(field(&stats, "launches"), 1);
}

#[test]
fn a_lock_file_that_is_a_symlink_is_refused_and_not_written_through() {
    let dir = state_dir();
    let outside = state_dir();
    let precious = outside.path().join("precious");
    std::fs::write(&precious, b"keep me").unwrap();
    std::os::unix::fs::symlink(&precious, dir.path().join("fizzflow.lock")).unwrap();
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "5"],
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(done.stderr.contains("symbolic link"), "{}", done.stderr);
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    assert!(!checkpoint_file(dir.path()).exists(), "nothing created");
}

#[test]
fn a_lock_file_that_is_a_directory_is_exit_4() {
    let dir = state_dir();
    std::fs::create_dir(dir.path().join("fizzflow.lock")).unwrap();
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "5"],
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(
        done.stderr.contains("not a regular file"),
        "{}",
        done.stderr
    );
}
