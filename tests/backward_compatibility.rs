//! Checkpoint files written by earlier schema versions (fixtures/, made by
//! scripts/make-fixtures.sh) open with this build, keep their exact totals,
//! and resume. When the schema changes, the old fixtures stay and new ones
//! are added next to them.

mod common;
use common::*;
use std::path::Path;
use std::time::Duration;

/// A private copy, so the fixture itself is never written to.
fn copy_of(fixture: &str) -> tempfile::TempDir {
    let dir = state_dir();
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(fixture);
    std::fs::copy(&src, dir.path().join("checkpoints.redb")).expect("fixture exists");
    dir
}

fn stats(dir: &Path) -> serde_json::Value {
    let done = run_in(dir, &["stats", "--json"], Duration::from_secs(30));
    assert!(done.status.success(), "{}", done.stderr);
    done.json()
}

#[test]
fn schema1_finished_run_reads_exactly_and_continues() {
    let dir = copy_of("schema1-finished-10-beats.redb");
    let v = stats(dir.path());
    assert_eq!(field(&v, "schema_version"), 1);
    assert_eq!(field(&v, "messages"), 81_920);
    assert_eq!((field(&v, "beats"), field(&v, "beats_target")), (10, 10));
    assert_eq!((field(&v, "launches"), field(&v, "checkpoints")), (1, 2));
    assert_closed_form(&v);

    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "5", "--json"],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    let v = stats(dir.path());
    assert_eq!((field(&v, "beats"), field(&v, "beats_target")), (15, 15));
    assert_eq!(field(&v, "launches"), 2);
    assert_closed_form(&v);
    assert_whole_beats(&v, 256);
}

#[test]
fn schema1_killed_run_resumes_to_its_target() {
    let dir = copy_of("schema1-killed-of-1000-beats.redb");
    let v = stats(dir.path());
    assert_eq!(field(&v, "schema_version"), 1);
    assert_eq!((field(&v, "beats"), field(&v, "beats_target")), (540, 1000));
    assert_eq!(field(&v, "messages"), 4_423_680);
    assert_eq!(field(&v, "checkpoints"), 12);
    assert_closed_form(&v);

    let done = run_in(
        dir.path(),
        &["--rate", "0", "--json"],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("resuming an unfinished run at beat 540/1000"),
        "{}",
        done.stderr
    );
    let v = stats(dir.path());
    assert_eq!(
        (field(&v, "beats"), field(&v, "beats_target")),
        (1000, 1000)
    );
    assert_eq!(field(&v, "messages"), 1000 * 8192);
    assert_eq!(field(&v, "launches"), 2);
    assert_closed_form(&v);
}
