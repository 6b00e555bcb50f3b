//! Verified backups of the checkpoint file: what they are called, when
//! they are written, which are kept.
//!
//! A backup is a checkpoint file that passed the full check, kept as
//! `<state-dir>/backups/launch-<N>-<UTC>.redb` (N: the launches the file
//! had counted). The time in the name makes every name new: a backup is
//! never overwritten, even when launch numbers come round again after a
//! restore. Backups are written at the end of every launch (its final
//! cut), every minute during a long one (backup_keeper.rs), and at the start
//! of a launch whose file the newest backup does not hold already (the
//! launch before it was killed); so a damaged file always has a recent cut
//! to go back to, a state dir of one launch included.
//!
//! A new backup is written under a temporary name, fsynced and renamed into
//! place, and only then are the oldest beyond [`KEEP`] removed: a full disk
//! costs the new backup, never a verified one.
//!
//! A backup is a checkpoint file like any other: its schema is in its own
//! `meta` table, and a backup of an older schema is upgraded by the run
//! after it is restored. Backups named `launch-<N>.redb` (written by
//! releases before 0.3.0) are read as before.
//!
//! What `recover` leaves behind when it goes back to an older cut lives in
//! `backups/abandoned-<UTC>/` (see restore.rs): listed apart, never pruned,
//! restored only when named.

use crate::durable::files::{open_regular, sync_dir};
use crate::util::time::{unix_ms_now, utc};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const DIR: &str = "backups";
/// Backups kept: enough to step past a damage that a backup caught too.
pub const KEEP: usize = 3;
/// Where `recover` moves the backups of a timeline it abandons.
pub const ABANDONED: &str = "abandoned-";

/// One backup file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// The launches the file had counted when it was copied.
    pub launch: u64,
    pub path: PathBuf,
    /// When it was written (from its name, or its modification time for
    /// the names of releases before 0.3.0), unix ms.
    pub saved_unix_ms: u64,
}

pub fn dir_of(state_dir: &Path) -> PathBuf {
    state_dir.join(DIR)
}

/// The backups of the current timeline, newest first (by launch, then by
/// when they were written). Anything in the folder that is not a regular
/// file named as fizzflow names them is not a backup; nor is anything in a
/// `backups` that is not a directory of its own (a symlink to another state
/// dir's backups).
pub fn list(state_dir: &Path) -> Vec<Backup> {
    list_in(&dir_of(state_dir))
}

/// The backups in one folder, newest first.
pub fn list_in(dir: &Path) -> Vec<Backup> {
    if !fs::symlink_metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<Backup> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let (launch, stamped) = parse_name(std::str::from_utf8(name.as_bytes()).ok()?)?;
            let meta = fs::symlink_metadata(e.path()).ok()?;
            let modified = || {
                meta.modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as u64)
            };
            meta.is_file().then(|| Backup {
                launch,
                path: e.path(),
                saved_unix_ms: stamped.unwrap_or_else(modified),
            })
        })
        .collect();
    // By launch first: the time of an older name is its file's, which a
    // copy of the state dir changes. Within a launch, by when written.
    found.sort_by_key(|b| std::cmp::Reverse((b.launch, b.saved_unix_ms)));
    found
}

/// The folders of abandoned timelines, each with its backups, newest first.
pub fn list_abandoned(state_dir: &Path) -> Vec<(PathBuf, Vec<Backup>)> {
    let dir = dir_of(state_dir);
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, Vec<Backup>)> = entries
        .flatten()
        .filter(|e| e.file_name().as_bytes().starts_with(ABANDONED.as_bytes()))
        .filter(|e| fs::symlink_metadata(e.path()).is_ok_and(|m| m.is_dir()))
        .map(|e| (e.path(), list_in(&e.path())))
        .collect();
    found.sort_by(|a, b| b.0.cmp(&a.0));
    found
}

/// N and the time of a name fizzflow writes: `launch-<N>-<stamp>.redb`
/// (with `-<k>` after the stamp when two fall in one millisecond), or
/// the older `launch-<N>.redb`. N has no sign and no leading zero, so no
/// two spellings are the same launch.
fn parse_name(name: &str) -> Option<(u64, Option<u64>)> {
    let rest = name.strip_prefix("launch-")?.strip_suffix(".redb")?;
    let (digits, stamp) = match rest.split_once('-') {
        Some((digits, stamp)) => (digits, Some(parse_stamp(stamp)?)),
        None => (rest, None),
    };
    let launch: u64 = digits.parse().ok()?;
    (launch.to_string() == digits).then_some((launch, stamp))
}

/// `20261204T140512.123Z` (optionally `-k`) as unix ms.
fn parse_stamp(stamp: &str) -> Option<u64> {
    let stamp = stamp.split_once('-').map_or(stamp, |(s, _)| s);
    let b = stamp.as_bytes();
    if b.len() != 20 || b[8] != b'T' || b[15] != b'.' || b[19] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| stamp.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, s, ms) = (num(9..11)?, num(11..13)?, num(13..15)?, num(16..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    // Days since 1970 (Howard Hinnant's days-from-civil).
    let (y, mo) = (y as i64 - i64::from(mo <= 2), mo as i64);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (mo + if mo > 2 { -3 } else { 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    Some(((days * 86_400 + h * 3600 + mi * 60 + s) * 1000) + ms)
}

/// `20261204T140512.123Z`: sorts, and says when.
pub fn stamp(unix_ms: u64) -> String {
    let digits: String = utc(unix_ms).chars().filter(char::is_ascii_digit).collect();
    format!("{}T{}.{:03}Z", &digits[..8], &digits[8..], unix_ms % 1000)
}

/// Keeps `bytes` (a checkpoint file that has just passed the full check,
/// whose newest record counts `launch` launches) as the newest backup, then
/// drops the oldest beyond [`KEEP`]. Nothing is removed unless the new one
/// is in place. A name with a higher launch than `launch` is not this
/// file's (no file goes back in launches): it is never counted or removed.
pub fn save(state_dir: &Path, launch: u64, bytes: &[u8]) -> std::io::Result<PathBuf> {
    if crate::util::pause::no_space_for("backups") {
        let full = |_: &Path, _: &[u8]| Err(std::io::Error::from(ErrorKind::StorageFull));
        return save_with(state_dir, launch, bytes, full);
    }
    save_with(state_dir, launch, bytes, write_new)
}

fn save_with(
    state_dir: &Path,
    launch: u64,
    bytes: &[u8],
    write: impl Fn(&Path, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<PathBuf> {
    let dir = dir_of(state_dir);
    match fs::symlink_metadata(&dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => {
            return Err(std::io::Error::new(
                ErrorKind::AlreadyExists,
                format!("{} is not a directory", dir.display()),
            ));
        }
        Err(e) if e.kind() == ErrorKind::NotFound => fs::create_dir(&dir)?,
        Err(e) => return Err(e),
    }
    let base = format!("launch-{launch}-{}", stamp(unix_ms_now()));
    let (path, tmp) = (1..)
        .map(|n| match n {
            1 => base.clone(),
            n => format!("{base}-{n}"),
        })
        .map(|name| {
            (
                dir.join(format!("{name}.redb")),
                dir.join(format!("{name}.saving")),
            )
        })
        .find(|(path, _)| fs::symlink_metadata(path).is_err())
        .expect("an unused name");
    write(&tmp, bytes)?;
    crate::durable::restore::rename2(&tmp, &path, libc::RENAME_NOREPLACE).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    sync_dir(&dir);
    // The one just written stays whatever the names of the others say (a
    // clock that was ahead when they were written, say).
    let others: Vec<Backup> = list(state_dir)
        .into_iter()
        .filter(|b| b.launch <= launch && b.path != path)
        .collect();
    for old in others.into_iter().skip(KEEP - 1) {
        let _ = fs::remove_file(old.path);
    }
    Ok(path)
}

/// Removes what saves killed half-way left (`*.saving`); only while no
/// save is under way (a launch's start, before its own backups).
pub fn sweep_unfinished(state_dir: &Path) {
    let Ok(entries) = fs::read_dir(dir_of(state_dir)) else {
        return;
    };
    for e in entries.flatten() {
        if e.path().extension().is_some_and(|x| x == "saving") {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Whether the newest backup holds exactly `bytes` already.
pub fn newest_holds(state_dir: &Path, bytes: &[u8]) -> bool {
    list(state_dir)
        .first()
        .and_then(|b| fs::read(&b.path).ok())
        .is_some_and(|held| held == bytes)
}

/// A new file at `path` (never an existing name, never through a symlink)
/// holding `bytes`, on disk before this returns; nothing is left of it if
/// it cannot be written whole.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A leftover of a killed save is ours to replace; only the link or
    // file itself is removed, nothing it points to.
    if path.extension().is_some_and(|e| e == "saving") && fs::symlink_metadata(path).is_ok() {
        fs::remove_file(path)?;
    }
    let mut file = open_regular(path, OpenOptions::new().write(true).create_new(true))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::files::names_in;

    #[test]
    fn the_newest_three_are_kept_and_listed_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        for launch in [1, 2, 3, 4, 5] {
            save(dir.path(), launch, format!("file {launch}").as_bytes()).unwrap();
        }
        let kept: Vec<u64> = list(dir.path()).iter().map(|b| b.launch).collect();
        assert_eq!(kept, vec![5, 4, 3]);
        assert_eq!(fs::read(&list(dir.path())[0].path).unwrap(), b"file 5");
        // Strangers in the folder are not backups, and nothing is left
        // half-written.
        fs::write(dir_of(dir.path()).join("notes.txt"), "mine").unwrap();
        assert_eq!(list(dir.path()).len(), 3);
        assert!(
            names_in(&dir_of(dir.path()))
                .iter()
                .all(|n| !n.ends_with(".saving"))
        );
    }

    #[test]
    fn names_never_repeat_even_for_the_same_launch() {
        let dir = tempfile::tempdir().unwrap();
        let a = save(dir.path(), 4, b"one timeline").unwrap();
        let b = save(dir.path(), 4, b"another").unwrap();
        assert_ne!(a, b);
        assert_eq!(fs::read(&a).unwrap(), b"one timeline");
        assert_eq!(fs::read(&b).unwrap(), b"another");
    }

    #[test]
    fn names_are_read_back_as_written_and_odd_ones_are_not_backups() {
        let ms = 1_796_391_704_260;
        assert_eq!(
            parse_name(&format!("launch-12-{}.redb", stamp(ms))),
            Some((12, Some(ms)))
        );
        assert_eq!(
            parse_name(&format!("launch-3-{}-2.redb", stamp(ms))),
            Some((3, Some(ms)))
        );
        assert_eq!(parse_name("launch-7.redb"), Some((7, None)));
        for odd in [
            "launch-05.redb",
            "launch-+5.redb",
            "launch-5-now.redb",
            "launch-5.redb.saving",
        ] {
            assert_eq!(parse_name(odd), None, "{odd}");
        }
        assert_eq!(parse_stamp(&stamp(0)), Some(0));
        assert_eq!(parse_stamp(&stamp(951_782_400_123)), Some(951_782_400_123));
    }

    #[test]
    fn names_it_did_not_write_and_higher_launches_are_never_pruned() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), 1, b"one").unwrap();
        let backups = dir_of(dir.path());
        for odd in ["launch-05.redb", "launch-+5.redb"] {
            fs::write(backups.join(odd), "odd").unwrap();
        }
        // Higher launches than the file has: not this file's backups.
        for high in [9, 10, 11] {
            fs::write(backups.join(format!("launch-{high}.redb")), "high").unwrap();
        }
        for launch in [2, 3, 4] {
            save(dir.path(), launch, b"mine").unwrap();
        }
        let names = names_in(&backups);
        for kept in [
            "launch-+5.redb",
            "launch-05.redb",
            "launch-9.redb",
            "launch-10.redb",
            "launch-11.redb",
        ] {
            assert!(names.contains(&kept.to_string()), "{kept} in {names:?}");
        }
        let mine: Vec<u64> = list(dir.path())
            .iter()
            .map(|b| b.launch)
            .filter(|&l| l <= 4)
            .collect();
        assert_eq!(mine, [4, 3, 2]);
    }

    #[test]
    fn the_backup_just_written_is_never_pruned() {
        // Found by review: three backups of a launch named while the clock
        // was years ahead ranked above the new one, which was removed.
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir_of(dir.path())).unwrap();
        for day in 1..=3 {
            fs::write(
                dir_of(dir.path()).join(format!("launch-4-2030010{day}T000000.000Z.redb")),
                b"ahead",
            )
            .unwrap();
        }
        let new = save(dir.path(), 4, b"now").unwrap();
        assert_eq!(fs::read(&new).unwrap(), b"now");
        assert_eq!(list(dir.path()).len(), KEEP);
    }

    #[test]
    fn leftovers_of_killed_saves_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), 1, b"kept").unwrap();
        let leftover = dir_of(dir.path()).join("launch-2-20261204T000000.000Z.saving");
        fs::write(&leftover, b"half").unwrap();
        sweep_unfinished(dir.path());
        assert!(!leftover.exists());
        assert_eq!(list(dir.path()).len(), 1);
    }

    #[test]
    fn a_full_disk_removes_nothing() {
        // Issue 21, item 8: before, a launch on a full disk deleted old
        // backups to make room and then, in some fills, wrote none.
        let dir = tempfile::tempdir().unwrap();
        for launch in [1, 2, 3] {
            save(dir.path(), launch, b"x").unwrap();
        }
        let before = names_in(&dir_of(dir.path()));
        let full = |_: &Path, _: &[u8]| Err(std::io::Error::from(ErrorKind::StorageFull));
        assert!(save_with(dir.path(), 4, b"newest", full).is_err());
        assert_eq!(names_in(&dir_of(dir.path())), before, "nothing removed");
    }

    #[test]
    fn a_backups_folder_that_is_a_symlink_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let other = tempfile::tempdir().unwrap();
        save(other.path(), 5, b"another state dir's").unwrap();
        std::os::unix::fs::symlink(dir_of(other.path()), dir_of(dir.path())).unwrap();
        assert!(list(dir.path()).is_empty());
    }

    #[test]
    fn a_symlink_where_a_backup_goes_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, "keep me").unwrap();
        // A leftover temporary name is replaced, the link and not its target.
        let saving = dir.path().join("launch-7-x.saving");
        std::os::unix::fs::symlink(&victim, &saving).unwrap();
        write_new(&saving, b"backup").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(fs::read(&saving).unwrap(), b"backup");
        // Any other name that exists is refused.
        let taken = dir.path().join("launch-7.redb");
        std::os::unix::fs::symlink(&victim, &taken).unwrap();
        assert!(write_new(&taken, b"backup").is_err());
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    }
}
