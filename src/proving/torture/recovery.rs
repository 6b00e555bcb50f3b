//! The fault kinds around backups and recovery, on the tortured dir itself:
//!
//! - damage then recover: the file is damaged; a run must refuse it
//!   untouched and name the way out, `fizzflow recover` must restore the
//!   newest verified backup and keep the damaged file;
//! - the file deleted while backups exist: a run must refuse (exit 4, the
//!   recover command named), create nothing, and recover must restore;
//! - a kill during recover: SIGKILL at a random moment of a restore; the
//!   lock dies with it, the file's name holds the damaged file or a
//!   verified backup, never neither, and recover finishes the job;
//! - a kill of the probe child while a run checks its file: the run says
//!   it could not check (exit 1), never "damaged", and changes nothing;
//! - a full disk during the backup step: the run ends well, warns, and not
//!   one verified backup is removed.
//!
//! After a restore the totals go back to the backup's cut, legitimately:
//! the invariants hold from there.

use super::{Engine, Landing, Snapshot, Violation, describe, same_bytes, wait};
use crate::durable::backups;
use crate::durable::inspect::checkpoint_path;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

impl Engine {
    pub(super) fn damage_recover_cycle(&mut self) -> Result<String, Violation> {
        let Some(bad) = self.damage_the_file()? else {
            return Ok("damage-recover: no file or no backup yet".into());
        };
        let what = "damage-recover".to_string();
        self.expect_refused_with_hint(&what)?;
        same_bytes(&checkpoint_path(&self.dir), &bad, &what)?;
        let line = self.recover_and_take(&what, Some(&bad))?;
        self.note("damage-recover", None);
        Ok(line)
    }

    pub(super) fn deleted_with_backups_cycle(&mut self) -> Result<String, Violation> {
        let file = checkpoint_path(&self.dir);
        if !file.exists() || backups::list(&self.dir).is_empty() {
            return Ok("deleted-with-backups: no file or no backup yet".into());
        }
        std::fs::remove_file(&file).map_err(|e| e.to_string())?;
        let what = "deleted-with-backups".to_string();
        let before = names(&self.dir);
        self.expect_refused_with_hint(&what)?;
        if names(&self.dir) != before {
            return Err(violation!("{what}: a refused run changed the state dir"));
        }
        let line = self.recover_and_take(&what, None)?;
        self.note("deleted-with-backups", None);
        Ok(line)
    }

    pub(super) fn kill_during_recover_cycle(&mut self) -> Result<String, Violation> {
        let Some(bad) = self.damage_the_file()? else {
            return Ok("kill-during-recover: no file or no backup yet".into());
        };
        let what = "kill-during-recover".to_string();
        let args: Vec<OsString> = ["recover", "--state-dir"]
            .iter()
            .map(OsString::from)
            .chain([self.dir.clone().into_os_string()])
            .collect();
        let mut child = self.spawn(&args, None)?;
        let ms = self.log_uniform_ms(150);
        std::thread::sleep(Duration::from_millis(ms));
        let landing = self.hit(&mut child, libc::SIGKILL);
        let done = wait(child)?;
        let landed = super::confirm(landing, &done.status) != Landing::Missed;
        // The name holds the damaged file or a restored one, never neither.
        let file = checkpoint_path(&self.dir);
        let now = std::fs::read(&file)
            .map_err(|e| format!("{what}: no checkpoint file after the kill: {e}"))?;
        let line = if now == bad {
            // Not restored yet: the lock died with the killed recover, so
            // this one is not refused with exit 3.
            self.recover_and_take(&what, Some(&bad))?
        } else {
            self.take_restored(&what)?
        };
        self.note(
            "kill-during-recover",
            Some(if landed {
                Landing::Running
            } else {
                Landing::Missed
            }),
        );
        Ok(format!("{line} (killed {ms} ms in)"))
    }

    pub(super) fn kill_probe_cycle(&mut self) -> Result<String, Violation> {
        let file = checkpoint_path(&self.dir);
        let Ok(before) = std::fs::read(&file) else {
            return Ok("kill-probe: no file yet".into());
        };
        let args = self.run_args();
        let child =
            self.spawn_with_env(&args, &[(crate::durable::TEST_DELAY_ENV, "300".into())])?;
        self.starts += 1;
        let probe = find_probe(child.id(), Duration::from_secs(30));
        let landing = match probe {
            Some(pid) => {
                // SAFETY: kill has no memory-safety preconditions.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
                Landing::BeforeLaunch
            }
            None => Landing::Missed,
        };
        let done = wait(child)?;
        let what = "kill-probe";
        match (landing, done.status.code()) {
            (Landing::Missed, Some(0)) => {}
            (_, Some(1)) if done.stderr.contains("could not check") => {
                self.starts -= 1; // it never launched
                same_bytes(&file, &before, what)?;
            }
            _ => {
                return Err(violation!(
                    "{what}: expected exit 1 (could not check) or a normal run, got {}: {}",
                    describe(&done.status),
                    done.stderr
                ));
            }
        }
        self.note(what, Some(landing));
        Ok(format!("{what} → {}", describe(&done.status)))
    }

    pub(super) fn full_disk_backup_cycle(&mut self) -> Result<String, Violation> {
        let before = backups::list(&self.dir);
        let args = self.run_args();
        let child = self.spawn_with_env(&args, &[(crate::util::NO_SPACE_ENV, "backups".into())])?;
        self.starts += 1;
        let done = wait(child)?;
        let what = "full-disk-backup";
        if !done.status.success() {
            return Err(violation!(
                "{what}: a run with no room for backups should still end well, got {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        let after: Vec<PathBuf> = backups::list(&self.dir)
            .into_iter()
            .map(|b| b.path)
            .collect();
        if let Some(lost) = before.iter().find(|b| !after.contains(&b.path)) {
            return Err(violation!(
                "{what}: the verified backup {} was removed though no new one was written",
                lost.path.display()
            ));
        }
        self.expect_final_checkpoint_matches(&done)?;
        self.note(what, None);
        Ok(format!("{what} → exit 0, {} backups kept", after.len()))
    }

    /// Damages the tortured file in one of four ways; None if there is no
    /// file or no backup to come back to.
    fn damage_the_file(&mut self) -> Result<Option<Vec<u8>>, Violation> {
        let file = checkpoint_path(&self.dir);
        let Ok(good) = std::fs::read(&file) else {
            return Ok(None);
        };
        if backups::list(&self.dir).is_empty() {
            return Ok(None);
        }
        let mut bad = good.clone();
        match self.rng.u32(0..4) {
            0 => bad.clear(),
            1 => {
                let n = bad.len().min(4096);
                bad[..n].fill(self.rng.u8(..));
            }
            2 => bad.truncate(self.rng.usize(0..good.len())),
            _ => {
                let step = self.rng.usize(300..700);
                for i in (0..bad.len()).step_by(step) {
                    bad[i] ^= 1 << self.rng.u32(0..8);
                }
            }
        }
        std::fs::write(&file, &bad).map_err(|e| e.to_string())?;
        Ok(Some(bad))
    }

    /// A run on the tortured dir must refuse with exit 4 and the recover
    /// command.
    fn expect_refused_with_hint(&mut self, what: &str) -> Result<(), Violation> {
        let args = self.run_args();
        let done = wait(self.spawn(&args, None)?)?;
        if done.status.code() != Some(4) || !done.stderr.contains("fizzflow recover --state-dir") {
            return Err(violation!(
                "{what}: a run should refuse with exit 4 and the recover command, got {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        Ok(())
    }

    /// Runs `recover` (it must succeed), checks the file it set aside, and
    /// takes the restored cut as the new reference.
    fn recover_and_take(&mut self, what: &str, bad: Option<&[u8]>) -> Result<String, Violation> {
        let done = self.command(&["recover"], &self.dir)?;
        if !done.status.success() {
            return Err(violation!(
                "{what}: recover failed ({}): {}",
                describe(&done.status),
                done.stderr
            ));
        }
        if let Some(bad) = bad {
            // The damaged file was kept; the torture tidies it away.
            let kept = kept_files(&self.dir)
                .into_iter()
                .find(|p| p.to_string_lossy().contains("checkpoints.redb.damaged-"))
                .ok_or_else(|| format!("{what}: the damaged file was not kept"))?;
            same_bytes(&kept, bad, what)?;
        }
        self.take_restored(what)
    }

    /// The restored cut, which may not be ahead of what the file had.
    fn take_restored(&mut self, what: &str) -> Result<String, Violation> {
        for kept in kept_files(&self.dir) {
            let _ = std::fs::remove_file(kept);
        }
        let v = self.stats_json()?;
        let number = |key: &str| v[key].as_u64().unwrap_or(0);
        let restored = Snapshot {
            messages: number("messages"),
            launches: number("launches"),
            beats: number("beats"),
            beats_target: number("beats_target"),
        };
        if restored.messages > self.last.messages || restored.launches > self.last.launches {
            return Err(violation!(
                "{what}: the restored backup is ahead of the file it replaced: {v}"
            ));
        }
        self.last = restored;
        Ok(format!(
            "{what} → restored launch {} ({} messages)",
            restored.launches, restored.messages
        ))
    }
}

/// What recover keeps beside the checkpoint file (the replaced or damaged
/// file, a copy a killed restore left waiting).
fn kept_files(dir: &std::path::Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap_or_default().to_string_lossy();
                    name.starts_with("checkpoints.redb.")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The names in a state dir and its backups folder.
fn names(dir: &std::path::Path) -> Vec<String> {
    let mut all = Vec::new();
    for d in [dir.to_path_buf(), backups::dir_of(dir)] {
        if let Ok(entries) = std::fs::read_dir(&d) {
            all.extend(entries.flatten().map(|e| e.path().display().to_string()));
        }
    }
    all.sort();
    all
}

/// The probe child of a run (the child of its checker process), once it
/// exists.
fn find_probe(run: u32, limit: Duration) -> Option<u32> {
    let deadline = std::time::Instant::now() + limit;
    while std::time::Instant::now() < deadline {
        for checker in children(run) {
            if let Some(&probe) = children(checker).first() {
                return Some(probe);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    None
}

fn children(pid: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let child: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let ppid: u32 = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            (ppid == pid).then_some(child)
        })
        .collect()
}
