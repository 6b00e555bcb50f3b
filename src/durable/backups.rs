//! Verified backups of the checkpoint file, and restoring one.
//!
//! Every launch that opens an existing file has just read its bytes and
//! checked a copy of them completely; those bytes are kept as
//! `<state-dir>/backups/launch-<N>.redb` (N: the launches the file had
//! counted), written under a temporary name, fsynced, renamed into place
//! and the directory fsynced, so a backup is always a whole file that
//! passed the full check. The newest [`KEEP`] are kept.
//!
//! A backup is a checkpoint file like any other: its schema is in its own
//! `meta` table, and a backup of an older schema is upgraded by the run
//! after it is restored, as the main file would be.

use crate::durable::files::{open_regular, sync_dir};
use crate::durable::inspect::{FILE_NAME, checkpoint_path};
use crate::util::error::Error;
use crate::util::time::{unix_ms_now, utc};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const DIR: &str = "backups";
/// Backups kept: enough to step past a damage that a backup caught too.
pub const KEEP: usize = 3;

/// One backup file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backup {
    /// The launches the file had counted when it was copied.
    pub launch: u64,
    pub path: PathBuf,
    /// When it was written (its modification time), unix ms.
    pub saved_unix_ms: u64,
}

pub fn dir_of(state_dir: &Path) -> PathBuf {
    state_dir.join(DIR)
}

/// The backups in a state dir, newest first. Anything in the folder that is
/// not a regular file named as fizzflow names them, `launch-<N>.redb` with N
/// in plain decimal, is not a backup; nor is anything in a `backups` that is
/// not a directory of its own (a symlink to another state dir's backups).
pub fn list(state_dir: &Path) -> Vec<Backup> {
    let dir = dir_of(state_dir);
    if !fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
        return Vec::new();
    }
    let Ok(entries) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut found: Vec<Backup> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let launch = launch_of(std::str::from_utf8(name.as_bytes()).ok()?)?;
            let meta = fs::symlink_metadata(e.path()).ok()?;
            meta.is_file().then(|| Backup {
                launch,
                path: e.path(),
                saved_unix_ms: meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as u64),
            })
        })
        .collect();
    found.sort_by_key(|b| std::cmp::Reverse(b.launch));
    found
}

/// N of a name `launch-<N>.redb` as [`save`] writes it: no sign, no
/// leading zero, so no two names are the same launch.
fn launch_of(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("launch-")?.strip_suffix(".redb")?;
    let launch: u64 = digits.parse().ok()?;
    (launch.to_string() == digits).then_some(launch)
}

/// A new checkpoint file starts a new lifetime of the state dir: backups
/// left from the file that was here before (moved aside to start from
/// zero) are not its backups and must never be restored over it, nor push
/// its own out. They are kept, renamed `backups.before-<UTC>`; returns
/// where, if there were any.
pub fn set_aside_for_new_file(state_dir: &Path) -> std::io::Result<Option<PathBuf>> {
    let dir = dir_of(state_dir);
    match fs::symlink_metadata(&dir) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
        Ok(_) => {}
    }
    let aside = unused_name(state_dir, &format!("{DIR}.before"));
    rename2(&dir, &aside, libc::RENAME_NOREPLACE)?;
    sync_dir(state_dir);
    Ok(Some(aside))
}

/// Keeps `bytes` (a file that just passed the full check, whose newest
/// record counts `launch` launches) as the newest backup, and drops older
/// ones beyond the newest [`KEEP`]. A name with a higher launch than
/// `launch` is not this file's (no file goes back in launches): it is
/// never counted or removed. On a disk too full for one more copy, the
/// oldest is dropped first, so the backups keep up with the file.
pub fn save(state_dir: &Path, launch: u64, bytes: &[u8]) -> std::io::Result<PathBuf> {
    save_with(state_dir, launch, bytes, write_durably)
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
    let path = dir.join(format!("launch-{launch}.redb"));
    let tmp = dir.join(format!("launch-{launch}.redb.saving"));
    let older = |state_dir: &Path| -> Vec<Backup> {
        let mut older = list(state_dir);
        older.retain(|b| b.launch < launch);
        older
    };
    loop {
        match write(&tmp, bytes) {
            Ok(()) => break,
            Err(e) if e.kind() == ErrorKind::StorageFull => {
                // Room for the newest, at the cost of the oldest.
                let Some(oldest) = older(state_dir).pop() else {
                    return Err(e);
                };
                fs::remove_file(&oldest.path).map_err(|_| e)?;
            }
            Err(e) => return Err(e),
        }
    }
    fs::rename(&tmp, &path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    sync_dir(&dir);
    for old in older(state_dir).into_iter().skip(KEEP - 1) {
        let _ = fs::remove_file(old.path);
    }
    Ok(path)
}

/// `<state-dir>/<base>-<UTC>` (then `-2`, `-3`…): a name nothing has, so
/// nothing kept is ever overwritten. 20261125T153815Z sorts, and says when.
fn unused_name(state_dir: &Path, base: &str) -> PathBuf {
    let digits: String = utc(unix_ms_now())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let stamp = format!("{}T{}Z", &digits[..8], &digits[8..]);
    (1..)
        .map(|n| match n {
            1 => state_dir.join(format!("{base}-{stamp}")),
            n => state_dir.join(format!("{base}-{stamp}-{n}")),
        })
        .find(|p| fs::symlink_metadata(p).is_err())
        .expect("an unused name")
}

/// A new file at `path` (never an existing name, never through a symlink)
/// holding `bytes`, on disk before this returns.
fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // A leftover of a killed save is ours to replace; only the link or
    // file itself is removed, nothing it points to.
    if fs::symlink_metadata(path).is_ok() {
        fs::remove_file(path)?;
    }
    write_new(path, bytes)
}

/// As [`write_durably`], failing if anything is at `path` already.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = open_regular(path, OpenOptions::new().write(true).create_new(true))?;
    let written = file.write_all(bytes).and_then(|()| file.sync_all());
    if written.is_err() {
        let _ = fs::remove_file(path);
    }
    written
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// Where the file that was there before now is (never deleted).
    pub kept: Option<PathBuf>,
}

/// Puts `bytes` (a backup that passed the full check just now) in place of
/// the checkpoint file. The file that was there is kept, renamed
/// `checkpoints.redb.<why>-<UTC>`. The swap is one atomic exchange of
/// names, so a crash leaves either the old file or the restored one under
/// the real name, never neither; the copy waits for it as
/// `checkpoints.redb.restoring-<UTC>`, so a restore killed half-way never
/// leaves good bytes under a name that calls them damaged.
pub fn restore(state_dir: &Path, bytes: &[u8], why: &str) -> Result<Restored, Error> {
    let path = checkpoint_path(state_dir);
    let incoming = unused_name(state_dir, &format!("{FILE_NAME}.restoring"));
    let fail = |action: &'static str| {
        let path = path.clone();
        move |source: std::io::Error| Error::Io {
            path,
            action,
            source,
        }
    };
    write_new(&incoming, bytes).map_err(fail("write the restored copy beside"))?;
    // Read back: what is renamed into place is exactly what was checked.
    let back = fs::read(&incoming).map_err(fail("read back the restored copy of"))?;
    if back != bytes {
        let _ = fs::remove_file(&incoming);
        return Err(Error::Io {
            path,
            action: "restore",
            source: std::io::Error::other("the copy written differs from the backup"),
        });
    }
    let exists = fs::symlink_metadata(&path).is_ok();
    let flags = if exists {
        libc::RENAME_EXCHANGE
    } else {
        libc::RENAME_NOREPLACE
    };
    rename2(&incoming, &path, flags).map_err(|e| {
        let _ = fs::remove_file(&incoming);
        fail("put the backup in place of")(e)
    })?;
    // After an exchange the copy's name holds the old file: it stays, under
    // a name that says why it was replaced.
    let kept = exists.then(|| {
        let named = unused_name(state_dir, &format!("{FILE_NAME}.{why}"));
        match rename2(&incoming, &named, libc::RENAME_NOREPLACE) {
            Ok(()) => named,
            Err(_) => incoming,
        }
    });
    sync_dir(state_dir);
    Ok(Restored { kept })
}

fn rename2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: two NUL-terminated paths that live across the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            flags,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            fs::read_dir(dir_of(dir.path()))
                .unwrap()
                .flatten()
                .all(|e| !e.file_name().to_string_lossy().ends_with(".saving"))
        );
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn names_it_did_not_write_and_higher_launches_are_never_pruned() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), 1, b"one").unwrap();
        let backups = dir_of(dir.path());
        // Not fizzflow's names: not backups, so never listed or removed.
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
        assert_eq!(
            names_in(&backups),
            [
                "launch-+5.redb",
                "launch-05.redb",
                "launch-10.redb",
                "launch-11.redb",
                "launch-2.redb",
                "launch-3.redb",
                "launch-4.redb",
                "launch-9.redb"
            ]
        );
        let listed: Vec<u64> = list(dir.path()).iter().map(|b| b.launch).collect();
        assert_eq!(listed, [11, 10, 9, 4, 3, 2]);
    }

    #[test]
    fn a_full_disk_drops_the_oldest_to_make_room_for_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for launch in [1, 2, 3] {
            save(dir.path(), launch, b"x").unwrap();
        }
        // A disk with room for three files in the folder, no more.
        let tight = |path: &Path, bytes: &[u8]| {
            if fs::read_dir(path.parent().unwrap()).unwrap().count() >= 3 {
                return Err(std::io::Error::from(ErrorKind::StorageFull));
            }
            write_durably(path, bytes)
        };
        save_with(dir.path(), 4, b"newest", tight).unwrap();
        let listed: Vec<u64> = list(dir.path()).iter().map(|b| b.launch).collect();
        assert_eq!(listed, [4, 3, 2]);
        // With nothing older left to drop, a full disk is an error.
        let empty = tempfile::tempdir().unwrap();
        let full = |_: &Path, _: &[u8]| Err(std::io::Error::from(ErrorKind::StorageFull));
        assert!(save_with(empty.path(), 1, b"x", full).is_err());
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
    fn a_new_file_sets_the_old_backups_aside_whole() {
        let dir = tempfile::tempdir().unwrap();
        assert!(set_aside_for_new_file(dir.path()).unwrap().is_none());
        for launch in [1, 2] {
            save(dir.path(), launch, b"old lifetime").unwrap();
        }
        let aside = set_aside_for_new_file(dir.path()).unwrap().unwrap();
        assert!(list(dir.path()).is_empty());
        assert_eq!(names_in(&aside), ["launch-1.redb", "launch-2.redb"]);
        assert!(
            aside
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("backups.before-")
        );
    }

    #[test]
    fn a_restore_swaps_names_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        fs::write(&path, b"damaged").unwrap();
        let done = restore(dir.path(), b"good", "damaged").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"good");
        let kept = done.kept.unwrap();
        assert_eq!(fs::read(&kept).unwrap(), b"damaged");
        assert!(
            kept.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("checkpoints.redb.damaged-")
        );
        // A second restore in the same second keeps both old files.
        let again = restore(dir.path(), b"better", "damaged")
            .unwrap()
            .kept
            .unwrap();
        assert_ne!(again, kept);
        assert_eq!(fs::read(&kept).unwrap(), b"damaged");
        assert_eq!(fs::read(&again).unwrap(), b"good");
        // With no file there, the backup simply takes the name.
        fs::remove_file(&path).unwrap();
        assert!(
            restore(dir.path(), b"again", "damaged")
                .unwrap()
                .kept
                .is_none()
        );
        assert_eq!(fs::read(&path).unwrap(), b"again");
        // Nothing is left under the name a copy waits under.
        assert!(
            names_in(dir.path())
                .iter()
                .all(|n| !n.contains(".restoring-"))
        );
    }

    #[test]
    fn a_symlink_where_a_backup_goes_is_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        fs::write(&victim, "keep me").unwrap();
        fs::create_dir(dir_of(dir.path())).unwrap();
        std::os::unix::fs::symlink(&victim, dir_of(dir.path()).join("launch-7.redb.saving"))
            .unwrap();
        save(dir.path(), 7, b"backup").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
        assert_eq!(fs::read(&list(dir.path())[0].path).unwrap(), b"backup");
    }
}
