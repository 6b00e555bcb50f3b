//! Reading a checkpoint file without trusting it and without touching it.
//!
//! The bytes are read twice and kept only when both reads agree (a run may
//! be committing while `stats` reads), written to a private copy, and the
//! copy is opened, repaired if the writer died, upgraded in memory and read
//! completely by a child process (see probe.rs). Only a file whose copy
//! passed is ever opened for writing, and only if its bytes are still the
//! ones that were checked.

use crate::durable::error::Error;
use crate::durable::files::{describe, open_regular};
use crate::durable::read::{Inspection, Problem};
use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FILE_NAME: &str = "checkpoints.redb";
/// The first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];
/// Scratch copies live in `$TMPDIR/fizzflow-inspect-<pid>-*`, so a later
/// inspection can remove those of a process that was killed.
const SCRATCH_PREFIX: &str = "fizzflow-inspect-";
/// Reads of a file that keeps changing before giving up (a run committing
/// every millisecond is still read within a few).
const STABLE_READS: u32 = 200;
/// Checkpoint files are read whole into memory; anything this large is not
/// one (see `too_large`).
const MAX_FILE_BYTES: u64 = 1 << 30;

pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// An inspection and the exact bytes it was made from.
#[derive(Debug)]
pub struct Vetted {
    pub seen: Inspection,
    pub bytes: Vec<u8>,
}

/// The checkpoint file of a state dir, if there is one. Anything at its
/// path other than a regular file is refused: a dangling symlink replaced
/// by a new file would be a silent start from zero, and a FIFO would hang.
pub fn existing(path: &Path) -> Result<Option<Vetted>, Error> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_refusal(path, "examine", e)),
        Ok(m) if !m.file_type().is_file() => Err(Error::Unusable {
            path: path.to_path_buf(),
            problem: format!(
                "is not a regular file (it is {}); fizzflow never follows or replaces what is there",
                describe(m.file_type())
            ),
        }),
        // Before anything is read: the file is read into memory, twice.
        Ok(m) if m.len() > MAX_FILE_BYTES => Err(too_large(path)),
        Ok(_) => inspect(path).map(Some),
    }
}

/// The exit code of an I/O failure on the checkpoint path: what no retry
/// can fix (permissions, the wrong kind of file) makes the dir unusable
/// (exit 4); anything else is the machine's (exit 1).
fn io_refusal(path: &Path, action: &'static str, e: std::io::Error) -> Error {
    match e.kind() {
        ErrorKind::PermissionDenied => Error::StateDir {
            dir: path.parent().unwrap_or(path).to_path_buf(),
            problem: format!("cannot be read ({}: {e})", path.display()),
        },
        ErrorKind::InvalidInput => Error::Damaged {
            path: path.to_path_buf(),
            problem: format!("cannot be used: {e}"),
        },
        _ => Error::Io {
            path: path.to_path_buf(),
            action,
            source: e,
        },
    }
}

/// Reads a checkpoint file through a private copy; see the module doc.
pub fn inspect(path: &Path) -> Result<Vetted, Error> {
    let mut attempts = 0;
    loop {
        attempts += 1;
        let bytes = stable_read(path)?;
        match check_bytes(path, bytes) {
            // Damage is only damage if the file is still what was checked:
            // otherwise a writer changed it under the copy; read it again.
            Err(Checked::Damaged(e, bytes)) => {
                let unchanged = read_once(path).is_ok_and(|now| now == bytes);
                if unchanged || attempts >= 3 {
                    return Err(e);
                }
            }
            Err(Checked::Refused(e)) => return Err(e),
            Ok(vetted) => return Ok(vetted),
        }
    }
}

/// Why bytes did not pass: damage (with the bytes, to compare), or any
/// other refusal.
pub enum Checked {
    Damaged(Error, Vec<u8>),
    Refused(Error),
}

impl Checked {
    pub fn error(self) -> Error {
        match self {
            Checked::Damaged(e, _) | Checked::Refused(e) => e,
        }
    }
}

/// Checks `bytes` (the content of `path`, or what is to become a backup of
/// it) through a private copy, as completely as a launch checks its file.
pub fn check_bytes(path: &Path, bytes: Vec<u8>) -> Result<Vetted, Checked> {
    sweep_stale_scratch();
    let bad = |problem: String, bytes| {
        Checked::Damaged(
            Error::Damaged {
                path: path.to_path_buf(),
                problem,
            },
            bytes,
        )
    };
    if bytes.is_empty() {
        return Err(bad("is empty (0 bytes)".into(), bytes));
    }
    if !bytes.starts_with(&REDB_MAGIC) {
        return Err(bad(
            "is not a redb database (its first bytes are not redb's header)".into(),
            bytes,
        ));
    }
    let scratch = scratch_dir().map_err(Checked::Refused)?;
    let copy = scratch.path().join(FILE_NAME);
    fs::write(&copy, &bytes).map_err(|e| {
        Checked::Refused(Error::CouldNotCheck {
            path: path.to_path_buf(),
            problem: format!("a private copy could not be written ({e})"),
        })
    })?;
    match crate::durable::probe::probe(&copy) {
        Ok(seen) => Ok(Vetted { seen, bytes }),
        Err(Problem::Newer(why)) => Err(Checked::Refused(Error::Unusable {
            path: path.to_path_buf(),
            problem: why,
        })),
        Err(Problem::Io(why)) => Err(Checked::Refused(Error::CouldNotCheck {
            path: path.to_path_buf(),
            problem: why,
        })),
        Err(Problem::Damaged(why)) => Err(bad(why, bytes)),
    }
}

/// The file's bytes, read until two reads in a row agree. A read that
/// overlapped a commit can mix pages from before and after it, which redb
/// rightly calls damage; two equal reads mean no write landed during either,
/// so the bytes are the file as it was at one instant: what a crash at that
/// instant would have left, which redb recovers.
fn stable_read(path: &Path) -> Result<Vec<u8>, Error> {
    stable(|| read_once(path), || {
        std::thread::sleep(Duration::from_micros(500))
    })
    .ok_or_else(|| Error::CouldNotCheck {
        path: path.to_path_buf(),
        problem: format!(
            "it kept changing while it was read ({STABLE_READS} reads); is a run committing very often? Try again"
        ),
    })?
}

/// The first of `read`'s results that equals the one before it; None if
/// none did within [`STABLE_READS`] reads.
fn stable<T: PartialEq, E>(
    mut read: impl FnMut() -> Result<T, E>,
    mut pause: impl FnMut(),
) -> Option<Result<T, E>> {
    let mut last = match read() {
        Ok(v) => v,
        Err(e) => return Some(Err(e)),
    };
    for _ in 0..STABLE_READS {
        let again = match read() {
            Ok(v) => v,
            Err(e) => return Some(Err(e)),
        };
        if again == last {
            return Some(Ok(again));
        }
        last = again;
        pause();
    }
    None
}

fn read_once(path: &Path) -> Result<Vec<u8>, Error> {
    let file = open_regular(path, OpenOptions::new().read(true))
        .map_err(|e| io_refusal(path, "open", e))?;
    let mut bytes = Vec::new();
    // One byte past the cap says "too large" without reading the rest.
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_refusal(path, "read", e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(path));
    }
    Ok(bytes)
}

fn too_large(path: &Path) -> Error {
    Error::Damaged {
        path: path.to_path_buf(),
        problem: format!(
            "is larger than {} GiB, which no checkpoint file fizzflow writes reaches (a million checkpoints of history is a few hundred MB); it is not fizzflow's, or it is damaged",
            MAX_FILE_BYTES >> 30
        ),
    }
}

fn scratch_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix(&format!("{SCRATCH_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(|e| Error::Io {
            path: std::env::temp_dir(),
            action: "create a scratch dir in",
            source: e,
        })
}

/// Removes scratch copies left by inspections whose process was killed.
fn sweep_stale_scratch() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SCRATCH_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        if !process_exists(pid) {
            // remove_dir_all removes a symlink itself, never what it points to.
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

fn process_exists(pid: i32) -> bool {
    // SAFETY: signal 0 only asks whether the process exists.
    pid > 0
        && (unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_empty_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        for (bytes, expect) in [
            (&b""[..], "empty"),
            (&b"hello, not a database"[..], "not a redb database"),
        ] {
            fs::write(&path, bytes).unwrap();
            let err = inspect(&path).expect_err("refused");
            assert!(err.to_string().contains(expect), "{err}");
            assert!(matches!(err, Error::Damaged { .. }), "{err}");
            assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }

    #[test]
    fn a_fifo_or_dangling_symlink_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        std::os::unix::fs::symlink(dir.path().join("gone"), &path).unwrap();
        let err = existing(&path).expect_err("refused");
        assert!(matches!(err, Error::Unusable { .. }), "{err}");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        fs::remove_file(&path).unwrap();
        let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo on a path we own.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let err = existing(&path).expect_err("refused");
        assert!(err.to_string().contains("FIFO"), "{err}");
    }

    #[test]
    fn only_two_equal_reads_in_a_row_are_trusted() {
        // Each read returns the next of these; a torn read ("ab") never
        // agrees with its neighbours.
        let run = |reads: &[&'static str]| {
            let mut it = reads.iter().cycle();
            stable(|| Ok::<_, ()>(*it.next().unwrap()), || {}).map(|r| r.unwrap())
        };
        assert_eq!(run(&["a", "a"]), Some("a"));
        assert_eq!(run(&["ab", "b", "b"]), Some("b"));
        assert_eq!(run(&["a", "ab", "b", "b"]), Some("b"));
        assert_eq!(run(&["a", "ab"]), None, "a file that never settles");
        assert_eq!(stable(|| Err::<u8, _>("gone"), || {}), Some(Err("gone")));
    }

    #[test]
    fn records_cross_from_the_probe_bit_for_bit() {
        // The probe child reports in JSON; a run time that came back one
        // bit off made the file look changed under the check.
        let mut rec = crate::durable::ledger::Ledger::launch(
            None,
            &crate::pipeline::config::PipelineConfig::default(),
        );
        rec.run_secs = 1.555331954;
        let seen = Inspection {
            schema_version: 1,
            history: vec![rec],
            launches: Vec::new(),
        };
        let back: Inspection =
            serde_json::from_str(&serde_json::to_string(&seen).unwrap()).unwrap();
        assert_eq!(back.history, seen.history);
        assert_eq!(back.history[0].run_secs.to_bits(), 1.555331954f64.to_bits());
    }

    #[test]
    fn scratch_copies_of_dead_processes_are_swept() {
        // PIDs above the kernel's pid_max never exist.
        let stale = std::env::temp_dir().join(format!("{SCRATCH_PREFIX}999999999-test"));
        fs::create_dir_all(&stale).unwrap();
        fs::write(stale.join(FILE_NAME), b"copy").unwrap();
        let mine = scratch_dir().unwrap();
        sweep_stale_scratch();
        assert!(!stale.exists(), "a dead process's copy is removed");
        assert!(mine.path().exists(), "a live process's copy is kept");
    }
}
