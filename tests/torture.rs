//! The torture engine (`fizzflow torture`) on a short schedule: SIGKILL,
//! SIGTERM/SIGINT, actor panics, aborts inside a checkpoint commit, a full
//! disk, damaged files, bad state dirs and two processes racing, with the
//! invariants checked after every fault. The seed is printed on failure;
//! FIZZFLOW_TORTURE_SEED replays it. `fizzflow torture --cycles 500` is the
//! long version.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn twenty_five_mixed_faults_lose_nothing() {
    // The seed comes from FIZZFLOW_TORTURE_SEED when set (inherited by the
    // child), else from the clock; the engine prints it either way.
    let child = fizzflow(&["torture", "--cycles", "25", "--beats", "400"])
        .spawn()
        .expect("spawn torture");
    let done = wait_with_deadline(child, Duration::from_secs(600));
    assert!(
        done.status.success(),
        "torture failed ({:?})\nreport:\n{}\nlog:\n{}",
        done.status,
        done.stdout,
        done.stderr
    );
    assert!(
        done.stdout.contains("verdict           PASS"),
        "{}",
        done.stdout
    );
    assert!(done.stderr.contains("cycle   25/25"), "{}", done.stderr);
}
