//! What a relaunch does with the stored run, and that every refusal leaves
//! the checkpoint file byte-identical: an unfinished run resumes with its
//! stored settings, flags given explicitly that contradict it are refused
//! (exit 2), a target past the largest count is refused with the limit, and
//! a past launch's sequence errors do not fail a clean launch.

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A private copy of the checkpoint file of a state dir a release wrote
/// (fixtures/releases/<commit>/<scenario>), so the corpus is never written to.
fn copy_of(release_dir: &str) -> tempfile::TempDir {
    let dir = state_dir();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/releases")
        .join(release_dir)
        .join("state/checkpoints.redb");
    fs::copy(&src, checkpoint_file(dir.path())).expect("fixture exists");
    dir
}

/// Runs with `args`, expects exit 2 with `expect` in the message, and the
/// file exactly as it was.
fn refused_unchanged(dir: &Path, args: &[&str], expect: &str) {
    let before = fs::read(checkpoint_file(dir)).unwrap();
    let done = run_in(dir, args, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(2), "{args:?}: {}", done.stderr);
    assert!(
        done.stderr.contains(expect),
        "{args:?}: '{expect}' in {}",
        done.stderr
    );
    assert_eq!(
        fs::read(checkpoint_file(dir)).unwrap(),
        before,
        "{args:?} changed the file"
    );
}

#[test]
fn flags_that_contradict_an_unfinished_run_are_refused() {
    // 651 of 3000 beats (`--rate 1 --beats 3000 --checkpoint-interval 50`), killed.
    let dir = copy_of("2db95b0/killed-once");
    refused_unchanged(
        dir.path(),
        &["--rate", "0", "--worker-batch", "512", "--beats", "10"],
        "--worker-batch 512 (the run has 256), --beats 10",
    );
    refused_unchanged(
        dir.path(),
        &["--rate", "0", "--channel-capacity", "4096"],
        "unfinished run at beat 651/3000",
    );
    // The command that started it, or none of those flags, resumes it.
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "3000", "--json"],
        Duration::from_secs(60),
    );
    let v = done.success_json();
    assert_eq!(
        (field(&v, "beats"), field(&v, "beats_target")),
        (3000, 3000)
    );
    assert_closed_form(&v);
}

#[test]
fn a_mismatching_worker_batch_on_a_finished_dir_changes_nothing() {
    let dir = copy_of("2db95b0/one-finished-run");
    refused_unchanged(
        dir.path(),
        &["--rate", "0", "--worker-batch", "512"],
        "counts beats of 32 × 256 messages",
    );
}

#[test]
fn a_target_past_the_largest_count_is_refused_with_the_limit() {
    let dir = copy_of("2db95b0/one-finished-run");
    let most = (u64::MAX - (1 << 32)) / 8192 - 300;
    refused_unchanged(
        dir.path(),
        &["--rate", "0", "--beats", "18446744073709551615"],
        &format!("--beats can be at most {most}"),
    );
}

#[test]
fn past_sequence_errors_do_not_fail_a_clean_launch() {
    // A finished run whose logger once saw a wrong kind: the record is its
    // honest account (one error, the counts off by that message).
    let dir = crafted(|r| {
        r.beats_target = 1;
        r.logger.sequence_errors = 1;
        r.logger.counts.fizz += 1;
        r.logger.counts.value -= 1;
    });
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "3", "--json"],
        Duration::from_secs(60),
    );
    let v = done.success_json();
    assert_eq!(field(&v, "sequence_errors"), 1, "the lifetime count stays");
    assert_eq!(field(&v, "beats"), 4);
}
