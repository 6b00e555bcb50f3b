//! The open checkpoint file of a running launch: the only code that writes
//! to it. A file is opened for writing only after [`crate::durable::inspect`] has
//! vouched for a copy of it and only if its bytes are still those of the
//! copy; a new file appears under its real name only once it holds the
//! schema and the first launch record.

use crate::durable::error::Error;
use crate::durable::error::TxnError;
use crate::durable::files::{link_in_place, open_db, open_file, open_regular, own_copy, sync_dir};
use crate::durable::inspect::{FILE_NAME, Vetted, checkpoint_path};
use crate::durable::launch_log::{self, LaunchEnd, LaunchRow};
use crate::durable::record::CheckpointRecord;
use crate::durable::schema::{self, CHECKPOINTS};
use crate::pipeline::stats::Restarts;
use redb::{Database, Durability, ReadableTable, WriteTransaction};
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a store is used for one launch.
#[derive(Clone, Copy, Debug)]
pub struct StoreOptions {
    /// Records kept in the history table.
    pub keep: u64,
    /// Fault injection: where to abort the process.
    pub abort_at: Option<AbortAt>,
}

/// `--inject-abort`: a process abort inside a transaction, after its
/// changes are written and before its commit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AbortAt {
    /// Inside this launch's N-th commit (1 = the launch record).
    Commit(u64),
    /// Inside the upgrade of an older file, once every step has run.
    Upgrade,
}

pub struct Store {
    path: PathBuf,
    db: Database,
    opts: StoreOptions,
    /// Commits made through this handle, for `--inject-abort`.
    commits: u64,
    /// The names the file had when it was opened, if more than one.
    links_broken: Option<u64>,
}

impl Store {
    /// A fresh state dir. The file is built under a temporary name, holds
    /// the schema and `first` (the launch record) in one commit, and only
    /// then gets its real name, so no kill or full disk can leave a file
    /// with no record in it. Returns the store and how long the commit took.
    pub fn create(
        dir: &Path,
        opts: StoreOptions,
        first: &CheckpointRecord,
        row: &LaunchRow,
    ) -> Result<(Store, Duration), Error> {
        let path = checkpoint_path(dir);
        let building = dir.join(format!("{FILE_NAME}.creating"));
        // A leftover of a killed creation; never a directory (remove_file
        // refuses those, and a symlink is removed, not followed).
        if fs::symlink_metadata(&building).is_ok() {
            fs::remove_file(&building).map_err(|e| Error::StateDir {
                dir: dir.to_path_buf(),
                problem: format!("cannot remove the leftover {}: {e}", building.display()),
            })?;
        }
        let made = (|| {
            // O_EXCL and O_NOFOLLOW: a name planted meanwhile is refused,
            // never written through; redb gets this very descriptor.
            let file = open_file(&building, true)?;
            let ours = file.try_clone().map_err(|e| Error::Create {
                path: path.clone(),
                problem: e.to_string(),
            })?;
            let mut store = Store {
                db: open_db(&building, file)?,
                path: building.clone(),
                opts,
                commits: 0,
                links_broken: None,
            };
            let took = store.commit_with(first, |txn| {
                schema::upgrade(txn, 0)?;
                launch_log::begin(txn, row, None)
            })?;
            link_in_place(&ours, &building, &path).map_err(|e| Error::Create {
                path: path.clone(),
                problem: format!("cannot give it its name: {e}"),
            })?;
            let _ = fs::remove_file(&building);
            // The new name itself must survive a crash too.
            sync_dir(dir);
            store.path = path.clone();
            Ok((store, took))
        })();
        if made.is_err() {
            let _ = fs::remove_file(&building);
        }
        made.map_err(|e| match e {
            Error::Write { problem, .. } => Error::Create {
                path: path.clone(),
                problem,
            },
            e => e,
        })
    }

    /// An existing file that [`inspect::existing`] vouched for. It is opened
    /// once, never through a symlink, must still hold the bytes that were
    /// checked, and that same descriptor is what redb writes through. Its
    /// schema is brought up to date, its newest record is read from the
    /// file itself and must be the one the check saw, and `launch` and its
    /// `row` are committed, all in one transaction.
    pub fn open(
        path: &Path,
        opts: StoreOptions,
        vetted: &Vetted,
        launch: &CheckpointRecord,
        row: &LaunchRow,
    ) -> Result<(Store, Duration), Error> {
        let changed = || Error::Changed {
            path: path.to_path_buf(),
        };
        let mut file = open_file(path, false)?;
        let mut now = Vec::new();
        (&file).read_to_end(&mut now).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            action: "read",
            source: e,
        })?;
        if now != vetted.bytes {
            return Err(changed());
        }
        // redb writes in place: through a second name (a `cp -al` snapshot,
        // a hard link anywhere) every commit would change that file too.
        // The run works on a copy of its own instead; the other names keep
        // the bytes they had.
        let links = file.metadata().map(|m| m.nlink()).unwrap_or(1);
        if links > 1 {
            file = own_copy(path, &vetted.bytes)?;
        }
        let mut store = Store {
            db: open_db(path, file)?,
            path: path.to_path_buf(),
            opts,
            commits: 0,
            links_broken: (links > 1).then_some(links),
        };
        let expected = vetted.seen.latest();
        let took = store.commit_with(launch, |txn| {
            let from = schema::schema_version(txn)?;
            if from < schema::CURRENT {
                schema::upgrade(txn, from)?;
                if opts.abort_at == Some(AbortAt::Upgrade) {
                    abort_injected(&format!("the upgrade from schema {from}"));
                }
            }
            let table = txn.open_table(CHECKPOINTS)?;
            let newest = match table.last()? {
                Some((_, bytes)) => {
                    Some(CheckpointRecord::decode(bytes.value()).map_err(|_| TxnError::Changed)?)
                }
                None => None,
            };
            if newest.as_ref() != expected {
                return Err(TxnError::Changed);
            }
            launch_log::begin(txn, row, newest.as_ref())
        })?;
        Ok((store, took))
    }

    /// Whether the file had other names (hard links) when it was opened,
    /// and so was replaced by a copy of its own: how many names it had.
    pub fn links_broken(&self) -> Option<u64> {
        self.links_broken
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's bytes as they are between commits: what a crash now
    /// would leave, which redb repairs when it opens it.
    pub fn read_back(&self) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        open_regular(&self.path, fs::OpenOptions::new().read(true))?.read_to_end(&mut bytes)?;
        Ok(bytes)
    }

    /// After a panic in the middle of a commit redb wants a fresh handle.
    pub fn reopen(&mut self) -> Result<(), Error> {
        self.close()?;
        self.db = open_db(&self.path, open_file(&self.path, false)?)?;
        Ok(())
    }

    /// Closes the file cleanly (redb records a clean shutdown), so that its
    /// bytes are what the next launch will read; commits after this fail.
    pub fn close(&mut self) -> Result<(), Error> {
        // The old handle must be gone before the file is read or opened again.
        let placeholder = Database::builder()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|e| Error::Write {
                path: self.path.clone(),
                problem: e.to_string(),
            })?;
        drop(std::mem::replace(&mut self.db, placeholder));
        Ok(())
    }

    /// Commits one record durably (fsync) in one transaction and drops the
    /// records older than the newest `keep`. Returns how long the commit
    /// took, fsync included.
    pub fn commit(&mut self, rec: &CheckpointRecord) -> Result<Duration, Error> {
        self.commit_with(rec, |_| Ok(()))
    }

    /// The final checkpoint of a launch, with how the launch ended, in one
    /// transaction.
    pub fn commit_final(
        &mut self,
        rec: &CheckpointRecord,
        ending: LaunchEnd,
        restarts: Restarts,
    ) -> Result<Duration, Error> {
        self.commit_with(rec, |txn| {
            launch_log::close(txn, rec.launches, ending, rec, restarts)
        })
    }

    /// [`Store::commit`], with `before` run first in the same transaction.
    fn commit_with(
        &mut self,
        rec: &CheckpointRecord,
        before: impl FnOnce(&WriteTransaction) -> Result<(), TxnError>,
    ) -> Result<Duration, Error> {
        let started = Instant::now();
        let fail = |e: &dyn std::fmt::Display| Error::Write {
            path: self.path.clone(),
            problem: e.to_string(),
        };
        // What no file may hold, nothing writes: a record that would be
        // refused on the next read is refused now, and the file stands.
        rec.check()
            .map_err(|e| fail(&format!("refusing to write an impossible checkpoint ({e})")))?;
        let mut txn = self.db.begin_write().map_err(|e| fail(&e))?;
        txn.set_durability(Durability::Immediate)
            .map_err(|e| fail(&e))?;
        txn.set_quick_repair(true);
        before(&txn).map_err(|e| match e {
            TxnError::Changed => Error::Changed {
                path: self.path.clone(),
            },
            e => fail(&e),
        })?;
        {
            let mut table = txn.open_table(CHECKPOINTS).map_err(|e| fail(&e))?;
            // Nor a history the next read would refuse: the record must
            // follow the newest one in the file itself.
            let newest = match table.last().map_err(|e| fail(&e))? {
                Some((_, bytes)) => {
                    Some(CheckpointRecord::decode(bytes.value()).map_err(|e| fail(&e))?)
                }
                None => None,
            };
            if let Some(newest) = newest {
                rec.check_follows(&newest).map_err(|e| {
                    fail(&format!(
                        "refusing to write checkpoint {} ({e}); the file keeps checkpoint {}",
                        rec.seq, newest.seq
                    ))
                })?;
            }
            table
                .insert(rec.seq, rec.encode().as_slice())
                .map_err(|e| fail(&e))?;
            if rec.seq > self.opts.keep.max(1) {
                table
                    .retain_in(..=rec.seq - self.opts.keep.max(1), |_, _| false)
                    .map_err(|e| fail(&e))?;
            }
        }
        self.commits += 1;
        if self.opts.abort_at == Some(AbortAt::Commit(self.commits)) {
            abort_injected(&format!("checkpoint commit {}", self.commits));
        }
        txn.commit().map_err(|e| fail(&e))?;
        Ok(started.elapsed())
    }
}

fn abort_injected(inside: &str) -> ! {
    // Everything said before, then this, written now: nothing queued
    // survives an abort.
    crate::util::output::flush();
    let _ = crate::util::output::stderr_now(&format!("fizzflow: injected abort inside {inside}"));
    std::process::abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::inspect;
    use crate::durable::ledger::Ledger;
    use crate::pipeline::config::PipelineConfig;

    const OPTS: StoreOptions = StoreOptions {
        keep: 3,
        abort_at: None,
    };

    fn row(launch: &CheckpointRecord) -> LaunchRow {
        LaunchRow::opening(launch, Vec::new(), None)
    }

    #[test]
    fn commits_are_read_back_and_history_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut rec = Ledger::launch(None, &PipelineConfig::default());
        let (mut store, _) = Store::create(dir.path(), OPTS, &rec, &row(&rec)).unwrap();
        for _ in 0..4 {
            rec.seq += 1;
            rec.checkpoints += 1;
            store.commit(&rec).unwrap();
        }
        drop(store);
        let seen = inspect::inspect(&checkpoint_path(dir.path())).unwrap().seen;
        assert_eq!(seen.schema_version, schema::CURRENT);
        assert_eq!(
            seen.history.iter().map(|r| r.seq).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
    }

    #[test]
    fn a_new_file_holds_its_launch_record_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let rec = Ledger::launch(None, &PipelineConfig::default());
        let (store, _) = Store::create(dir.path(), OPTS, &rec, &row(&rec)).unwrap();
        drop(store);
        let seen = inspect::inspect(&checkpoint_path(dir.path())).unwrap().seen;
        assert_eq!(seen.history, vec![rec.clone()]);
        assert_eq!(seen.launches, vec![row(&rec)]);
        assert!(!dir.path().join(format!("{FILE_NAME}.creating")).exists());
    }

    #[test]
    fn a_file_changed_after_its_check_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        let first = Ledger::launch(None, &PipelineConfig::default());
        drop(Store::create(dir.path(), OPTS, &first, &row(&first)).unwrap());
        let vetted = inspect::inspect(&path).unwrap();
        // Another writer commits after the check.
        {
            let mut later = Ledger::launch(Some(&first), &PipelineConfig::default());
            let (mut other, _) = Store::open(&path, OPTS, &vetted, &later, &row(&later)).unwrap();
            later.seq += 1;
            later.checkpoints += 1;
            other.commit(&later).unwrap();
        }
        let before = fs::read(&path).unwrap();
        let launch = Ledger::launch(Some(&first), &PipelineConfig::default());
        let Err(err) = Store::open(&path, OPTS, &vetted, &launch, &row(&launch)) else {
            panic!("a changed file was opened")
        };
        assert!(matches!(err, Error::Changed { .. }), "{err}");
        assert_eq!(fs::read(&path).unwrap(), before, "nothing written");
    }

    #[test]
    fn a_planted_creating_symlink_is_removed_not_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        fs::write(&victim, b"keep me").unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(format!("{FILE_NAME}.creating")))
            .unwrap();
        let rec = Ledger::launch(None, &PipelineConfig::default());
        drop(Store::create(dir.path(), OPTS, &rec, &row(&rec)).unwrap());
        assert_eq!(fs::read(&victim).unwrap(), b"keep me");
        let path = checkpoint_path(dir.path());
        assert!(fs::symlink_metadata(&path).unwrap().is_file());
        let seen = inspect::inspect(&path).unwrap().seen;
        assert_eq!(seen.history, vec![rec]);
    }

    #[test]
    fn a_checkpoint_symlink_is_never_opened_for_writing() {
        // Whatever vetted it, the writer itself refuses a symlink (O_NOFOLLOW).
        let dir = tempfile::tempdir().unwrap();
        let real = tempfile::tempdir().unwrap();
        let first = Ledger::launch(None, &PipelineConfig::default());
        drop(Store::create(real.path(), OPTS, &first, &row(&first)).unwrap());
        let target = checkpoint_path(real.path());
        let vetted = inspect::inspect(&target).unwrap();
        let link = checkpoint_path(dir.path());
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let before = fs::read(&target).unwrap();
        let launch = Ledger::launch(Some(&first), &PipelineConfig::default());
        assert!(Store::open(&link, OPTS, &vetted, &launch, &row(&launch)).is_err());
        assert_eq!(fs::read(&target).unwrap(), before);
    }

    #[test]
    fn a_checkpoint_that_does_not_follow_the_newest_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = checkpoint_path(dir.path());
        let mut rec = Ledger::launch(None, &PipelineConfig::default());
        rec.run_secs = 2.0;
        let (mut store, _) = Store::create(dir.path(), OPTS, &rec, &row(&rec)).unwrap();
        let mut back = rec.clone();
        back.seq += 1;
        back.checkpoints += 1;
        back.run_secs = 1.0;
        let err = store.commit(&back).unwrap_err().to_string();
        assert!(err.contains("run time never goes back"), "{err}");
        drop(store);
        let seen = inspect::inspect(&path).unwrap().seen;
        assert_eq!(seen.history, vec![rec], "the file keeps its history");
    }
}
