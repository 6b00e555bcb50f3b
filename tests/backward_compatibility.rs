//! Checkpoint files written by earlier builds (fixtures/, made by
//! scripts/make-fixtures.sh with a build of their schema) are read exactly
//! as that build read them, are upgraded by `run` in one transaction with
//! every total, record and setting kept, and resume exactly. `stats` reads
//! an old file without touching it. Beside each fixture (but the first two,
//! which predate them) lies what its own build's `stats` printed.

mod common;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCHEMA1: [&str; 6] = [
    "schema1-finished-10-beats",
    "schema1-killed-of-1000-beats",
    "schema1-finished-with-panics",
    "schema1-killed-mid-run",
    "schema1-several-launches",
    "schema1-custom-batches-short-history",
];

const SCHEMA2: [&str; 4] = [
    "schema2-finished-with-panics",
    "schema2-killed-mid-run",
    "schema2-several-launches",
    "schema2-custom-batches-short-history",
];

fn fixture(name: &str, ext: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(format!("{name}.{ext}"))
}

/// A private copy, so the fixture itself is never written to.
fn copy_of(name: &str) -> tempfile::TempDir {
    let dir = state_dir();
    fs::copy(fixture(name, "redb"), checkpoint_file(dir.path())).expect("fixture exists");
    dir
}

/// What the fixture's own build printed, where it was kept.
fn sidecar(name: &str, what: &str) -> Option<Value> {
    let text = fs::read_to_string(fixture(name, &format!("{what}.json"))).ok()?;
    Some(serde_json::from_str(&text).expect("sidecar is JSON"))
}

fn stats(dir: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["stats", "--json"];
    args.extend_from_slice(extra);
    let done = run_in(dir, &args, Duration::from_secs(60));
    assert!(done.status.success(), "{args:?}: {}", done.stderr);
    done.json()
}

/// Every field the old build printed, printed the same by this one.
fn same_fields(old: &Value, new: &Value, what: &str) {
    let Some(fields) = old.as_object() else {
        panic!("{what}: not an object: {old}");
    };
    for (key, value) in fields {
        assert_eq!(&new[key], value, "{what}: field {key}: {new}");
    }
}

/// The two fixtures older than the sidecars: what their build printed,
/// written down when they were made.
fn expected_without_sidecar(name: &str) -> (u64, u64, u64, u64) {
    // (messages, beats, beats_target, launches)
    match name {
        "schema1-finished-10-beats" => (81_920, 10, 10, 1),
        "schema1-killed-of-1000-beats" => (4_423_680, 540, 1000, 1),
        _ => unreachable!("{name} has sidecars"),
    }
}

#[test]
fn every_schema1_fixture_reads_as_its_build_read_it_without_being_touched() {
    for name in SCHEMA1 {
        let dir = copy_of(name);
        let before = fs::read(checkpoint_file(dir.path())).unwrap();
        let v = stats(dir.path(), &[]);
        assert_eq!(field(&v, "schema_version"), 1, "{name}");
        assert_closed_form(&v);
        match sidecar(name, "stats") {
            Some(old) => {
                same_fields(&old, &v, name);
                let history = stats(dir.path(), &["--history"]);
                let old = sidecar(name, "history").expect("history sidecar");
                let (old, new) = (old.as_array().unwrap(), history.as_array().unwrap());
                assert_eq!(old.len(), new.len(), "{name}: history length");
                for (o, n) in old.iter().zip(new) {
                    same_fields(o, n, name);
                }
            }
            None => {
                let (messages, beats, target, launches) = expected_without_sidecar(name);
                assert_eq!(field(&v, "messages"), messages, "{name}");
                assert_eq!(
                    (field(&v, "beats"), field(&v, "beats_target")),
                    (beats, target)
                );
                assert_eq!(field(&v, "launches"), launches, "{name}");
            }
        }
        let table = run_in(dir.path(), &["stats"], Duration::from_secs(60));
        assert!(
            table
                .stdout
                .contains("the next `fizzflow run` upgrades it to schema 2"),
            "{name}: {}",
            table.stdout
        );
        assert_eq!(
            fs::read(checkpoint_file(dir.path())).unwrap(),
            before,
            "{name}: stats changed the file"
        );
    }
}

/// The launch history adds up to the lifetime totals, one row per launch.
fn launches_add_up(dir: &Path, what: &str) -> Vec<Value> {
    let v = stats(dir, &[]);
    let rows = stats(dir, &["--launches"]);
    let rows = rows.as_array().expect("an array").clone();
    assert_eq!(rows.len() as u64, field(&v, "launches"), "{what}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(field(row, "launch"), i as u64 + 1, "{what}: {row}");
    }
    let added: Option<u64> = rows.iter().map(|r| r["added_messages"].as_u64()).sum();
    assert_eq!(added, Some(field(&v, "messages")), "{what}: {rows:?}");
    rows
}

#[test]
fn every_schema1_fixture_upgrades_on_run_keeps_everything_and_resumes_exactly() {
    for name in SCHEMA1 {
        let dir = copy_of(name);
        let old = stats(dir.path(), &[]);
        let old_history = stats(dir.path(), &["--history"]);
        let worker_batch = field(&old_history[0]["settings"], "worker_batch");
        let unfinished = field(&old, "beats") < field(&old, "beats_target");
        // An unfinished run resumes with no flags; a finished one runs 3 more.
        let args: &[&str] = if unfinished {
            &["--rate", "0", "--json"]
        } else {
            &["--rate", "0", "--beats", "3", "--json"]
        };
        let done = run_in(dir.path(), args, Duration::from_secs(120));
        let v = done.success_json();
        assert!(
            done.stderr.contains("from schema 1 to 2"),
            "{name}: {}",
            done.stderr
        );
        let target = field(&old, "beats_target") + if unfinished { 0 } else { 3 };
        assert_eq!(
            (field(&v, "beats"), field(&v, "beats_target")),
            (target, target)
        );
        assert_closed_form(&v);
        assert_whole_beats(&v, worker_batch);

        let new = stats(dir.path(), &[]);
        assert_eq!(field(&new, "schema_version"), 2, "{name}");
        assert_eq!(
            field(&new, "launches"),
            field(&old, "launches") + 1,
            "{name}"
        );
        // Every old record the new run's history still keeps is unchanged.
        let history = stats(dir.path(), &["--history"]);
        let kept: Vec<&Value> = old_history
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| {
                history
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n["seq"] == o["seq"])
            })
            .collect();
        assert!(!kept.is_empty(), "{name}: no old record kept");
        for o in kept {
            let n = history
                .as_array()
                .unwrap()
                .iter()
                .find(|n| n["seq"] == o["seq"])
                .unwrap();
            assert_eq!(o, n, "{name}: record {} changed", o["seq"]);
        }
        let rows = launches_add_up(dir.path(), name);
        let newest = rows.last().unwrap();
        assert_eq!(newest["ended"], "finished", "{name}: {newest}");
        assert!(
            rows[..rows.len() - 1]
                .iter()
                .all(|r| r["ended"] == "predates schema 2")
        );
    }
}

#[test]
fn a_crash_inside_the_upgrade_leaves_schema_1_and_the_next_run_upgrades() {
    let name = "schema1-several-launches";
    let dir = copy_of(name);
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "3", "--inject-abort", "upgrade"],
        Duration::from_secs(60),
    );
    assert!(done.status.code().is_none(), "aborted: {}", done.stderr);
    assert!(
        done.stderr.contains("inside the upgrade from schema 1"),
        "{}",
        done.stderr
    );
    let v = stats(dir.path(), &[]);
    assert_eq!(field(&v, "schema_version"), 1);
    same_fields(&sidecar(name, "stats").unwrap(), &v, "after the crash");
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "3", "--json"],
        Duration::from_secs(60),
    );
    let v = done.success_json();
    assert_eq!(field(&v, "beats"), 1053);
    assert_closed_form(&v);
    assert_eq!(field(&stats(dir.path(), &[]), "schema_version"), 2);
    launches_add_up(dir.path(), "after the upgrade");
}

#[test]
fn every_schema2_fixture_reads_as_its_build_read_it_and_resumes_exactly() {
    for name in SCHEMA2 {
        let dir = copy_of(name);
        let before = fs::read(checkpoint_file(dir.path())).unwrap();
        let v = stats(dir.path(), &[]);
        same_fields(&sidecar(name, "stats").unwrap(), &v, name);
        let history = stats(dir.path(), &["--history"]);
        assert_eq!(history, sidecar(name, "history").unwrap(), "{name}");
        let launches = stats(dir.path(), &["--launches"]);
        assert_eq!(launches, sidecar(name, "launches").unwrap(), "{name}");
        assert_eq!(fs::read(checkpoint_file(dir.path())).unwrap(), before);

        let unfinished = field(&v, "beats") < field(&v, "beats_target");
        let args: &[&str] = if unfinished {
            &["--rate", "0", "--json"]
        } else {
            &["--rate", "0", "--beats", "3", "--json"]
        };
        let after = run_in(dir.path(), args, Duration::from_secs(120)).success_json();
        assert_eq!(field(&after, "beats"), field(&after, "beats_target"));
        assert_closed_form(&after);
        launches_add_up(dir.path(), name);
    }
}
