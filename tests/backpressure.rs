//! A slow stage makes the others wait, not buffer: totals stay exact,
//! memory stays bounded (a resource assertion, not a timing one), and the
//! checkpoint actor keeps committing.

mod common;
use common::*;
use std::time::Duration;

/// Runs with `delay` injected and returns (summary, peak RSS in bytes,
/// checkpoints in the file).
fn slowed(delay: Option<&str>, beats: &str) -> (serde_json::Value, u64, u64) {
    let dir = state_dir();
    let mut args = vec![
        "--rate",
        "0",
        "--beats",
        beats,
        "--json",
        "--checkpoint-interval",
        "200",
    ];
    if let Some(d) = delay {
        args.extend(["--inject-delay", d]);
    }
    let child = fizzflow(&args)
        .arg("--state-dir")
        .arg(dir.path())
        .spawn()
        .expect("spawn");
    let (done, peak_rss) = wait_watching_rss(child, Duration::from_secs(240));
    assert!(done.status.success(), "{delay:?}: {}", done.stderr);
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30)).json();
    (done.json(), peak_rss, field(&stats, "checkpoints"))
}

fn check(delay: &str, beats: &str) {
    let (base, base_rss, _) = slowed(None, beats);
    let (v, rss, checkpoints) = slowed(Some(delay), beats);
    assert_closed_form(&v);
    assert_whole_beats(&v, 256);
    assert_eq!(v["beats"], base["beats"]);
    assert_eq!(v["messages"], base["messages"], "same totals, slow or not");
    // Channels are bounded: a slow stage adds no buffering beyond them.
    assert!(
        rss <= base_rss + 8 * 1024 * 1024,
        "{delay}: peak RSS {rss} vs {base_rss} undelayed"
    );
    // launch + final + at least one periodic checkpoint during the slow run.
    assert!(checkpoints >= 3, "{delay}: only {checkpoints} checkpoints");
}

#[test]
fn a_slow_logger_holds_everyone_back_without_buffering() {
    // 300 µs per 1024-message batch: ~3.4 M msgs/s, about a hundredth of
    // what a release build does unhindered.
    check("logger:300", "400");
}

#[test]
fn a_slow_worker_holds_everyone_back_without_buffering() {
    check("worker:500", "400");
}

#[test]
fn slow_checkpoint_writes_do_not_stall_the_pipeline() {
    check("checkpoint:150000", "1500");
}
