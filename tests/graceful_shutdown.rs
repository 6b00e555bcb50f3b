//! SIGINT and SIGTERM stop the heartbeat; the beats already sent drain, the
//! summary is printed and the exit code is 0, with whole beats counted.

mod common;
use common::*;
use std::time::Duration;

fn stop_with(signal: i32) {
    // Paced so that it is still running when the signal arrives.
    let dir = state_dir();
    let child = fizzflow(&["--rate", "2", "--beats", "100000", "--json"])
        .arg("--state-dir")
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    let pid = child.id() as i32;
    std::thread::sleep(Duration::from_millis(700));
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    let done = wait_with_deadline(child, Duration::from_secs(30));
    let v = done.success_json();
    let beats = field(&v, "beats");
    assert!(
        beats > 0 && beats < 100000,
        "stopped early with some beats: {v}"
    );
    assert_closed_form(&v);
    assert_whole_beats(&v, 256);
    assert!(done.stderr.contains("stopping"), "{}", done.stderr);
    // The final checkpoint holds exactly the printed totals.
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30)).json();
    assert_eq!(stats["messages"], v["messages"]);
    assert_eq!(stats["beats"], v["beats"]);
}

#[test]
fn sigterm_drains_and_exits_zero() {
    stop_with(libc::SIGTERM);
}

#[test]
fn sigint_drains_and_exits_zero() {
    stop_with(libc::SIGINT);
}
