//! Only one fizzflow may use a state dir; a second gets exit 3 and a clear
//! message, and the first is undisturbed. `stats` still works meanwhile.

mod common;
use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

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

/// The lock is the directory's own: no file in it, deleted or planted, lets
/// a second run in.
#[test]
fn no_file_in_the_dir_lets_a_second_run_in() {
    let dir = state_dir();
    let mut first = spawn_watched(
        fizzflow(&["--rate", "1", "--beats", "100000", "--json"])
            .arg("--state-dir")
            .arg(dir.path()),
    );
    assert!(first.wait_for_marker(Duration::from_secs(60)), "launched");
    // What releases before 0.3.0 wrote the PID to; nothing reads it now.
    std::fs::write(dir.path().join("fizzflow.lock"), "1").unwrap();
    std::fs::remove_file(dir.path().join("fizzflow.lock")).unwrap();
    let second = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "10"],
        Duration::from_secs(30),
    );
    assert_eq!(second.status.code(), Some(3), "{}", second.stderr);
    assert!(
        second.stderr.contains(&format!("(pid {})", first.id())),
        "names the holder: {}",
        second.stderr
    );
    signal(first.id(), libc::SIGTERM);
    let v = finish(first, Duration::from_secs(60)).success_json();
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30)).json();
    assert_eq!(
        stats["messages"], v["messages"],
        "only the first run counted"
    );
    assert_eq!(field(&stats, "launches"), 1);
}

/// Issue 21, item 12: nothing is written for the lock, so a link planted
/// where older releases kept `fizzflow.lock` (a symlink, or a hard link to
/// a file elsewhere) is never written through, and does not stop a run.
#[test]
fn a_planted_lock_file_link_is_never_written_through() {
    let dir = state_dir();
    let outside = state_dir();
    let precious = outside.path().join("precious");
    std::fs::write(&precious, b"keep me").unwrap();
    std::os::unix::fs::symlink(&precious, dir.path().join("fizzflow.lock")).unwrap();
    let done = run_in(dir.path(), &["--rate", "0", "--beats", "5"], LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    std::fs::remove_file(dir.path().join("fizzflow.lock")).unwrap();
    std::fs::hard_link(&precious, dir.path().join("fizzflow.lock")).unwrap();
    let done = run_in(dir.path(), &["--rate", "0", "--beats", "5"], LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
}

/// Issue 21, item 11: a run SIGKILLed while it starts a checker child (the
/// child a copy of it until it execs) must not leave the state dir locked:
/// the next run gets it at once. Before, the forked child shared the
/// locked descriptor until its exec, and the next run exited 3 naming a
/// dead PID. A test hook widens that window to 3 s.
#[test]
fn a_run_killed_while_it_forks_a_checker_leaves_the_dir_unlocked() {
    let dir = state_dir();
    let done = run_in(dir.path(), &["--rate", "0", "--beats", "1"], LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("forked");
    let mut cmd = fizzflow(&["--rate", "0", "--beats", "1"]);
    cmd.arg("--state-dir").arg(dir.path()).env(
        fizzflow::durable::TEST_FORK_DELAY_ENV,
        format!("3000:{}", marker.display()),
    );
    let run = spawn_watched(&mut cmd);
    let deadline = std::time::Instant::now() + LIMIT;
    while !marker.exists() {
        assert!(std::time::Instant::now() < deadline, "no checker forked");
        std::thread::sleep(Duration::from_millis(2));
    }
    // The run's one child is its checker, started before the lock.
    let checker = children_of(run.id());
    assert_eq!(checker.len(), 1, "children of the run: {checker:?}");
    signal(run.id(), libc::SIGKILL);
    let killed = finish(run, LIMIT);
    assert_eq!(killed.status.code(), None, "killed: {}", killed.stderr);
    // It dies with the run (PR_SET_PDEATHSIG).
    let deadline = std::time::Instant::now() + LIMIT;
    while std::path::Path::new(&format!("/proc/{}/stat", checker[0])).exists()
        && !std::fs::read_to_string(format!("/proc/{}/stat", checker[0]))
            .is_ok_and(|s| s.contains(") Z "))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the checker outlived the run"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let next = run_in(dir.path(), &["--rate", "0", "--beats", "1"], LIMIT);
    assert!(
        next.status.success(),
        "the next run after the kill: exit {:?}: {}",
        next.status.code(),
        next.stderr
    );
}

/// Issue 21, item 10: `stats` learns whether a run holds the dir without
/// taking any lock, so a run starting in that very instant is never
/// refused. A test hook holds stats inside that check for 2 s; before, it
/// held a shared lock there and the run exited 3.
#[test]
fn stats_never_stands_in_the_way_of_a_run_starting_at_the_same_moment() {
    let dir = state_dir();
    let done = run_in(dir.path(), &["--rate", "0", "--beats", "1"], LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("checking");
    let mut cmd = fizzflow(&["stats", "--launches"]);
    cmd.arg("--state-dir").arg(dir.path()).env(
        fizzflow::util::PAUSE_ENV,
        format!("in-use-check:2000:{}", marker.display()),
    );
    let stats = spawn_watched(&mut cmd);
    let deadline = std::time::Instant::now() + LIMIT;
    while !marker.exists() {
        assert!(std::time::Instant::now() < deadline, "stats never checked");
        std::thread::sleep(Duration::from_millis(2));
    }
    let run = run_in(dir.path(), &["--rate", "0", "--beats", "1"], LIMIT);
    assert!(
        run.status.success(),
        "a run while stats looks: exit {:?}: {}",
        run.status.code(),
        run.stderr
    );
    let stats = finish(stats, LIMIT);
    assert!(stats.status.success(), "{}", stats.stderr);
}

/// Issue 21, item 16: while a run holds the dir, `stats` says so with its
/// PID (not "`fizzflow run` resumes it"), `recover --list` reads, and a
/// restore is refused (exit 3) naming the PID.
#[test]
fn a_held_dir_is_shown_as_in_use_by_its_pid_and_its_backups_can_be_listed() {
    let dir = state_dir();
    let done = run_in(dir.path(), &["--rate", "0", "--beats", "1"], LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    let mut run = spawn_watched(
        fizzflow(&["--rate", "1", "--beats", "100000"])
            .arg("--state-dir")
            .arg(dir.path()),
    );
    assert!(run.wait_for_marker(LIMIT), "the run launched");
    let pid = run.id();
    let table = run_in(dir.path(), &["stats"], LIMIT);
    assert!(table.status.success(), "{}", table.stderr);
    assert!(
        table
            .stdout
            .contains(&format!("running now: in use by PID {pid}")),
        "{}",
        table.stdout
    );
    let json = run_in(dir.path(), &["stats", "--json"], LIMIT).json();
    assert_eq!(json["in_use_by"], pid, "{json}");
    let list = run_in(dir.path(), &["recover", "--list"], LIMIT);
    assert!(list.status.success(), "{}", list.stderr);
    assert!(list.stdout.contains("ok"), "{}", list.stdout);
    let restore = run_in(dir.path(), &["recover", "--force"], LIMIT);
    assert_eq!(restore.status.code(), Some(3), "{}", restore.stderr);
    assert!(
        restore.stderr.contains(&format!("pid {pid}")),
        "{}",
        restore.stderr
    );
    signal(pid, libc::SIGTERM);
    let done = finish(run, LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    let after = run_in(dir.path(), &["stats", "--json"], LIMIT).json();
    assert_eq!(after["in_use_by"], serde_json::Value::Null, "{after}");
}
