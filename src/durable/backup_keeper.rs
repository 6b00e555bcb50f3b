//! The backups a running launch keeps (see backups.rs for what a backup
//! is): one every so often, checked and written off the checkpoint actor's
//! thread, and one of the final cut.

use crate::durable::backups::{dir_of, save};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Backups taken while a launch runs: every so often, checked and
/// written on a thread of their own so that the checkpoint actor does not
/// wait for them, and one more at the end.
pub struct BackupKeeper {
    state_dir: PathBuf,
    every: Duration,
    last: Instant,
    pending: Option<std::thread::JoinHandle<()>>,
}

impl BackupKeeper {
    pub fn new(state_dir: &Path, every: Duration) -> BackupKeeper {
        BackupKeeper {
            state_dir: state_dir.to_path_buf(),
            every,
            last: Instant::now(),
            pending: None,
        }
    }

    /// Whether a periodic backup is due (and none is being written).
    pub fn due(&self) -> bool {
        self.last.elapsed() >= self.every && self.pending.as_ref().is_none_or(|p| p.is_finished())
    }

    /// Checks and keeps `bytes` (the file between two commits) in the
    /// background.
    pub fn keep_in_background(&mut self, path: &Path, launch: u64, bytes: Vec<u8>) {
        self.last = Instant::now();
        let (state_dir, path) = (self.state_dir.clone(), path.to_path_buf());
        self.pending = std::thread::Builder::new()
            .name("backup".into())
            .spawn(move || keep_checked(&state_dir, &path, launch, bytes))
            .ok();
    }

    /// Checks and keeps `bytes` (the file after its final commit) now,
    /// after any backup still being written.
    pub fn keep_now(&mut self, path: &Path, launch: u64, bytes: Vec<u8>) {
        if let Some(pending) = self.pending.take() {
            let _ = pending.join();
        }
        keep_checked(&self.state_dir, path, launch, bytes);
    }
}

/// A backup costs nothing but itself: a failure is a warning.
fn keep_checked(state_dir: &Path, path: &Path, launch: u64, bytes: Vec<u8>) {
    let kept = match crate::durable::inspect::check_bytes(path, bytes) {
        Ok(vetted) => save(state_dir, launch, &vetted.bytes).map_err(|e| e.to_string()),
        Err(failed) => Err(format!("the copy failed its check: {}", failed.error())),
    };
    if let Err(e) = kept {
        crate::util::output::note(&format!(
            "warning: no backup of this launch's cut in {}: {e}",
            dir_of(state_dir).display()
        ));
    }
}
