//! A damaged checkpoint file is not the end of a state dir's totals: every
//! launch keeps a verified backup of its final cut (and of its cuts every
//! so often while it runs), `run` and `stats` say how to restore it,
//! `fizzflow recover` restores it (keeping the damaged file), and a run to
//! the target then has exactly the totals of an undamaged twin.

mod common;
use common::recovery::*;
use common::*;
use std::fs;
use std::path::Path;
use std::time::Duration;

fn damaged_ones(dir: &Path) -> Vec<std::path::PathBuf> {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("checkpoints.redb.damaged-"))
        .collect()
}

#[test]
fn a_damaged_file_is_recovered_and_finishes_exactly_like_an_undamaged_twin() {
    let twin = state_dir();
    two_launches(twin.path());
    ok(twin.path(), &["--rate", "0", "--beats", "100"]);
    let expected = totals(&stats(twin.path()));

    type Damage = fn(&mut Vec<u8>);
    let kinds: [(&str, Damage); 4] = [
        ("zero-length", |b| b.clear()),
        ("garbage header", |b| b[..4096].fill(0x5a)),
        ("truncated", |b| b.truncate(b.len() / 2)),
        ("bytes flipped throughout", |b| {
            for i in (0..b.len()).step_by(509) {
                b[i] ^= 0x10;
            }
        }),
    ];
    for (kind, damage) in kinds {
        let dir = state_dir();
        two_launches(dir.path());
        let file = checkpoint_file(dir.path());
        let mut bytes = fs::read(&file).unwrap();
        damage(&mut bytes);
        fs::write(&file, &bytes).unwrap();

        // Refused, untouched, with the way out.
        for args in [&["--rate", "0", "--beats", "100"][..], &["stats"]] {
            let done = run_in(dir.path(), args, LIMIT);
            assert_eq!(
                done.status.code(),
                Some(4),
                "{kind} {args:?}: {}",
                done.stderr
            );
            assert!(
                done.stderr.contains("fizzflow recover --state-dir"),
                "{kind}: {}",
                done.stderr
            );
            assert!(fs::read(&file).unwrap() == bytes, "{kind}: file changed");
        }
        let list = recover(dir.path(), &["--list"]);
        assert!(list.status.success(), "{}", list.stderr);
        assert!(
            list.stdout
                .lines()
                .any(|l| l.trim_start().starts_with("2 ") && l.ends_with("500/500  ok")),
            "{kind}: {}",
            list.stdout
        );
        let done = recover(dir.path(), &[]);
        assert!(done.status.success(), "{kind}: {}", done.stderr);
        assert!(
            done.stderr.contains("from the backup of launch 2"),
            "{}",
            done.stderr
        );
        // The damaged file is kept, never deleted.
        let kept = damaged_ones(dir.path());
        assert_eq!(kept.len(), 1, "{kind}");
        assert!(fs::read(&kept[0]).unwrap() == bytes, "{kind}");
        // Back at the last launch's final cut: nothing lost. Then the 100
        // beats the refused run asked for.
        assert_eq!(field(&stats(dir.path()), "beats"), 500, "{kind}");
        ok(dir.path(), &["--rate", "0", "--beats", "100"]);
        let v = stats(dir.path());
        assert_closed_form(&v);
        assert_eq!(totals(&v), expected, "{kind}: against the undamaged twin");
    }
}

#[test]
fn a_healthy_file_is_replaced_only_when_forced_and_then_kept() {
    let dir = state_dir();
    two_launches(dir.path());
    let file = checkpoint_file(dir.path());
    let before = fs::read(&file).unwrap();
    let done = recover(dir.path(), &[]);
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(done.stderr.contains("is healthy"), "{}", done.stderr);
    assert_eq!(fs::read(&file).unwrap(), before);
    let done = recover(dir.path(), &["--force", "--from", "1"]);
    assert!(done.status.success(), "{}", done.stderr);
    // Issue 21, item 6: what the restore loses, said exactly.
    assert!(
        done.stderr.contains(
            "lacks what the replaced file counted after it: 200 beats, 1,638,400 messages"
        ),
        "{}",
        done.stderr
    );
    let replaced: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".replaced-"))
        .collect();
    assert_eq!(replaced.len(), 1);
    assert!(fs::read(replaced[0].path()).unwrap() == before);
    assert_eq!(field(&stats(dir.path()), "beats"), 300);
}

#[test]
fn a_backup_that_fails_its_check_is_passed_over_for_an_older_one() {
    let dir = state_dir();
    two_launches(dir.path());
    ok(dir.path(), &["--rate", "0", "--beats", "100"]);
    // Backups of launches 1 (300 beats), 2 (500) and 3 (600); the newest
    // and the file itself are damaged.
    let newest = backup_of(dir.path(), 3);
    fs::write(&newest, b"not a checkpoint file").unwrap();
    fs::write(checkpoint_file(dir.path()), b"").unwrap();
    // Asked for by name, a failing backup is not restored.
    let done = recover(dir.path(), &["--from", "3"]);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert_eq!(fs::read(checkpoint_file(dir.path())).unwrap(), b"");
    let list = recover(dir.path(), &["--list"]);
    assert!(list.stdout.contains("fails:"), "{}", list.stdout);
    // The checkpoint file's advice is not for a backup.
    assert!(!list.stdout.contains("move it aside"), "{}", list.stdout);
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("fails its check") && done.stderr.contains("launch-3-"),
        "{}",
        done.stderr
    );
    assert_eq!(field(&stats(dir.path()), "beats"), 500);
}

#[test]
fn a_schema_1_backup_is_restored_and_upgraded_by_the_next_run() {
    let dir = state_dir();
    fs::create_dir(dir.path().join("backups")).unwrap();
    // A file the first release wrote (killed 651 beats into 3000).
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/releases/2db95b0/killed-once/state/checkpoints.redb");
    fs::copy(&fixture, dir.path().join("backups/launch-1.redb")).unwrap();
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("schema 1; the next run upgrades it"),
        "{}",
        done.stderr
    );
    assert_eq!(field(&stats(dir.path()), "schema_version"), 1);
    ok(dir.path(), &["--rate", "0"]);
    let v = stats(dir.path());
    assert_eq!(field(&v, "schema_version"), 3);
    assert_eq!(field(&v, "beats"), field(&v, "beats_target"));
    assert_closed_form(&v);
}

#[test]
fn nothing_to_restore_is_exit_1_and_a_held_dir_exit_3() {
    let dir = state_dir();
    ok(dir.path(), &["--rate", "0", "--beats", "10"]);
    fs::write(checkpoint_file(dir.path()), b"").unwrap();
    fs::remove_dir_all(dir.path().join("backups")).unwrap();
    let done = recover(dir.path(), &[]);
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("no backups in"), "{}", done.stderr);
    // Without backups, the refusal says how to start over instead.
    let done = run_in(dir.path(), &["stats"], LIMIT);
    assert!(done.stderr.contains("move it aside"), "{}", done.stderr);

    let held = state_dir();
    let mut run = spawn_watched(
        fizzflow(&["--rate", "50", "--beats", "1000"])
            .arg("--state-dir")
            .arg(held.path()),
    );
    assert!(run.wait_for_marker(LIMIT), "the run launched");
    let done = recover(held.path(), &[]);
    assert_eq!(done.status.code(), Some(3), "{}", done.stderr);
    signal(run.id(), libc::SIGTERM);
    let _ = finish(run, LIMIT);
}

/// Exit 2 and nothing changed: `recover` replaces only a damaged or missing
/// file unless forced.
fn not_without_force(dir: &Path, says: &str) {
    let path = checkpoint_file(dir);
    let before = fs::symlink_metadata(&path).unwrap();
    let done = recover(dir, &[]);
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(done.stderr.contains(says), "{}", done.stderr);
    assert!(
        done.stderr.contains("Usage: fizzflow recover"),
        "{}",
        done.stderr
    );
    let after = fs::symlink_metadata(&path).unwrap();
    assert_eq!(before.file_type(), after.file_type());
    assert_eq!(before.len(), after.len());
}

#[test]
fn a_file_from_a_newer_fizzflow_or_a_symlink_is_not_damage() {
    let dir = state_dir();
    two_launches(dir.path());
    set_schema_version(dir.path(), "4");
    let bytes = fs::read(checkpoint_file(dir.path())).unwrap();
    // The run's refusal does not suggest recover for it.
    let refused = run_in(dir.path(), &["--rate", "0"], LIMIT);
    assert_eq!(refused.status.code(), Some(4), "{}", refused.stderr);
    assert!(!refused.stderr.contains("recover"), "{}", refused.stderr);
    not_without_force(dir.path(), "newer fizzflow");
    assert_eq!(fs::read(checkpoint_file(dir.path())).unwrap(), bytes);
    let forced = recover(dir.path(), &["--force"]);
    assert!(forced.status.success(), "{}", forced.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 500);

    let linked = state_dir();
    two_launches(linked.path());
    let elsewhere = linked.path().join("elsewhere.redb");
    fs::rename(checkpoint_file(linked.path()), &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, checkpoint_file(linked.path())).unwrap();
    not_without_force(linked.path(), "not a regular file");
}

#[test]
fn a_missing_state_dir_is_exit_4() {
    let parent = state_dir();
    let done = recover(&parent.path().join("nothing-here"), &[]);
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(!parent.path().join("nothing-here").exists());
}

#[test]
fn a_file_cut_shorter_than_redbs_header_is_damage_and_recovered() {
    let dir = state_dir();
    two_launches(dir.path());
    let path = checkpoint_file(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    bytes.truncate(100);
    fs::write(&path, &bytes).unwrap();
    // Damage (exit 4, with the way back), not "could not check" (exit 1).
    let refused = run_in(dir.path(), &["--rate", "0"], LIMIT);
    assert_eq!(refused.status.code(), Some(4), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("fizzflow recover"),
        "{}",
        refused.stderr
    );
    assert_eq!(fs::read(&path).unwrap(), bytes);
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 500);
}

/// fizzflow has only ever written redb file format 3, which redb keeps in
/// both commit slots of its header (bytes 64 and 192). One flipped bit of
/// either makes the file claim format 2 or 1 (redb: "upgrade required") or
/// one above 3 (redb: corrupted): damage, all of them, with the way back,
/// never "a newer redb" (which needed --force to recover).
#[test]
fn a_file_claiming_another_redb_format_is_damage_and_recovered() {
    let dir = state_dir();
    two_launches(dir.path());
    let path = checkpoint_file(dir.path());
    let good = fs::read(&path).unwrap();
    assert_eq!((good[64], good[192]), (3, 3), "redb's format bytes");
    for at in [64, 192] {
        for bit in 0..8 {
            let mut bytes = good.clone();
            bytes[at] ^= 1 << bit;
            let case = format!("byte {at} = {}", bytes[at]);
            fs::write(&path, &bytes).unwrap();
            for args in [&["stats"][..], &["--rate", "0"][..]] {
                let refused = run_in(dir.path(), args, LIMIT);
                assert_eq!(refused.status.code(), Some(4), "{case}: {}", refused.stderr);
                assert!(
                    refused.stderr.contains("fizzflow recover --state-dir"),
                    "{case}: {}",
                    refused.stderr
                );
                assert!(
                    !refused.stderr.contains("newer"),
                    "{case}: {}",
                    refused.stderr
                );
                assert!(
                    fs::read(&path).unwrap() == bytes,
                    "{case}: the file changed"
                );
            }
            let done = recover(dir.path(), &[]);
            assert!(done.status.success(), "{case}: {}", done.stderr);
            assert_eq!(field(&stats(dir.path()), "beats"), 500, "{case}");
        }
    }
    // Issue 21's flip: byte 192's lowest bit, format 3 becomes 2.
    let mut bytes = good.clone();
    bytes[192] ^= 1;
    fs::write(&path, &bytes).unwrap();
    let refused = run_in(dir.path(), &["stats"], LIMIT);
    assert!(
        refused.stderr.contains("claims redb file format 2"),
        "{}",
        refused.stderr
    );
}

/// A file whose check cannot be made (here the checker is killed, as the
/// OOM killer would) is not known to be damaged: recover leaves it
/// (exit 1, saying how to force it), and --force replaces it all the same,
/// keeping it.
#[test]
fn a_file_that_cannot_be_checked_is_replaced_only_when_forced() {
    let dir = state_dir();
    two_launches(dir.path());
    let path = checkpoint_file(dir.path());
    let bytes = fs::read(&path).unwrap();
    let with_check_killed = |extra: &[&str]| {
        let mut args = vec!["recover", "--state-dir", dir.path().to_str().unwrap()];
        args.extend_from_slice(extra);
        // Every check sleeps first; the first one (of the file) is killed.
        let child = fizzflow(&args)
            .env(fizzflow::durable::TEST_DELAY_ENV, "1500")
            .spawn()
            .expect("spawn recover");
        // recover's one child is its checker; the probe is the checker's.
        let checker = wait_for_child(child.id(), Duration::from_secs(30));
        let probe = wait_for_child(checker, Duration::from_secs(30));
        signal(probe, libc::SIGKILL);
        wait_with_deadline(child, LIMIT)
    };
    let replaced = || {
        fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().contains("checkpoints.redb.replaced-"))
            .collect::<Vec<_>>()
    };

    let left = with_check_killed(&[]);
    assert_eq!(left.status.code(), Some(1), "{}", left.stderr);
    assert!(left.stderr.contains("could not check"), "{}", left.stderr);
    assert!(left.stderr.contains("--force"), "{}", left.stderr);
    assert!(fs::read(&path).unwrap() == bytes);
    assert!(replaced().is_empty());

    let forced = with_check_killed(&["--force"]);
    assert!(forced.status.success(), "{}", forced.stderr);
    assert!(
        forced.stderr.contains("from the backup of launch 2"),
        "{}",
        forced.stderr
    );
    assert!(
        forced.stderr.contains("could not be checked"),
        "{}",
        forced.stderr
    );
    let kept = replaced();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(
        fs::read(&kept[0]).unwrap() == bytes,
        "the old file is kept as it was"
    );
    assert_eq!(field(&stats(dir.path()), "beats"), 500);
}
