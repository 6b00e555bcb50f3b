//! A checkpoint file that cannot be trusted — corrupt, truncated, empty, not
//! redb, or from a newer schema — stops the run with exit 4 and stays
//! byte-identical. fizzflow never silently starts from zero.

mod common;
use common::*;
use redb::ReadableTable;
use std::fs;
use std::path::Path;
use std::time::Duration;

fn good_file(dir: &Path) -> Vec<u8> {
    let done = run_in(
        dir,
        &["--rate", "0", "--beats", "20", "--checkpoint-history", "4"],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    fs::read(dir.join("checkpoints.redb")).expect("checkpoint file")
}

fn refused(dir: &Path, expect: &str) {
    let path = dir.join("checkpoints.redb");
    let before = fs::read(&path).expect("file");
    for args in [&["--rate", "0", "--beats", "5"][..], &["stats"][..]] {
        let done = run_in(dir, args, Duration::from_secs(60));
        assert_eq!(done.status.code(), Some(4), "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.contains(expect),
            "{args:?}: expected '{expect}' in {}",
            done.stderr
        );
        assert!(
            done.stderr.contains("left exactly as it was"),
            "{}",
            done.stderr
        );
        assert_eq!(
            fs::read(&path).expect("file"),
            before,
            "{args:?} changed the file"
        );
    }
}

#[test]
fn zero_length_file() {
    let dir = state_dir();
    fs::write(dir.path().join("checkpoints.redb"), b"").unwrap();
    refused(dir.path(), "is empty");
}

#[test]
fn not_a_redb_file() {
    let dir = state_dir();
    fs::write(dir.path().join("checkpoints.redb"), b"{\"messages\": 12}\n").unwrap();
    refused(dir.path(), "not a redb database");
}

#[test]
fn truncated_file() {
    let dir = state_dir();
    let bytes = good_file(dir.path());
    fs::write(
        dir.path().join("checkpoints.redb"),
        &bytes[..bytes.len() / 3],
    )
    .unwrap();
    refused(dir.path(), "checkpoint file");
}

#[test]
fn header_overwritten_with_garbage() {
    let dir = state_dir();
    let mut bytes = good_file(dir.path());
    for b in bytes.iter_mut().skip(9).take(500) {
        *b ^= 0x5A;
    }
    fs::write(dir.path().join("checkpoints.redb"), &bytes).unwrap();
    refused(dir.path(), "checkpoint file");
}

#[test]
fn newer_schema() {
    let dir = state_dir();
    good_file(dir.path());
    set_schema_version(dir.path(), "4");
    refused(
        dir.path(),
        "newer fizzflow (schema 4; this build reads up to 3)",
    );
}

#[test]
fn state_dir_that_is_a_file() {
    let parent = state_dir();
    let file = parent.path().join("plain-file");
    fs::write(&file, b"keep me").unwrap();
    for sub in ["", "under"] {
        let target = if sub.is_empty() {
            file.clone()
        } else {
            file.join(sub)
        };
        let done = run(
            &[
                "--rate",
                "0",
                "--beats",
                "5",
                "--state-dir",
                target.to_str().unwrap(),
            ],
            Duration::from_secs(30),
        );
        assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
        assert!(done.stderr.contains("state dir"), "{}", done.stderr);
    }
    assert_eq!(fs::read(&file).unwrap(), b"keep me");
}

/// Flips one bit at the first place `needle` occurs in the file.
fn flip_inside(dir: &Path, needle: &[u8]) {
    let path = dir.join("checkpoints.redb");
    let mut bytes = fs::read(&path).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the bytes are in the file");
    bytes[at + needle.len() / 2] ^= 0x10;
    fs::write(&path, &bytes).unwrap();
}

#[test]
fn a_changed_byte_inside_a_record() {
    // redb does not check page checksums on every read; the record's own
    // checksum must catch this, or the totals would silently change.
    let dir = state_dir();
    good_file(dir.path());
    let seen = fizzflow::durable::inspect(&dir.path().join("checkpoints.redb"))
        .unwrap()
        .seen;
    let latest = seen.latest().expect("a checkpoint").encode();
    flip_inside(dir.path(), &latest[..latest.len() - 4]);
    refused(dir.path(), "checksum");
}

#[test]
fn a_damaged_table_name() {
    // Would otherwise read as an empty history: a silent start from zero.
    let dir = state_dir();
    good_file(dir.path());
    flip_inside(dir.path(), b"checkpoints");
    refused(dir.path(), "is damaged");
}

#[test]
fn a_dangling_symlink_is_refused_not_replaced() {
    // Replacing it with a new file would be a silent start from zero.
    let dir = state_dir();
    let nowhere = dir.path().join("nowhere.redb");
    std::os::unix::fs::symlink(&nowhere, dir.path().join("checkpoints.redb")).unwrap();
    for args in [&["--rate", "0", "--beats", "5"][..], &["stats"][..]] {
        let done = run_in(dir.path(), args, Duration::from_secs(30));
        assert_eq!(done.status.code(), Some(4), "{args:?}: {}", done.stderr);
        assert!(done.stderr.contains("symbolic link"), "{}", done.stderr);
    }
    let link = fs::symlink_metadata(dir.path().join("checkpoints.redb")).unwrap();
    assert!(link.file_type().is_symlink(), "the link is still there");
    assert!(!nowhere.exists(), "nothing was created through it");
}

#[test]
fn a_fifo_is_refused_without_hanging() {
    let dir = state_dir();
    let path =
        std::ffi::CString::new(dir.path().join("checkpoints.redb").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path this test owns.
    assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0);
    // The deadline is the test: a run or stats that opened the FIFO would
    // wait for a writer forever.
    for args in [&["--rate", "0", "--beats", "5"][..], &["stats"][..]] {
        let done = run_in(dir.path(), args, Duration::from_secs(30));
        assert_eq!(done.status.code(), Some(4), "{args:?}: {}", done.stderr);
        assert!(done.stderr.contains("FIFO"), "{}", done.stderr);
    }
}

#[test]
fn a_crafted_record_that_checks_out_is_accepted() {
    // The control: the crafting itself makes a good file.
    let dir = crafted(|_| {});
    let done = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30));
    assert_eq!(field(&done.json(), "beats"), 1);
}

#[test]
fn a_kind_split_off_the_closed_form_is_refused() {
    let dir = crafted(|r| {
        r.logger.counts.fizz += 1;
        r.logger.counts.value -= 1;
    });
    refused(
        dir.path(),
        "breaks the rule \"a clean stream holds the values [0, messages)\"",
    );
}

#[test]
fn a_shifted_position_is_refused() {
    let dir = crafted(|r| {
        r.logger.next_expected += 15;
        r.generator_position += 15;
    });
    refused(
        dir.path(),
        "breaks the rule \"a clean stream holds the values [0, messages)\"",
    );
}

#[test]
fn a_stored_channel_too_large_to_allocate_is_refused() {
    let dir = crafted(|r| r.settings.channel_capacity = 1 << 40);
    refused(
        dir.path(),
        "breaks the rule \"settings a flag could ask for\"",
    );
}

#[test]
fn a_stored_worker_batch_of_zero_is_refused() {
    let dir = crafted(|r| r.settings.worker_batch = 0);
    refused(
        dir.path(),
        "breaks the rule \"settings a flag could ask for\"",
    );
}

#[test]
fn a_killed_check_is_not_damage_and_leaves_no_copy_behind() {
    let dir = state_dir();
    good_file(dir.path());
    let tmp = state_dir();
    let copies = |tmp: &Path| {
        fs::read_dir(tmp)
            .unwrap()
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("fizzflow-inspect-")
            })
            .count()
    };
    let stats = |delay: &str| {
        spawn_watched(
            fizzflow(&["stats", "--json"])
                .arg("--state-dir")
                .arg(dir.path())
                .env("TMPDIR", tmp.path())
                .env(fizzflow::durable::TEST_DELAY_ENV, delay),
        )
    };
    // The checking child is killed (as the OOM killer would): not damage.
    let child = stats("5000");
    let probe = wait_for_child(child.id(), Duration::from_secs(30));
    signal(probe, libc::SIGKILL);
    let done = finish(child, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(done.stderr.contains("could not check"), "{}", done.stderr);
    assert!(!done.stderr.contains("damaged"), "{}", done.stderr);
    assert!(!done.stderr.contains("move it aside"), "{}", done.stderr);
    assert_eq!(copies(tmp.path()), 0, "its copy was removed");

    // `stats` itself killed mid-check leaves its copy; the next check
    // removes it.
    let child = stats("5000");
    let probe = wait_for_child(child.id(), Duration::from_secs(30));
    signal(child.id(), libc::SIGKILL);
    let _ = finish(child, Duration::from_secs(30));
    signal(probe, libc::SIGKILL);
    assert_eq!(copies(tmp.path()), 1, "a killed stats leaves its copy");
    let done = finish(stats("0"), Duration::from_secs(60));
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(copies(tmp.path()), 0, "the next check swept it");
}

#[test]
fn a_state_dir_at_the_end_of_its_counts_refuses_another_launch_untouched() {
    // Sequence numbers at their largest: the next launch record could not
    // be read back, so it must not be written (it would lock the dir out).
    let dir = crafted(|r| {
        r.seq = 1 << 53;
        r.checkpoints = 1 << 53;
    });
    let before = fs::read(dir.path().join("checkpoints.redb")).unwrap();
    let done = run_in(dir.path(), &["--rate", "0"], Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(
        done.stderr.contains("cannot record another launch"),
        "{}",
        done.stderr
    );
    assert_eq!(
        fs::read(dir.path().join("checkpoints.redb")).unwrap(),
        before
    );
    let stats = run_in(dir.path(), &["stats", "--json"], Duration::from_secs(30));
    assert!(stats.status.success(), "still readable: {}", stats.stderr);
}

#[test]
fn a_file_too_large_to_be_a_checkpoint_is_refused_unread() {
    // Before: the file was read whole into memory, twice, and copied; a
    // 50 GB file at that path exhausted the machine. A sparse file costs
    // no disk here.
    let dir = state_dir();
    let path = dir.path().join("checkpoints.redb");
    // A real file's first pages, then a hole up to just past the cap.
    let mut header = good_file(dir.path());
    header.truncate(4096);
    fs::write(&path, &header).unwrap();
    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len((1 << 30) + 1).unwrap();
    drop(file);
    let modified = fs::metadata(&path).unwrap().modified().unwrap();
    for args in [&["--rate", "0", "--beats", "5"][..], &["stats"][..]] {
        let done = run_in(dir.path(), args, Duration::from_secs(60));
        assert_eq!(done.status.code(), Some(4), "{args:?}: {}", done.stderr);
        assert!(
            done.stderr.contains("is larger than 1 GiB"),
            "{}",
            done.stderr
        );
    }
    let after = fs::metadata(&path).unwrap();
    assert_eq!(after.len(), (1 << 30) + 1);
    assert_eq!(after.modified().unwrap(), modified);
}

/// A refusal names the rule the file breaks and which schema and release
/// wrote it, so that a rule an old release did not keep can be told from
/// damage: here a file the second release wrote and this one continued,
/// its newest record's run time set to 0 (with a valid checksum).
#[test]
fn a_refusal_names_the_rule_broken_and_the_schema_and_release_that_wrote_the_file() {
    let dir = state_dir();
    let release = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/releases/60bab78/many-launches/state/checkpoints.redb");
    fs::copy(release, checkpoint_file(dir.path())).unwrap();
    let done = run_in(
        dir.path(),
        &["--rate", "0", "--beats", "1"],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    {
        let db = redb::Database::create(checkpoint_file(dir.path())).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(fizzflow::durable::CHECKPOINTS).unwrap();
            let (seq, mut rec) = {
                let (k, v) = table.last().unwrap().unwrap();
                let rec = fizzflow::durable::CheckpointRecord::decode(v.value()).unwrap();
                (k.value(), rec)
            };
            rec.run_secs = 0.0;
            table.insert(seq, rec.encode().as_slice()).unwrap();
        }
        txn.commit().unwrap();
    }
    refused(dir.path(), "breaks the rule \"run time never goes back\"");
    refused(
        dir.path(),
        &format!(
            "the file is schema 3, written by fizzflow {}",
            env!("CARGO_PKG_VERSION")
        ),
    );
}

/// Issue 21, item 9: a checksum only proves the bytes are the ones
/// written; values no run can produce are refused (before: a wrapping
/// duplicate count, a run time every launch then failed on, and kinds off
/// the closed form by more than the errors explain were all carried on).
#[test]
fn values_no_run_produces_are_refused_even_with_a_valid_checksum() {
    let dir = crafted(|r| r.logger.duplicates_dropped = u64::MAX);
    refused(
        dir.path(),
        "breaks the rule \"duplicates only from the re-sends of restarts\"",
    );
    let dir = crafted(|r| r.run_secs = 1e12);
    refused(
        dir.path(),
        "breaks the rule \"a run time of 0 to 136 years\"",
    );
    let dir = crafted(|r| {
        r.logger.sequence_errors = 1;
        r.logger.counts.fizz += 2;
        r.logger.counts.value -= 2;
    });
    refused(
        dir.path(),
        "breaks the rule \"a broken stream is what its errors explain\"",
    );
}

/// A run time at its bound stops growing instead of failing every launch.
#[test]
fn a_run_time_at_its_bound_is_carried_on_not_churned() {
    let dir = crafted(|r| {
        r.run_secs = fizzflow::durable::MAX_RUN_SECS;
        r.beats_target = r.beats;
    });
    for _ in 0..2 {
        let done = run_in(
            dir.path(),
            &["--rate", "0", "--beats", "3", "--json"],
            Duration::from_secs(60),
        );
        assert_closed_form(&done.success_json());
    }
}
