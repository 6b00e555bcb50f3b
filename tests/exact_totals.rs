//! A run moves exactly beats × 32 × worker-batch messages and its counts
//! equal the closed form, paced or unpaced, with any batch geometry.

mod common;
use common::*;
use std::time::Duration;

fn check(args: &[&str], beats: u64, worker_batch: u64) {
    let done = run(args, Duration::from_secs(120));
    let v = done.success_json();
    assert_eq!(field(&v, "beats"), beats);
    assert_eq!(field(&v, "beats_target"), beats);
    assert_closed_form(&v);
    assert_whole_beats(&v, worker_batch);
    assert_eq!(field(&v, "duplicates_dropped"), 0);
    assert!(
        done.stderr.contains("done: "),
        "human summary on stderr:\n{}",
        done.stderr
    );
}

#[test]
fn paced_run_is_exact() {
    check(&["--rate", "1", "--beats", "300", "--json"], 300, 256);
}

#[test]
fn unpaced_run_is_exact() {
    check(
        &["run", "--rate", "0", "--beats", "400", "--json"],
        400,
        256,
    );
}

#[test]
fn odd_batch_sizes_that_straddle_the_ring_are_exact() {
    check(
        &[
            "--rate",
            "0",
            "--beats",
            "150",
            "--json",
            "--generator-batch",
            "33",
            "--worker-batch",
            "100",
            "--logger-batch",
            "77",
            "--channel-capacity",
            "5000",
        ],
        150,
        100,
    );
}

#[test]
fn batch_of_one_everywhere_is_exact() {
    check(
        &[
            "--rate",
            "0",
            "--beats",
            "20",
            "--json",
            "--generator-batch",
            "1",
            "--worker-batch",
            "1",
            "--logger-batch",
            "1",
        ],
        20,
        1,
    );
}

#[test]
fn the_benchs_single_item_mode_is_exact_too() {
    check(
        &["--rate", "0", "--beats", "20", "--single-item", "--json"],
        20,
        256,
    );
}

#[test]
fn every_beat_gets_a_latency() {
    let done = run(
        &["--rate", "1", "--beats", "300", "--json"],
        Duration::from_secs(60),
    );
    let v = done.success_json();
    let l = &v["beat_latency_us"];
    assert_eq!(l["beats"].as_u64(), Some(300), "{v}");
    let at = |k: &str| l[k].as_u64().unwrap();
    assert!(at("p50") >= 1 && at("p50") <= at("p99"), "{l}");
    assert!(at("p99") <= at("p99_9") && at("p99_9") <= at("max"), "{l}");
    assert!(done.stderr.contains("beat latency p50 "), "{}", done.stderr);
}

#[test]
fn a_continued_runs_rate_is_over_its_own_messages() {
    // Before: the rate divided this launch's time into the lifetime total.
    let dir = state_dir();
    let first = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "50", "--json"],
        Duration::from_secs(60),
    );
    first.success_json();
    let done = run_in(
        dir.path(),
        &["--rate", "1", "--beats", "20", "--json"],
        Duration::from_secs(60),
    );
    let v = done.success_json();
    assert_eq!(field(&v, "messages"), 70 * 8192);
    assert_eq!(field(&v, "elapsed_messages"), 20 * 8192);
    let secs = v["elapsed_secs"].as_f64().unwrap();
    let rate = v["msgs_per_sec"].as_f64().unwrap();
    assert!(
        (rate * secs - (20 * 8192) as f64).abs() < 1.0,
        "{rate} × {secs}"
    );
    let human = done
        .stderr
        .lines()
        .find(|l| l.starts_with("done: this launch 163,840 messages, 20 beats, in "))
        .unwrap_or_else(|| panic!("{}", done.stderr));
    assert!(
        done.stderr
            .contains("lifetime 573,440 messages, 70/70 beats"),
        "{}",
        done.stderr
    );
    assert!(human.ends_with(" msgs/s)"), "{human}");
}
