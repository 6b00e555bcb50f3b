//! Exclusive use of a state dir.
//!
//! The lock is an flock on the directory itself: a lock on a file inside it
//! could be lost when someone deletes the file, and a second fizzflow would
//! then lock a new file and use the dir at the same time. Nothing is written
//! for it: who holds a dir is read from the kernel's own table of locks
//! (/proc/locks), which can neither go stale nor be a hard link or symlink
//! that a write would go through. (Releases before 0.3.0 wrote the holder's
//! PID to `fizzflow.lock`; a file of that name is now left alone.)

use crate::durable::error::Error;
use std::fs::{self, File, TryLockError};
use std::io::ErrorKind;
use std::path::Path;

/// Held for as long as it lives; the kernel releases it even on SIGKILL.
#[derive(Debug)]
pub struct DirLock {
    _dir: File,
}

fn unusable(dir: &Path, problem: String) -> Error {
    Error::StateDir {
        dir: dir.to_path_buf(),
        problem,
    }
}

/// An I/O failure on the state dir: what no retry fixes (permissions, the
/// wrong kind of file, a path through a file) makes it unusable (exit 4);
/// running out of something (descriptors, space) is the machine's (exit 1).
pub fn refusal(dir: &Path, action: &'static str, e: std::io::Error) -> Error {
    let lasting = matches!(
        e.kind(),
        ErrorKind::PermissionDenied
            | ErrorKind::InvalidInput
            | ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::ReadOnlyFilesystem
            | ErrorKind::AlreadyExists
            | ErrorKind::InvalidFilename
    ) || e.raw_os_error() == Some(libc::ELOOP);
    if lasting {
        unusable(dir, format!("cannot be used ({action}: {e})"))
    } else {
        Error::Io {
            path: dir.to_path_buf(),
            action,
            source: e,
        }
    }
}

impl DirLock {
    /// Creates the dir if need be (its last component only: a missing
    /// parent is more likely a typo than a wish) and takes it; exit 3 if
    /// another process holds it, exit 4 if it cannot be used.
    pub fn acquire(dir: &Path) -> Result<DirLock, Error> {
        match fs::metadata(dir) {
            Ok(m) if !m.is_dir() => {
                return Err(unusable(dir, "exists and is not a directory".into()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => create(dir)?,
            Err(e) => return Err(refusal(dir, "look at the state dir", e)),
        }
        let handle = File::open(dir).map_err(|e| refusal(dir, "open the state dir", e))?;
        match handle.try_lock() {
            Ok(()) => Ok(DirLock { _dir: handle }),
            Err(TryLockError::WouldBlock) => Err(Error::InUse {
                dir: dir.to_path_buf(),
                holder: holder(dir),
            }),
            Err(TryLockError::Error(e)) => Err(refusal(dir, "lock the state dir", e)),
        }
    }
}

/// Makes the state dir itself; its parent must exist.
fn create(dir: &Path) -> Result<(), Error> {
    match fs::create_dir(dir) {
        Ok(()) => Ok(()),
        // Made by another process in between: it is there now.
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            let parent = std::path::absolute(dir)
                .ok()
                .and_then(|d| d.parent().map(Path::to_path_buf))
                .unwrap_or_default();
            Err(unusable(
                dir,
                format!(
                    "cannot be created: its parent {} does not exist. Check the path, or create the parent first (mkdir -p {})",
                    parent.display(),
                    parent.display()
                ),
            ))
        }
        Err(e) => Err(refusal(dir, "create the state dir", e)),
    }
}

/// The process holding `dir`'s lock right now, read from the kernel's
/// table of locks (/proc/locks) without taking any lock: `stats` must never
/// be the reason a run that starts in the same instant is refused. None if
/// no process holds it, or if that cannot be told (no /proc).
pub fn holder(dir: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(dir).ok()?;
    let table = fs::read_to_string("/proc/locks").ok()?;
    crate::util::pause::pause_at("in-use-check");
    flock_holder(&table, meta.dev(), meta.ino())
}

/// The PID of the flock held on the file (device, inode) in a /proc/locks
/// table; lines of processes waiting for a lock (`->`) are not holders.
fn flock_holder(table: &str, dev: u64, ino: u64) -> Option<u32> {
    // The kernel prints the device as "%02x:%02x" (major, minor in hex).
    let want = format!("{:02x}:{:02x}:{ino}", libc::major(dev), libc::minor(dev));
    table.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            [_, "FLOCK", _, _, pid, id, ..] if *id == want => pid.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DirLock::acquire(dir.path()).unwrap();
        match DirLock::acquire(dir.path()) {
            Err(Error::InUse { holder, .. }) => {
                assert_eq!(holder, Some(std::process::id()))
            }
            other => panic!("expected StateInUse, got {other:?}"),
        }
    }

    #[test]
    fn only_the_last_component_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let typo = dir.path().join("no-such-parent").join("state");
        let err = DirLock::acquire(&typo).unwrap_err();
        assert!(matches!(err, Error::StateDir { .. }), "{err}");
        assert!(err.to_string().contains("mkdir -p"), "{err}");
        assert!(
            !dir.path().join("no-such-parent").exists(),
            "no parent made"
        );
        let fine = dir.path().join("state");
        let _held = DirLock::acquire(&fine).unwrap();
        assert!(fine.is_dir());
    }

    #[test]
    fn the_holder_is_read_from_the_kernel_without_taking_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let held = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(holder(dir.path()), Some(std::process::id()));
        // Asking took no lock of its own: once the holder lets go, the
        // table is empty and the dir can be taken again.
        drop(held);
        assert_eq!(holder(dir.path()), None);
        let _again = DirLock::acquire(dir.path()).unwrap();
    }

    #[test]
    fn waiters_and_other_files_in_the_lock_table_are_not_holders() {
        let table = "\
1: POSIX  ADVISORY  WRITE 700 00:2f:77 0 EOF
2: FLOCK  ADVISORY  WRITE 812 fd:01:5181 0 EOF
2: -> FLOCK  ADVISORY  WRITE 999 fd:01:5181 0 EOF
3: FLOCK  ADVISORY  WRITE 813 fd:01:51810 0 EOF
";
        let dev = libc::makedev(0xfd, 1);
        assert_eq!(flock_holder(table, dev, 5181), Some(812));
        assert_eq!(flock_holder(table, dev, 51810), Some(813));
        assert_eq!(
            flock_holder(table, dev, 77),
            None,
            "a POSIX lock is not ours"
        );
        assert_eq!(flock_holder(table, libc::makedev(0, 0x2f), 5181), None);
    }
}
