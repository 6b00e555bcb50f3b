//! Exclusive use of a state dir.
//!
//! The lock is an flock on the directory itself: a lock on a file inside it
//! could be lost when someone deletes the file, and a second fizzflow would
//! then lock a new file and use the dir at the same time. `fizzflow.lock`
//! only tells a second process who holds the dir; it is opened without
//! following symlinks, so a link planted there cannot make fizzflow write
//! through it.

use crate::durable::files::open_regular;
use crate::util::error::Error;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Read, Write};
use std::path::Path;

pub const LOCK_NAME: &str = "fizzflow.lock";

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
    /// Creates the dir if need be and takes it; exit 3 if another process
    /// holds it, exit 4 if it cannot be used.
    pub fn acquire(dir: &Path) -> Result<DirLock, Error> {
        match fs::metadata(dir) {
            Ok(m) if !m.is_dir() => {
                return Err(unusable(dir, "exists and is not a directory".into()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {
                fs::create_dir_all(dir).map_err(|e| refusal(dir, "create the state dir", e))?;
            }
            Err(e) => return Err(refusal(dir, "look at the state dir", e)),
        }
        let handle = File::open(dir).map_err(|e| refusal(dir, "open the state dir", e))?;
        match handle.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                // The kernel's word first: the PID in fizzflow.lock may be
                // that of a holder that has since died.
                return Err(Error::StateInUse {
                    dir: dir.to_path_buf(),
                    holder: holder(dir)
                        .map(|pid| pid.to_string())
                        .unwrap_or_else(|| read_holder(&dir.join(LOCK_NAME))),
                });
            }
            Err(TryLockError::Error(e)) => return Err(refusal(dir, "lock the state dir", e)),
        }
        write_holder(&dir.join(LOCK_NAME)).map_err(|e| refusal(dir, "write fizzflow.lock", e))?;
        Ok(DirLock { _dir: handle })
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

fn write_holder(path: &Path) -> std::io::Result<()> {
    let mut file = open_regular(path, OpenOptions::new().write(true).create(true))?;
    // Advisory only: a failure to record the PID does not make the lock less held.
    let _ = file.set_len(0);
    let _ = write!(file, "{}", std::process::id());
    Ok(())
}

fn read_holder(path: &Path) -> String {
    let mut holder = String::new();
    if let Ok(file) = open_regular(path, OpenOptions::new().read(true)) {
        let _ = file.take(32).read_to_string(&mut holder);
    }
    holder.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DirLock::acquire(dir.path()).unwrap();
        match DirLock::acquire(dir.path()) {
            Err(Error::StateInUse { holder, .. }) => {
                assert_eq!(holder, std::process::id().to_string())
            }
            other => panic!("expected StateInUse, got {other:?}"),
        }
    }

    #[test]
    fn the_holder_is_read_from_the_kernel_without_taking_a_lock() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(holder(dir.path()), None);
        let held = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(holder(dir.path()), Some(std::process::id()));
        // Asking took nothing: a second open of the dir can still see the
        // lock taken, and the holder can let go and take it again.
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

    #[test]
    fn the_lock_survives_the_lock_file_being_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let _held = DirLock::acquire(dir.path()).unwrap();
        fs::remove_file(dir.path().join(LOCK_NAME)).unwrap();
        assert!(matches!(
            DirLock::acquire(dir.path()),
            Err(Error::StateInUse { .. })
        ));
    }

    #[test]
    fn a_symlink_or_directory_as_lock_file_is_refused_and_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("precious");
        fs::write(&target, b"keep me").unwrap();
        let state = dir.path().join("state");
        fs::create_dir(&state).unwrap();
        std::os::unix::fs::symlink(&target, state.join(LOCK_NAME)).unwrap();
        let err = DirLock::acquire(&state).unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(fs::read(&target).unwrap(), b"keep me");

        fs::remove_file(state.join(LOCK_NAME)).unwrap();
        fs::create_dir(state.join(LOCK_NAME)).unwrap();
        let err = DirLock::acquire(&state).unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }
}
