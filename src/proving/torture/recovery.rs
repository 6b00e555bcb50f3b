//! The fault kind "damage then recover": the tortured dir's own checkpoint
//! file is damaged; a run must refuse it untouched and name the way out,
//! `fizzflow recover` must restore the newest verified backup and keep the
//! damaged file, and from the restored cut every invariant must hold again
//! (the totals go back to the backup's, and the work after it is redone).

use super::{Engine, Snapshot, describe, same_bytes, wait};
use crate::durable::backups;
use crate::durable::inspect::checkpoint_path;

impl Engine {
    pub(super) fn damage_recover_cycle(&mut self) -> Result<String, String> {
        let file = checkpoint_path(&self.dir);
        let Ok(good) = std::fs::read(&file) else {
            return Ok("damage-recover: no file yet, nothing to damage".into());
        };
        if backups::list(&self.dir).is_empty() {
            return Ok("damage-recover: no backup yet (the second launch makes one)".into());
        }
        let mut bad = good.clone();
        let kind = match self.rng.u32(0..4) {
            0 => {
                bad.clear();
                "zero-length"
            }
            1 => {
                let n = bad.len().min(4096);
                bad[..n].fill(self.rng.u8(..));
                "garbage header"
            }
            2 => {
                bad.truncate(self.rng.usize(0..good.len()));
                "truncated"
            }
            _ => {
                let step = self.rng.usize(300..700);
                for i in (0..bad.len()).step_by(step) {
                    bad[i] ^= 1 << self.rng.u32(0..8);
                }
                "flipped throughout"
            }
        };
        std::fs::write(&file, &bad).map_err(|e| e.to_string())?;
        let what = format!("damage-recover ({kind})");

        let args = self.run_args();
        let done = wait(self.spawn(&args, None)?)?;
        if done.status.code() != Some(4) || !done.stderr.contains("fizzflow recover --state-dir") {
            return Err(format!(
                "{what}: a run should refuse with exit 4 and the recover command, got {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        same_bytes(&file, &bad, &what)?;

        let done = self.command(&["recover"], &self.dir)?;
        if !done.status.success() {
            return Err(format!(
                "{what}: recover failed ({}): {}",
                describe(&done.status),
                done.stderr
            ));
        }
        // The damaged file was kept; the torture tidies it away.
        let kept = std::fs::read_dir(&self.dir)
            .map_err(|e| e.to_string())?
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().contains("checkpoints.redb.damaged-"))
            .ok_or_else(|| format!("{what}: the damaged file was not kept"))?;
        same_bytes(&kept, &bad, &what)?;
        let _ = std::fs::remove_file(&kept);

        let v = self.stats_json()?;
        let number = |key: &str| v[key].as_u64().unwrap_or(0);
        let restored = Snapshot {
            messages: number("messages"),
            launches: number("launches"),
            beats: number("beats"),
            beats_target: number("beats_target"),
        };
        if restored.messages > self.last.messages || restored.launches > self.last.launches {
            return Err(format!(
                "{what}: the restored backup is ahead of the file it replaced: {v}"
            ));
        }
        // The totals went back to the backup's cut, legitimately: the
        // invariants hold from there.
        let line = format!(
            "{what} → exit 4, restored launch {} ({} messages)",
            restored.launches, restored.messages
        );
        self.last = restored;
        self.note("damage-recover", None);
        Ok(line)
    }
}
