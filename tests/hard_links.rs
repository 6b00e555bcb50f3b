//! A state dir's files may have other names (hard links): a `cp -al`
//! snapshot, a link someone made. fizzflow never writes through one, so a
//! snapshot keeps exactly what it held (issue 21, item 12; before, redb's
//! in-place writes changed the snapshot's checkpoint file too, and its
//! `stats` then reported beats it never ran).

mod common;
use common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

/// `cp -al FROM TO`: the same files under new names.
fn snapshot_by_links(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            snapshot_by_links(&entry.path(), &target);
        } else {
            fs::hard_link(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_hard_linked_snapshot_keeps_what_it_held_while_the_dir_runs_on() {
    let dir = state_dir();
    for _ in 0..2 {
        let done = run_in(dir.path(), &["--rate", "0", "--beats", "10"], LIMIT);
        assert!(done.status.success(), "{}", done.stderr);
    }
    let snap = state_dir();
    snapshot_by_links(dir.path(), snap.path());
    let before = fs::read(checkpoint_file(snap.path())).unwrap();

    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "5", "--json"],
        LIMIT,
    );
    let v = done.success_json();
    assert_eq!(field(&v, "beats"), 25);
    assert!(
        done.stderr.contains("had 2 names (hard links"),
        "says what it did: {}",
        done.stderr
    );
    assert!(
        fs::read(checkpoint_file(snap.path())).unwrap() == before,
        "the snapshot's file was written through"
    );
    let snap_stats = run_in(snap.path(), &["stats", "--json"], LIMIT).json();
    assert_eq!(field(&snap_stats, "beats"), 20);
    // The dir's own file has one name now, and runs on without a note.
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "5", "--json"],
        LIMIT,
    );
    assert_eq!(field(&done.success_json(), "beats"), 30);
    assert!(!done.stderr.contains("hard links"), "{}", done.stderr);
    assert!(fs::read(checkpoint_file(snap.path())).unwrap() == before);
}
