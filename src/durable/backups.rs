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

use crate::durable::files::open_regular;
use crate::durable::inspect::{FILE_NAME, checkpoint_path};
use crate::util::error::Error;
use crate::util::time::{unix_ms_now, utc};
use std::fs::{self, File, OpenOptions};
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
/// not a regular file named `launch-<N>.redb` is not a backup.
pub fn list(state_dir: &Path) -> Vec<Backup> {
    let Ok(entries) = fs::read_dir(dir_of(state_dir)) else {
        return Vec::new();
    };
    let mut found: Vec<Backup> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name();
            let launch = std::str::from_utf8(name.as_bytes())
                .ok()?
                .strip_prefix("launch-")?
                .strip_suffix(".redb")?
                .parse()
                .ok()?;
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

/// Keeps `bytes` (a file that just passed the full check, whose newest
/// record counts `launch` launches) as the newest backup, and drops all
/// but the newest [`KEEP`].
pub fn save(state_dir: &Path, launch: u64, bytes: &[u8]) -> std::io::Result<PathBuf> {
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
    write_durably(&tmp, bytes)?;
    fs::rename(&tmp, &path).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })?;
    sync_dir(&dir);
    for old in list(state_dir).into_iter().skip(KEEP) {
        let _ = fs::remove_file(old.path);
    }
    Ok(path)
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

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// Where the file that was there before now is (never deleted).
    pub kept: Option<PathBuf>,
}

/// Puts `bytes` (a backup that passed the full check just now) in place of
/// the checkpoint file. The file that was there is kept, renamed
/// `checkpoints.redb.<why>-<unix ms>`. The swap is one atomic exchange of
/// names, so a crash leaves either the old file or the restored one under
/// the real name, never neither.
pub fn restore(state_dir: &Path, bytes: &[u8], why: &str) -> Result<Restored, Error> {
    let path = checkpoint_path(state_dir);
    // 2026-11-25 15:38:15 → 20261125T153815Z: sorts, and says when.
    let stamp: String = utc(unix_ms_now())
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let stamp = format!("{}T{}Z", &stamp[..8], &stamp[8..]);
    // A name nothing has: an older kept file is never overwritten.
    let incoming = (1..)
        .map(|n| match n {
            1 => state_dir.join(format!("{FILE_NAME}.{why}-{stamp}")),
            n => state_dir.join(format!("{FILE_NAME}.{why}-{stamp}-{n}")),
        })
        .find(|p| fs::symlink_metadata(p).is_err())
        .expect("an unused name");
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
    sync_dir(state_dir);
    // After an exchange the new name holds the old file: it stays.
    Ok(Restored {
        kept: exists.then_some(incoming),
    })
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
