//! Opening files in the state dir: never through a symlink, never blocking
//! on a FIFO, and the checkpoint file handed to redb as the very descriptor
//! that was checked (redb would otherwise open the path again, following
//! whatever is there by then).

use crate::durable::error::Error;
use crate::durable::inspect::FILE_NAME;
use redb::backends::FileBackend;
use redb::{Database, DatabaseError};
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Opens a path that must be a regular file, never through a symlink and
/// never blocking on a FIFO. The wrong kind of file is `InvalidInput`.
pub fn open_regular(path: &Path, options: &mut OpenOptions) -> std::io::Result<File> {
    let not_regular = |what: &str| {
        std::io::Error::new(
            ErrorKind::InvalidInput,
            format!("not a regular file: {what}"),
        )
    };
    let file = options
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => not_regular("it is a symbolic link"),
            Some(libc::EISDIR) => not_regular("it is a directory"),
            Some(libc::ENXIO) => not_regular("it is a FIFO"),
            _ => e,
        })?;
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(not_regular(&format!("it is {}", describe(kind))));
    }
    Ok(file)
}

/// Makes the names in `dir` (a rename, a new link) survive a crash; best
/// effort, as the data itself was synced before.
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// What a file type is, in words.
pub fn describe(kind: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "a regular file"
    }
}

/// Opens the checkpoint file (or a new one, `create_new`) for reading and
/// writing, never through a symlink: the wrong kind of file or a
/// permission problem is the file's (exit 4), a name that appeared under
/// us another program's (exit 3), anything else the machine's.
pub fn open_file(path: &Path, create_new: bool) -> Result<File, Error> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(create_new);
    open_regular(path, &mut options).map_err(|e| match e.kind() {
        ErrorKind::PermissionDenied | ErrorKind::InvalidInput => Error::Damaged {
            path: path.to_path_buf(),
            problem: format!("cannot be opened for writing: {e}"),
        },
        ErrorKind::AlreadyExists => Error::Changed {
            path: path.to_path_buf(),
        },
        _ => Error::Write {
            path: path.to_path_buf(),
            problem: format!("cannot open it for writing: {e}"),
        },
    })
}

/// redb on this descriptor: it would otherwise open the path once more.
/// The content was vouched for already, so a failure here is the disk's
/// or another process's, not the file's.
pub fn open_db(path: &Path, file: File) -> Result<Database, Error> {
    let fail = |e: DatabaseError| match e {
        DatabaseError::DatabaseAlreadyOpen => Error::Changed {
            path: path.to_path_buf(),
        },
        e => Error::Write {
            path: path.to_path_buf(),
            problem: format!("cannot open it for writing: {e}"),
        },
    };
    let backend = FileBackend::new(file).map_err(fail)?;
    Database::builder()
        .create_with_backend(backend)
        .map_err(fail)
}

/// Gives the file behind `ours` the name `path`, linking the descriptor's
/// own inode (through /proc) so that nothing swapped in at `building`
/// meanwhile can be linked instead; without /proc, by name.
pub fn link_in_place(ours: &File, building: &Path, path: &Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    use std::os::unix::ffi::OsStrExt;
    let fd_path = format!("/proc/self/fd/{}\0", ours.as_raw_fd());
    let mut target = path.as_os_str().as_bytes().to_vec();
    target.push(0);
    // SAFETY: both paths are NUL-terminated and live across the call.
    let linked = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            fd_path.as_ptr().cast(),
            libc::AT_FDCWD,
            target.as_ptr().cast(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if linked == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == ErrorKind::NotFound && !Path::new("/proc/self/fd").exists() {
        return fs::hard_link(building, path);
    }
    Err(e)
}

/// Puts a new file holding `bytes` in place of `path` (one rename, so the
/// name always holds one or the other) and returns it open for writing.
pub fn own_copy(path: &Path, bytes: &[u8]) -> Result<fs::File, Error> {
    let fail = |e: std::io::Error| Error::Write {
        path: path.to_path_buf(),
        problem: format!("cannot make a copy of its own to replace its hard links: {e}"),
    };
    let copy = path.with_file_name(format!("{FILE_NAME}.unlinking"));
    if fs::symlink_metadata(&copy).is_ok() {
        fs::remove_file(&copy).map_err(fail)?;
    }
    let mut file = open_file(&copy, true)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .and_then(|()| fs::rename(&copy, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&copy);
        return Err(fail(e));
    }
    if let Some(dir) = path.parent() {
        sync_dir(dir);
    }
    Ok(file)
}

/// Tests only: the names in `dir`, sorted.
#[cfg(test)]
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
