//! A damaged checkpoint file is not the end of a state dir's totals: every
//! launch keeps a verified backup of its final cut (and of its cuts every
//! so often while it runs), `run` and `stats` say how to restore it,
//! `fizzflow recover` restores it (keeping the damaged file), and a run to
//! the target then has exactly the totals of an undamaged twin.

mod common;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn ok(dir: &Path, args: &[&str]) -> Finished {
    let done = run_in(dir, args, LIMIT);
    assert!(done.status.success(), "{args:?}: {}", done.stderr);
    done
}

/// 300 beats, then 200 more: each launch ends with a backup of its cut.
fn two_launches(dir: &Path) {
    ok(dir, &["--rate", "0", "--beats", "300"]);
    ok(dir, &["--rate", "0", "--beats", "200"]);
}

fn recover(dir: &Path, extra: &[&str]) -> Finished {
    let mut args = vec!["recover"];
    args.extend_from_slice(extra);
    run_in(dir, &args, LIMIT)
}

fn stats(dir: &Path) -> Value {
    ok(dir, &["stats", "--json"]).json()
}

/// The totals that must match an uninterrupted twin.
fn totals(v: &Value) -> Vec<u64> {
    [
        "messages",
        "fizz",
        "buzz",
        "fizzbuzz",
        "value",
        "beats",
        "beats_target",
        "sequence_errors",
    ]
    .iter()
    .map(|k| field(v, k))
    .collect()
}

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

/// Issue 21, item 4: a state dir that has backups but no checkpoint file
/// has lost its file. Before, a run started a new lifetime from zero and
/// renamed the backups away; now nothing starts, nothing is renamed, and
/// the refusal says how to restore (or how to really start from zero).
#[test]
fn a_state_dir_that_lost_its_file_is_refused_with_its_backups_named() {
    let dir = state_dir();
    for _ in 0..3 {
        ok(dir.path(), &["--rate", "0", "--beats", "10"]);
    }
    fs::remove_file(checkpoint_file(dir.path())).unwrap();
    let names = |d: &Path| -> Vec<String> {
        let mut n: Vec<String> = fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let before = (names(dir.path()), names(&dir.path().join("backups")));
    for args in [&["--rate", "0", "--beats", "7"][..], &["stats"]] {
        let done = run_in(dir.path(), args, LIMIT);
        let code = if args[0] == "stats" { 1 } else { 4 };
        assert_eq!(done.status.code(), Some(code), "{args:?}: {}", done.stderr);
    }
    let refused = run_in(dir.path(), &["--rate", "0", "--beats", "7"], LIMIT);
    assert!(
        refused.stderr.contains("fizzflow recover --state-dir")
            && refused.stderr.contains("backups"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        (names(dir.path()), names(&dir.path().join("backups"))),
        before
    );
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 30);
    // Starting from zero is a choice made by moving both away.
    fs::rename(checkpoint_file(dir.path()), dir.path().join("a.redb")).unwrap();
    fs::rename(dir.path().join("backups"), dir.path().join("a-backups")).unwrap();
    ok(dir.path(), &["--rate", "0", "--beats", "7"]);
    assert_eq!(field(&stats(dir.path()), "beats"), 7);
}

/// Issue 21, item 7: a state dir of a single launch has a backup of that
/// launch's final cut (before, the first launch wrote none).
#[test]
fn a_single_launch_dir_is_recoverable() {
    let dir = state_dir();
    ok(dir.path(), &["--rate", "0", "--beats", "12"]);
    fs::write(checkpoint_file(dir.path()), b"damaged").unwrap();
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    let v = stats(dir.path());
    assert_eq!((field(&v, "beats"), field(&v, "launches")), (12, 1));
    assert_closed_form(&v);
}

/// A long launch keeps a backup every so often (here every second), at
/// most the newest three; killed mid-run and damaged, it comes back to its
/// newest cut, and the run finishes exactly like an uninterrupted twin.
#[test]
fn a_killed_long_run_comes_back_to_its_newest_cut_and_finishes_exactly() {
    let dir = state_dir();
    ok(dir.path(), &["--rate", "0", "--beats", "100"]);
    let mut run = spawn_watched(
        fizzflow(&["--rate", "1", "--beats", "4000", "--backup-every", "1"])
            .arg("--state-dir")
            .arg(dir.path()),
    );
    assert!(run.wait_for_marker(LIMIT), "launched");
    let deadline = std::time::Instant::now() + LIMIT;
    while backups_of(dir.path(), 2).len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no periodic backups");
        std::thread::sleep(Duration::from_millis(20));
    }
    signal(run.id(), libc::SIGKILL);
    let _ = finish(run, LIMIT);
    let all = fs::read_dir(dir.path().join("backups")).unwrap().count();
    assert!(all <= 3, "at most the newest three are kept: {all}");
    fs::write(checkpoint_file(dir.path()), b"damaged").unwrap();
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr.contains("finishes its run from beat"),
        "{}",
        done.stderr
    );
    let v = stats(dir.path());
    assert!(field(&v, "beats") > 100, "a cut inside the long run: {v}");
    ok(dir.path(), &["--rate", "0"]);
    let v = stats(dir.path());
    assert_eq!(field(&v, "beats"), 4100);
    assert_closed_form(&v);
}

/// Issue 21, item 5: a restore to an older cut sets the newer backups
/// apart; later recovers never offer them, `--list` labels them, they are
/// restored only by name, and launch numbers that come round again collide
/// with nothing.
#[test]
fn a_restore_leaves_the_abandoned_timeline_apart() {
    let dir = state_dir();
    for _ in 0..4 {
        ok(dir.path(), &["--rate", "0", "--beats", "10"]);
    }
    let old_four = backup_of(dir.path(), 4);
    let done = recover(dir.path(), &["--force", "--from", "2"]);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(done.stderr.contains("set apart in"), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 20);
    // A new timeline: launches 3 and 4 again, 5 beats each.
    for _ in 0..2 {
        ok(dir.path(), &["--rate", "0", "--beats", "5"]);
    }
    let v = stats(dir.path());
    assert_eq!(field(&v["backups"], "newest_launch"), 4, "{v}");
    let list = recover(dir.path(), &["--list"]);
    assert!(list.status.success(), "{}", list.stderr);
    assert!(
        list.stdout.contains("set apart by a restore")
            && list.stdout.contains("ok, another timeline"),
        "{}",
        list.stdout
    );
    // Damaged: the current timeline's newest comes back (30 beats), not the
    // abandoned launch 4 (40 beats).
    fs::write(checkpoint_file(dir.path()), b"damaged").unwrap();
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 30);
    // The abandoned one, when named.
    let abandoned = fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("abandoned-"))
        .unwrap()
        .path()
        .join(old_four.file_name().unwrap());
    let done = recover(
        dir.path(),
        &["--force", "--from-path", abandoned.to_str().unwrap()],
    );
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 40);
}

/// The backups of one launch, as fizzflow names them.
fn backups_of(dir: &Path, launch: u64) -> Vec<std::path::PathBuf> {
    let prefix = format!("launch-{launch}-");
    fs::read_dir(dir.join("backups"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name.starts_with(&prefix) && name.ends_with(".redb")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The one backup of a launch's final cut.
fn backup_of(dir: &Path, launch: u64) -> std::path::PathBuf {
    let mut found = backups_of(dir, launch);
    assert_eq!(found.len(), 1, "backups of launch {launch}: {found:?}");
    found.remove(0)
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

/// Found by review: a `recover` killed after its swap (or one that could
/// not set the newer backups apart) left the abandoned timeline among the
/// current backups, and a later `recover` brought it back, throwing away
/// the current totals. They are set apart before the swap now; here the
/// recover is killed right after it (a test hook holds it there).
#[test]
fn a_recover_killed_after_its_swap_has_already_set_the_newer_backups_apart() {
    let dir = state_dir();
    for _ in 0..4 {
        ok(dir.path(), &["--rate", "0", "--beats", "20"]);
    }
    fs::write(checkpoint_file(dir.path()), b"damaged").unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let marker = scratch.path().join("swapped");
    let mut cmd = fizzflow(&["recover", "--from", "2"]);
    cmd.arg("--state-dir").arg(dir.path()).env(
        fizzflow::util::PAUSE_ENV,
        format!("restore-swapped:5000:{}", marker.display()),
    );
    let child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + LIMIT;
    while !marker.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "recover never swapped"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    signal(child.id(), libc::SIGKILL);
    let _ = wait_with_deadline(child, LIMIT);
    assert!(
        backups_of(dir.path(), 3).is_empty(),
        "launch 3 still current"
    );
    assert!(
        backups_of(dir.path(), 4).is_empty(),
        "launch 4 still current"
    );
    assert_eq!(field(&stats(dir.path()), "beats"), 40);
    // The current timeline goes on, is damaged, and comes back as itself.
    ok(dir.path(), &["--rate", "0", "--beats", "50"]);
    fs::write(checkpoint_file(dir.path()), b"damaged").unwrap();
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 90);
}

/// Found by review: after a backup of an abandoned timeline was restored
/// by name, every current backup had been set apart, so a file lost next
/// started a new lifetime from zero.
#[test]
fn a_backup_restored_from_another_timeline_is_kept_among_the_current_ones() {
    let dir = state_dir();
    for _ in 0..4 {
        ok(dir.path(), &["--rate", "0", "--beats", "20"]);
    }
    let old_four = backup_of(dir.path(), 4);
    assert!(
        recover(dir.path(), &["--force", "--from", "2"])
            .status
            .success()
    );
    for _ in 0..3 {
        ok(dir.path(), &["--rate", "0", "--beats", "20"]);
    }
    let abandoned = fs::read_dir(dir.path().join("backups"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("abandoned-"))
        .unwrap()
        .path()
        .join(old_four.file_name().unwrap());
    let done = recover(
        dir.path(),
        &["--force", "--from-path", abandoned.to_str().unwrap()],
    );
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path())["backups"], "count"), 1);
    fs::remove_file(checkpoint_file(dir.path())).unwrap();
    let refused = run_in(dir.path(), &["--rate", "0", "--beats", "20"], LIMIT);
    assert_eq!(refused.status.code(), Some(4), "{}", refused.stderr);
    let done = recover(dir.path(), &[]);
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(field(&stats(dir.path()), "beats"), 80);
}

/// Found by review: a run refused with exit 3 (the file changed while it
/// was checked) had already written a backup and pruned a verified one.
#[test]
fn a_run_refused_because_the_file_changed_leaves_the_backups_alone() {
    let dir = state_dir();
    for _ in 0..3 {
        ok(dir.path(), &["--rate", "0", "--beats", "20"]);
    }
    let older = fs::read(backup_of(dir.path(), 1)).unwrap();
    let names = || {
        let mut n: Vec<String> = fs::read_dir(dir.path().join("backups"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    let before = names();
    let run = fizzflow(&["--rate", "0", "--beats", "20"])
        .arg("--state-dir")
        .arg(dir.path())
        .env(fizzflow::durable::TEST_DELAY_ENV, "2000")
        .spawn()
        .unwrap();
    // While the run checks its copy, another program writes the file.
    let checker = wait_for_child(run.id(), LIMIT);
    wait_for_child(checker, LIMIT);
    fs::write(checkpoint_file(dir.path()), &older).unwrap();
    let done = wait_with_deadline(run, LIMIT);
    assert_eq!(done.status.code(), Some(3), "{}", done.stderr);
    assert_eq!(names(), before, "a refused run changed the backups");
}
