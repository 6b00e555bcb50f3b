//! stderr has one writer and says things in the order they happened
//! (issue 21, item 15): the "stopping" note a signal causes comes before
//! the summary the stop leads to, however slow the writing. Before, the
//! note was written by a thread of its own and came after the summary, or
//! not at all, when the machine was busy; a test hook (every note takes
//! 300 ms to write) makes that happen every time.

mod common;
use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn the_stopping_note_comes_before_the_summary_however_slow_the_writing() {
    let dir = state_dir();
    let scratch = tempfile::tempdir().unwrap();
    let mut cmd = fizzflow(&["--rate", "2", "--beats", "100000"]);
    cmd.arg("--state-dir").arg(dir.path()).env(
        fizzflow::util::PAUSE_ENV,
        format!("note:300:{}", scratch.path().join("noted").display()),
    );
    let mut run = spawn_watched(&mut cmd);
    assert!(run.wait_for_marker(LIMIT), "launched");
    signal(run.id(), libc::SIGTERM);
    let done = finish(run, LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    let stopping = done.stderr.find("fizzflow: stopping");
    let summary = done.stderr.find("done: this launch");
    assert!(
        matches!((stopping, summary), (Some(a), Some(b)) if a < b),
        "the note first, then the summary:\n{}",
        done.stderr
    );
}
