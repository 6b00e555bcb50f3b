//! SIGKILL at random moments, relaunch, repeat, then let it finish: the
//! totals equal one uninterrupted run's, and every retained checkpoint is a
//! consistent cut. Seeded (fixed by default): the seed is printed, and FIZZFLOW_TORTURE_SEED
//! replays it.

mod common;
use common::*;
use std::time::Duration;

/// The kill schedule: a fixed seed by default, so the test is the same on
/// every run; FIZZFLOW_TORTURE_SEED explores (and replays) others.
fn schedule() -> fastrand::Rng {
    let seed = std::env::var("FIZZFLOW_TORTURE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_F122);
    eprintln!("FIZZFLOW_TORTURE_SEED={seed}");
    fastrand::Rng::with_seed(seed)
}

#[test]
fn kill_and_relaunch_keeps_exact_totals() {
    let mut rng = schedule();
    let dir = state_dir();
    let beats = 1500u64; // about 1.5 s of beats at --rate 1
    let args = [
        "--rate",
        "1",
        "--beats",
        "1500",
        "--checkpoint-interval",
        "50",
    ];
    let (mut kills, mut starts) = (0u64, 0u64);
    let mut last_messages = 0u64;
    for _ in 0..6 {
        let mut child = spawn_watched(fizzflow(&args).arg("--state-dir").arg(dir.path()));
        starts += 1;
        // A launch counts once it has recorded itself (its first commit,
        // milliseconds after start; it says so); kill at a random moment
        // after that. Kills before it are the torture's `kill-at-start`
        // case.
        assert!(
            child.wait_for_marker(Duration::from_secs(30)),
            "launch {starts} never recorded"
        );
        // The random delay is the thing under test: where in the run the
        // kill lands.
        std::thread::sleep(Duration::from_millis(rng.u64(0..900)));
        signal(child.id(), libc::SIGKILL);
        let done = finish(child, Duration::from_secs(30));
        if done.status.code().is_none() {
            kills += 1;
        }
        let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30));
        if stats.status.code() == Some(1) && stats.stderr.contains("no checkpoint") {
            continue; // killed before the state dir had a file: nothing to check yet
        }
        assert!(
            stats.status.success(),
            "stats after a kill:\n{}",
            stats.stderr
        );
        let v = stats.json();
        assert_closed_form(&v);
        assert_whole_beats(&v, 256);
        assert!(
            field(&v, "messages") >= last_messages,
            "totals went backwards: {v}"
        );
        last_messages = field(&v, "messages");
    }
    // Let it finish (it may already have).
    let done = run_in(dir.path(), &args, Duration::from_secs(120));
    starts += 1;
    assert!(done.status.success(), "{}", done.stderr);
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30));
    let v = stats.json();
    assert_closed_form(&v);
    assert_whole_beats(&v, 256);
    assert_eq!(field(&v, "beats_target"), field(&v, "beats"));
    assert!(field(&v, "beats") >= beats);
    assert_eq!(
        field(&v, "launches"),
        starts,
        "launches = every start ({kills} of them killed)"
    );
}
