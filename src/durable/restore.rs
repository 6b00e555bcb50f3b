//! Putting a backup in place of the checkpoint file, and setting apart the
//! backups of the timeline that this abandons.
//!
//! The backups written after the one restored hold cuts the restored file
//! will never reach again as they are: its next launches count from the
//! older cut, so their totals, launch numbers and times differ. Left where
//! they were, a later `recover` would offer them as the newest, and the
//! next launch numbers would collide with theirs. They are moved, whole, to
//! `backups/abandoned-<UTC>/`: kept (never pruned), listed apart, and
//! restored only when named with `recover --from-path`.

use crate::durable::backups::{self, ABANDONED, Backup, dir_of, stamp, write_new};
use crate::durable::error::Error;
use crate::durable::files::sync_dir;
use crate::durable::inspect::{FILE_NAME, checkpoint_path};
use crate::util::time::unix_ms_now;
use std::fs;
use std::io::ErrorKind;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    /// Where the file that was there before now is (never deleted).
    pub kept: Option<PathBuf>,
    /// Where the backups of the abandoned timeline went, and how many.
    pub abandoned: Option<(PathBuf, usize)>,
}

/// Puts `bytes` (the backup `chosen`, which passed the full check just now)
/// in place of the checkpoint file. The file that was there is kept,
/// renamed `checkpoints.redb.<why>-<UTC>`. The swap is one atomic exchange
/// of names, so a crash leaves either the old file or the restored one
/// under the real name, never neither; the copy waits for it as
/// `checkpoints.redb.restoring-<UTC>`, so a restore killed half-way never
/// leaves good bytes under a name that calls them damaged.
///
/// The backups newer than `chosen` are set apart first, and if that fails
/// nothing is swapped: a restore whose abandoned timeline stayed among the
/// current backups would have a later `recover` bring it back. A restore
/// killed after setting them apart leaves the file as it was; the next
/// `recover` picks the same backup and finishes. A backup restored from an
/// abandoned timeline is copied back among the current ones, so the state
/// dir keeps a cut to go back to.
pub fn restore(
    state_dir: &Path,
    bytes: &[u8],
    why: &str,
    chosen: &Backup,
) -> Result<Restored, Error> {
    let path = checkpoint_path(state_dir);
    let abandoned = abandon(state_dir, chosen).map_err(|source| Error::Io {
        path: dir_of(state_dir),
        action: "set apart the backups newer than the one restored in",
        source,
    })?;
    if !backups::list(state_dir)
        .iter()
        .any(|b| b.path == chosen.path)
    {
        backups::save(state_dir, chosen.launch, bytes).map_err(|source| Error::Io {
            path: dir_of(state_dir),
            action: "keep the restored backup among the current ones in",
            source,
        })?;
    }
    let incoming = unused_name(state_dir, &format!("{FILE_NAME}.restoring"));
    let fail = |action: &'static str| {
        let path = path.clone();
        move |source: std::io::Error| Error::Io {
            path,
            action,
            source,
        }
    };
    // Written and fsynced before it can take the name; the next run checks
    // it again as it checks any file.
    write_new(&incoming, bytes).map_err(fail("write the restored copy beside"))?;
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
    crate::util::pause::pause_at("restore-swapped");
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
    Ok(Restored { kept, abandoned })
}

/// Moves the backups newer than `chosen` (written later, or of a later
/// launch) out of the current timeline; where to and how many, if any.
fn abandon(state_dir: &Path, chosen: &Backup) -> std::io::Result<Option<(PathBuf, usize)>> {
    let later: Vec<Backup> = backups::list(state_dir)
        .into_iter()
        .filter(|b| b.path != chosen.path)
        .filter(|b| b.saved_unix_ms > chosen.saved_unix_ms || b.launch > chosen.launch)
        .collect();
    if later.is_empty() {
        return Ok(None);
    }
    let to = unused_name(&dir_of(state_dir), ABANDONED.trim_end_matches('-'));
    fs::create_dir(&to)?;
    for b in &later {
        let name = b.path.file_name().unwrap_or_default();
        rename2(&b.path, &to.join(name), libc::RENAME_NOREPLACE)?;
    }
    sync_dir(&to);
    sync_dir(&dir_of(state_dir));
    Ok(Some((to, later.len())))
}

/// `<dir>/<base>-<UTC>` (then `-2`, `-3`…): a name nothing has, so nothing
/// kept is ever overwritten.
fn unused_name(dir: &Path, base: &str) -> PathBuf {
    let at = stamp(unix_ms_now());
    (1..)
        .map(|n| match n {
            1 => dir.join(format!("{base}-{at}")),
            n => dir.join(format!("{base}-{at}-{n}")),
        })
        .find(|p| fs::symlink_metadata(p).is_err())
        .expect("an unused name")
}

pub fn rename2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
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
    use crate::durable::files::names_in;

    #[test]
    fn a_restore_swaps_names_and_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        backups::save(dir.path(), 1, b"good").unwrap();
        let chosen = backups::list(dir.path())[0].clone();
        fs::write(&path, b"damaged").unwrap();
        let done = restore(dir.path(), b"good", "damaged", &chosen).unwrap();
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
        let again = restore(dir.path(), b"better", "damaged", &chosen)
            .unwrap()
            .kept
            .unwrap();
        assert_ne!(again, kept);
        assert_eq!(fs::read(&kept).unwrap(), b"damaged");
        assert_eq!(fs::read(&again).unwrap(), b"good");
        // With no file there, the backup simply takes the name.
        fs::remove_file(&path).unwrap();
        let none = restore(dir.path(), b"again", "damaged", &chosen).unwrap();
        assert!(none.kept.is_none());
        assert_eq!(fs::read(&path).unwrap(), b"again");
        assert!(
            names_in(dir.path())
                .iter()
                .all(|n| !n.contains(".restoring-"))
        );
    }

    #[test]
    fn the_backups_after_the_one_restored_leave_the_timeline() {
        let dir = tempfile::tempdir().unwrap();
        for launch in [1, 2, 3] {
            backups::save(dir.path(), launch, format!("{launch}").as_bytes()).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let chosen = backups::list(dir.path())
            .into_iter()
            .find(|b| b.launch == 1)
            .unwrap();
        let done = restore(dir.path(), b"1", "damaged", &chosen).unwrap();
        let (to, moved) = done.abandoned.unwrap();
        assert_eq!(moved, 2);
        let current: Vec<u64> = backups::list(dir.path()).iter().map(|b| b.launch).collect();
        assert_eq!(current, [1]);
        let apart = backups::list_abandoned(dir.path());
        assert_eq!(apart.len(), 1);
        assert_eq!(apart[0].0, to);
        let launches: Vec<u64> = apart[0].1.iter().map(|b| b.launch).collect();
        assert_eq!(launches, [3, 2]);
        // The next launch's backup of launch 2 collides with nothing.
        backups::save(dir.path(), 2, b"new 2").unwrap();
        assert_eq!(backups::list(dir.path()).len(), 2);
        assert_eq!(backups::list_abandoned(dir.path())[0].1.len(), 2);
    }
}
