//! The state directory: its lock, and the redb checkpoint file inside it.
//!
//! A file is never opened for writing before a copy of it has been opened,
//! repaired if need be, and read completely: a corrupt, foreign, empty or
//! newer file is refused (exit 4) and stays byte-identical.

use crate::error::Error;
use crate::migrations::{self, CHECKPOINTS};
use crate::record::CheckpointRecord;
use redb::{Database, Durability, ReadableTable, TableHandle};
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub const FILE_NAME: &str = "checkpoints.redb";
const LOCK_NAME: &str = "fizzflow.lock";
/// The first bytes of every redb file.
const REDB_MAGIC: [u8; 9] = [b'r', b'e', b'd', b'b', 0x1A, 0x0A, 0xA9, 0x0D, 0x0A];

pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Exclusive use of a state dir for as long as it lives (an flock on
/// `fizzflow.lock`, released by the kernel even on SIGKILL).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
}

impl DirLock {
    pub fn acquire(dir: &Path) -> Result<DirLock, Error> {
        if dir.exists() && !dir.is_dir() {
            return Err(Error::StateDir {
                dir: dir.to_path_buf(),
                problem: "exists and is not a directory".into(),
            });
        }
        fs::create_dir_all(dir).map_err(|e| Error::StateDir {
            dir: dir.to_path_buf(),
            problem: format!("cannot be created: {e}"),
        })?;
        let path = dir.join(LOCK_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::Io {
                path: path.clone(),
                action: "open the lock file",
                source: e,
            })?;
        // SAFETY: flock on a file descriptor we own.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(Error::StateInUse {
                dir: dir.to_path_buf(),
                holder: holder.trim().to_string(),
            });
        }
        // Tell a second process who holds it; advisory only.
        let _ = file.set_len(0);
        let _ = write!(file, "{}", std::process::id());
        Ok(DirLock { _file: file })
    }
}

/// Everything a checkpoint file holds, read from a private copy.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Inspection {
    pub schema_version: u64,
    pub history: Vec<CheckpointRecord>,
}

impl Inspection {
    pub fn latest(&self) -> Option<&CheckpointRecord> {
        self.history.last()
    }
}

/// Reads a checkpoint file without touching it: the bytes are copied, the
/// copy is opened (and repaired, if the writer died), upgraded in memory of
/// the copy only, and every record is decoded and checked.
pub fn inspect(path: &Path) -> Result<Inspection, Error> {
    let bad = |problem: String| Error::Checkpoint {
        path: path.to_path_buf(),
        problem,
    };
    let mut header = [0u8; REDB_MAGIC.len()];
    let mut file = File::open(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        action: "open",
        source: e,
    })?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len == 0 {
        return Err(bad("is empty (0 bytes)".into()));
    }
    if file.read_exact(&mut header).is_err() || header != REDB_MAGIC {
        return Err(bad(
            "is not a redb database (its first bytes are not redb's header)".into(),
        ));
    }
    drop(file);

    let scratch = tempfile::Builder::new()
        .prefix("fizzflow-inspect")
        .tempdir()
        .map_err(|e| Error::Io {
            path: std::env::temp_dir(),
            action: "create a scratch dir in",
            source: e,
        })?;
    let copy = scratch.path().join(FILE_NAME);
    fs::copy(path, &copy).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        action: "copy",
        source: e,
    })?;

    crate::probe::probe(&copy).map_err(|p| match p {
        Problem::Damaged(why) => bad(why),
        Problem::Io(why) => Error::CheckpointIo {
            path: path.to_path_buf(),
            problem: why,
        },
    })
}

/// Why a copy could not be read.
#[derive(Debug, PartialEq)]
pub enum Problem {
    /// The file's content: refuse it (exit 4) and leave it alone.
    Damaged(String),
    /// The machine's: a full disk, a file-size limit… (exit 1).
    Io(String),
}

/// Sorts redb's errors: I/O failures are the disk's, anything else the file's.
fn problem(what: &str) -> impl Fn(redb::Error) -> Problem + '_ {
    move |e| match e {
        redb::Error::Io(_) => Problem::Io(format!("{what}: {e}")),
        e => Problem::Damaged(format!("{what}: {e}")),
    }
}

/// Reads everything and exercises the write path (a commit that inserts and
/// removes a record, then a clean close), on a copy that nobody else uses.
/// Damage can make redb panic, even twice over (a destructor panicking while
/// unwinding aborts the process), which is why the binary runs this in a
/// child process (see probe.rs).
pub fn read_and_exercise(copy: &Path) -> Result<Inspection, Problem> {
    let db = Database::builder()
        .open(copy)
        .map_err(|e| problem("cannot be opened as a database")(e.into()))?;
    let txn = db
        .begin_write()
        .map_err(|e| problem("cannot be read")(e.into()))?;
    // Before anything opens (and so creates) a table: a damaged table name
    // would otherwise read as an empty history, i.e. a silent start from zero.
    let mut names: Vec<String> = txn
        .list_tables()
        .map_err(|e| problem("cannot list its tables")(e.into()))?
        .map(|t| t.name().to_string())
        .collect();
    names.sort();
    let schema_version = migrations::schema_version(&txn).map_err(Problem::Damaged)?;
    if schema_version > migrations::CURRENT {
        return Err(Problem::Damaged(format!(
            "was written by a newer fizzflow (schema {schema_version}; this build reads up to {})",
            migrations::CURRENT
        )));
    }
    if schema_version == 0 {
        return Err(Problem::Damaged(
            "has no fizzflow schema (it is some other redb database)".into(),
        ));
    }
    let expected = migrations::tables_at(schema_version);
    if names != expected {
        return Err(Problem::Damaged(format!(
            "is damaged (tables {names:?}, expected {expected:?} for schema {schema_version})"
        )));
    }
    migrations::upgrade(&txn, schema_version).map_err(problem("cannot be upgraded"))?;
    let history = {
        let mut table = txn
            .open_table(CHECKPOINTS)
            .map_err(|e| problem("cannot open its checkpoints")(e.into()))?;
        let history = read_history(&table).map_err(Problem::Damaged)?;
        let write = problem("is damaged (a test write failed)");
        table
            .insert(u64::MAX, &b"probe"[..])
            .map_err(|e| write(e.into()))?;
        table.remove(u64::MAX).map_err(|e| write(e.into()))?;
        history
    };
    txn.commit()
        .map_err(|e| problem("is damaged (a test commit failed)")(e.into()))?;
    drop(db);
    Ok(Inspection {
        schema_version,
        history,
    })
}

fn read_history(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<Vec<CheckpointRecord>, String> {
    let mut history = Vec::new();
    for row in table
        .iter()
        .map_err(|e| format!("cannot list checkpoints: {e}"))?
    {
        let (seq, bytes) = row.map_err(|e| format!("cannot read a checkpoint: {e}"))?;
        let rec = CheckpointRecord::decode(bytes.value())
            .map_err(|e| format!("checkpoint {}: {e}", seq.value()))?;
        if rec.seq != seq.value() {
            return Err(format!(
                "checkpoint {} claims to be number {}",
                seq.value(),
                rec.seq
            ));
        }
        rec.check()
            .map_err(|e| format!("checkpoint {} is inconsistent: {e}", rec.seq))?;
        history.push(rec);
    }
    Ok(history)
}

/// The open checkpoint file of a running launch.
pub struct Store {
    path: PathBuf,
    db: Database,
    keep: u64,
    /// Commits made through this handle, for `--inject-abort`.
    commits: u64,
    abort_at: Option<u64>,
}

impl Store {
    /// Opens (or creates) the checkpoint file for writing, after
    /// [`inspect`] has vouched for it; brings an older schema up to date in
    /// one transaction.
    pub fn open(dir: &Path, keep: u64) -> Result<(Store, Option<CheckpointRecord>), Error> {
        let path = checkpoint_path(dir);
        if !path.exists() {
            let store = Self::create(dir, keep)?;
            return Ok((store, None));
        }
        let previous = inspect(&path)?.latest().cloned();
        let db = Self::open_db(&path)?;
        let store = Store {
            path,
            db,
            keep: keep.max(1),
            commits: 0,
            abort_at: None,
        };
        store.upgrade()?;
        Ok((store, previous))
    }

    /// A new file appears under its real name only once it holds a
    /// committed schema: it is built under a temporary name and renamed, so
    /// a full disk or a kill cannot leave a half-made file that every later
    /// run would have to refuse.
    fn create(dir: &Path, keep: u64) -> Result<Store, Error> {
        let path = checkpoint_path(dir);
        let building = dir.join(format!("{FILE_NAME}.creating"));
        let _ = fs::remove_file(&building); // a leftover from a killed creation
        let made = (|| {
            let db = Self::open_db(&building)?;
            let store = Store {
                path: building.clone(),
                db,
                keep: keep.max(1),
                commits: 0,
                abort_at: None,
            };
            store.upgrade()?;
            fs::rename(&building, &path).map_err(|e| Error::Io {
                path: building.clone(),
                action: "rename into place",
                source: e,
            })?;
            // The rename itself must survive a crash too.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
            Ok(Store {
                path: path.clone(),
                ..store
            })
        })();
        if made.is_err() {
            let _ = fs::remove_file(&building);
        }
        made
    }

    /// Its content was vouched for already, so a failure here is the
    /// disk's (full, read-only, too large), not the file's.
    fn open_db(path: &Path) -> Result<Database, Error> {
        Database::builder()
            .create(path)
            .map_err(|e| Error::CheckpointWrite {
                path: path.to_path_buf(),
                problem: format!("cannot open it for writing: {e}"),
            })
    }

    fn upgrade(&self) -> Result<(), Error> {
        let fail = |e: String| Error::CheckpointWrite {
            path: self.path.clone(),
            problem: e,
        };
        let txn = self.db.begin_write().map_err(|e| fail(e.to_string()))?;
        let from = migrations::schema_version(&txn).map_err(fail)?;
        if from < migrations::CURRENT {
            migrations::upgrade(&txn, from).map_err(|e| fail(e.to_string()))?;
            txn.commit().map_err(|e| fail(e.to_string()))?;
        } else {
            txn.abort().map_err(|e| fail(e.to_string()))?;
        }
        Ok(())
    }

    /// After a panic in the middle of a commit redb wants a fresh handle.
    pub fn reopen(&mut self) -> Result<(), Error> {
        // The old handle must be gone before the file can be opened again.
        let placeholder = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| Error::CheckpointWrite {
                path: self.path.clone(),
                problem: e.to_string(),
            })?;
        drop(std::mem::replace(&mut self.db, placeholder));
        self.db = Self::open_db(&self.path)?;
        Ok(())
    }

    /// Fault injection: abort the process inside the `n`-th commit made
    /// through this handle (1 = the launch record), after the record is
    /// written and before the commit.
    pub fn abort_inside_commit(&mut self, n: u64) {
        self.abort_at = Some(n);
    }

    /// Commits one record durably (fsync) in one transaction and drops the
    /// records older than the newest `keep`.
    /// Returns how long the commit took, fsync included.
    pub fn commit(&mut self, rec: &CheckpointRecord) -> Result<std::time::Duration, Error> {
        let started = std::time::Instant::now();
        let fail = |e: String| Error::CheckpointWrite {
            path: self.path.clone(),
            problem: e,
        };
        let mut txn = self.db.begin_write().map_err(|e| fail(e.to_string()))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| fail(e.to_string()))?;
        txn.set_quick_repair(true);
        {
            let mut table = txn
                .open_table(CHECKPOINTS)
                .map_err(|e| fail(e.to_string()))?;
            table
                .insert(rec.seq, rec.encode().as_slice())
                .map_err(|e| fail(e.to_string()))?;
            if rec.seq > self.keep {
                table
                    .retain_in(..=rec.seq - self.keep, |_, _| false)
                    .map_err(|e| fail(e.to_string()))?;
            }
        }
        self.commits += 1;
        if self.abort_at == Some(self.commits) {
            eprintln!(
                "fizzflow: injected abort inside checkpoint commit {} (--inject-abort)",
                self.commits
            );
            std::process::abort();
        }
        txn.commit().map_err(|e| fail(e.to_string()))?;
        Ok(started.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PipelineConfig;
    use crate::record::Ledger;

    #[test]
    fn commits_are_read_back_and_history_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let (mut store, previous) = Store::open(dir.path(), 3).unwrap();
        assert!(previous.is_none());
        let mut rec = Ledger::launch(None, &PipelineConfig::default());
        for _ in 0..5 {
            store.commit(&rec).unwrap();
            rec.seq += 1;
            rec.checkpoints += 1;
        }
        drop(store);
        let seen = inspect(&checkpoint_path(dir.path())).unwrap();
        assert_eq!(seen.schema_version, migrations::CURRENT);
        assert_eq!(
            seen.history.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
    }

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
    fn garbage_and_empty_files_are_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        for (bytes, expect) in [
            (&b""[..], "empty"),
            (&b"hello, not a database"[..], "not a redb database"),
        ] {
            fs::write(&path, bytes).unwrap();
            let err = Store::open(dir.path(), 8).err().expect("refused");
            assert!(err.to_string().contains(expect), "{err}");
            assert_eq!(err.exit_code(), 4);
            assert_eq!(fs::read(&path).unwrap(), bytes);
        }
    }
}
