//! The faults, one cycle each. Kills are timed against the run itself: a
//! kill "at random" waits for the run's launch line and then for a share of
//! the beats it has left, so that it lands while the pipeline runs.

use super::{Engine, Landing, Violation, confirm, describe, same_bytes, wait};
use crate::durable::inspect::checkpoint_path;
use serde_json::Value;
use std::time::Duration;

/// How long a run may take to record its launch before the torture stops
/// waiting for it (it is then killed wherever it is).
const LAUNCH_WAIT: Duration = Duration::from_secs(30);

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

impl Engine {
    pub(super) fn kill_cycle(&mut self) -> Result<String, Violation> {
        let kind = ["kill-at-start", "kill-random", "kill-during-drain"][self.rng.usize(0..3)];
        let expected = self.expected_run_ms();
        let mut args = self.run_args();
        // A slow final commit, so that a kill after SIGTERM finds the run
        // still draining and writing its last checkpoint.
        let drain_ms = 20 + self.rng.u64(0..80);
        if kind == "kill-during-drain" {
            args.push("--inject-delay".into());
            args.push(format!("checkpoint:{}", drain_ms * 1000).into());
        }
        let mut child = self.spawn_run(&args, None)?;
        let (landing, when) = match kind {
            "kill-at-start" => {
                let ms = self.log_uniform_ms(40);
                sleep_ms(ms);
                (
                    self.hit(&mut child, libc::SIGKILL),
                    format!("{ms} ms after start"),
                )
            }
            "kill-random" => {
                child.wait_for_marker(LAUNCH_WAIT);
                let ms = self.rng.u64(0..=expected * 9 / 10);
                sleep_ms(ms);
                (
                    self.hit(&mut child, libc::SIGKILL),
                    format!("{ms} ms after launch"),
                )
            }
            _ => {
                child.wait_for_marker(LAUNCH_WAIT);
                let ms = self.rng.u64(0..=expected / 2);
                sleep_ms(ms);
                self.hit(&mut child, libc::SIGTERM);
                let after = self.rng.u64(0..=drain_ms);
                sleep_ms(after);
                (
                    self.hit(&mut child, libc::SIGKILL),
                    format!("{after} ms after SIGTERM"),
                )
            }
        };
        let done = wait(child)?;
        let landing = confirm(landing, &done.status);
        self.note(kind, Some(landing));
        Ok(format!("{kind} {when} → {}", describe(&done.status)))
    }

    pub(super) fn graceful_cycle(&mut self) -> Result<String, Violation> {
        let (kind, sig) = if self.rng.bool() {
            ("sigterm", libc::SIGTERM)
        } else {
            ("sigint", libc::SIGINT)
        };
        let window = self.expected_run_ms() + 50;
        let args = self.run_args();
        let mut child = self.spawn_run(&args, None)?;
        let ms = self.log_uniform_ms(window);
        sleep_ms(ms);
        let landing = self.hit(&mut child, sig);
        let done = wait(child)?;
        if !done.status.success() {
            return Err(violation!(
                "{kind} {ms} ms after start: expected exit 0, got {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        self.expect_final_checkpoint_matches(&done)?;
        let said = format!("fizzflow: {}", crate::util::output::RUN_STOPPING);
        let landing = if done.stderr.contains(&said) {
            landing
        } else {
            Landing::Missed
        };
        self.note(kind, Some(landing));
        Ok(format!(
            "{kind} {ms} ms after start → exit 0, final checkpoint matches"
        ))
    }

    pub(super) fn panic_cycle(&mut self) -> Result<String, Violation> {
        let expected = self.expected_run_ms();
        let mut args = self.run_args();
        let mut named = Vec::new();
        for (actor, lo, hi) in [
            ("heartbeat", 20, 200),
            ("generator", 50_000, 400_000),
            ("worker", 50_000, 400_000),
            ("logger", 50_000, 400_000),
        ] {
            if self.rng.u32(0..100) < 45 || (actor == "logger" && named.is_empty()) {
                let every = self.rng.u64(lo..hi);
                args.push("--inject-panic".into());
                args.push(format!("{actor}:{every}").into());
                named.push(actor);
            }
        }
        let mut child = self.spawn_run(&args, None)?;
        let killed = self.rng.bool().then(|| {
            child.wait_for_marker(LAUNCH_WAIT);
            sleep_ms(self.rng.u64(0..=expected * 9 / 10));
            self.hit(&mut child, libc::SIGKILL)
        });
        let done = wait(child)?;
        self.note("panics", None);
        match killed {
            Some(landing) => {
                let landing = confirm(landing, &done.status);
                self.note("kill-with-panics", Some(landing));
            }
            None => {
                if !done.status.success() {
                    return Err(violation!(
                        "panics {named:?}: expected exit 0, got {}: {}",
                        describe(&done.status),
                        done.stderr
                    ));
                }
                self.expect_final_checkpoint_matches(&done)?;
            }
        }
        Ok(format!(
            "panics in {named:?}{} → {}",
            if killed.is_some() { " + kill" } else { "" },
            describe(&done.status)
        ))
    }

    pub(super) fn abort_cycle(&mut self) -> Result<String, Violation> {
        let n = 1 + self.rng.u64(0..6);
        let mut args = self.run_args();
        args.push("--inject-abort".into());
        args.push(format!("checkpoint:{n}").into());
        let child = self.spawn_run(&args, None)?;
        let done = wait(child)?;
        let aborted = done.status.code().is_none();
        if !aborted && !done.status.success() {
            return Err(violation!(
                "abort at commit {n}: unexpected {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        self.note("checkpoint-abort", None);
        Ok(format!(
            "abort inside commit {n} → {}",
            describe(&done.status)
        ))
    }

    pub(super) fn disk_full_cycle(&mut self) -> Result<String, Violation> {
        let file = checkpoint_path(&self.dir);
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let limit = (size + self.rng.u64(0..64 * 1024)).max(4096);
        let args = self.run_args();
        let child = self.spawn_run(&args, Some(limit))?;
        let done = wait(child)?;
        match done.status.code() {
            Some(0) => {}
            Some(1) if done.stderr.contains("File too large") => {}
            _ => {
                return Err(violation!(
                    "disk full (limit {limit} bytes): expected exit 0 or a clear error, got {}: {}",
                    describe(&done.status),
                    done.stderr
                ));
            }
        }
        self.note("disk-full", None);
        Ok(format!(
            "disk full at {limit} bytes → {}",
            describe(&done.status)
        ))
    }

    pub(super) fn damaged_file_cycle(&mut self) -> Result<String, Violation> {
        let Ok(good) = std::fs::read(checkpoint_path(&self.dir)) else {
            return Ok("damaged file: no file yet, nothing to damage".into());
        };
        let (kind, bad) = match self.rng.u32(0..4) {
            0 => {
                let len = self.rng.usize(1..4097);
                ("garbage-file", (0..len).map(|_| self.rng.u8(..)).collect())
            }
            1 => (
                "truncated-file",
                good[..self.rng.usize(0..good.len())].to_vec(),
            ),
            2 => ("zero-length-file", Vec::new()),
            _ => {
                let mut b = good.clone();
                for _ in 0..self.rng.u32(1..9) {
                    let at = self.rng.usize(0..b.len());
                    b[at] ^= 1 << self.rng.u32(0..8);
                }
                ("flipped-bytes", b)
            }
        };
        let dir = self.scratch.path().join(format!("damaged-{}", self.starts));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let target = checkpoint_path(&dir);
        std::fs::write(&target, &bad).map_err(|e| e.to_string())?;
        let reference = self.stats_json()?;

        let stats = self.command(&["stats", "--json"], &dir)?;
        let accepted = match stats.status.code() {
            Some(4) => false,
            Some(0) => {
                // The damage missed everything that is read: the totals must
                // be exactly those of the undamaged file.
                let mut v: Value =
                    serde_json::from_str(stats.stdout.trim()).map_err(|e| e.to_string())?;
                // The copy's dir has no backups; the file's totals must match.
                let mut reference = reference.clone();
                for j in [&mut v, &mut reference] {
                    if let Some(o) = j.as_object_mut() {
                        o.remove("backups");
                    }
                }
                if v != reference {
                    return Err(violation!(
                        "{kind}: a damaged file read as different totals: {v} vs {reference}"
                    ));
                }
                true
            }
            _ => {
                return Err(violation!(
                    "{kind}: stats gave {}: {}",
                    describe(&stats.status),
                    stats.stderr
                ));
            }
        };
        if !accepted {
            same_bytes(&target, &bad, kind)?;
            let mut args = self.run_args();
            let at = args
                .iter()
                .position(|a| a == "--state-dir")
                .expect("state dir flag")
                + 1;
            args[at] = dir.clone().into_os_string();
            let done = wait(self.spawn(&args, None)?)?;
            if done.status.code() != Some(4) || !done.stderr.contains("left exactly as it was") {
                return Err(violation!(
                    "{kind}: run should refuse with exit 4, got {}: {}",
                    describe(&done.status),
                    done.stderr
                ));
            }
            same_bytes(&target, &bad, kind)?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        self.note(kind, None);
        Ok(format!(
            "{kind} ({} bytes) → {}",
            bad.len(),
            if accepted {
                "harmless, same totals"
            } else {
                "refused, untouched"
            }
        ))
    }

    pub(super) fn bad_dir_cycle(&mut self) -> Result<String, Violation> {
        let plain = self.scratch.path().join(format!("plain-{}", self.starts));
        std::fs::write(&plain, b"not a directory").map_err(|e| e.to_string())?;
        let target = if self.rng.bool() {
            plain.clone()
        } else {
            plain.join("under")
        };
        for sub in [
            &["stats", "--json"][..],
            &[
                "run",
                "--rate",
                "0",
                "--beats",
                "1",
                "--no-telemetry",
                "--progress",
                "off",
                "--no-metrics",
            ][..],
        ] {
            let done = self.command(sub, &target)?;
            if done.status.code() != Some(4) || !done.stderr.contains("state dir") {
                return Err(violation!(
                    "state dir {}: expected exit 4, got {}: {}",
                    target.display(),
                    describe(&done.status),
                    done.stderr
                ));
            }
        }
        same_bytes(&plain, b"not a directory", "bad state dir")?;
        self.note("bad-state-dir", None);
        Ok(format!(
            "state dir is {} → exit 4",
            if target == plain {
                "a file"
            } else {
                "under a file"
            }
        ))
    }

    pub(super) fn race_cycle(&mut self) -> Result<String, Violation> {
        let args = self.run_args();
        let mut a = self.spawn_run(&args, None)?;
        let mut b = self.spawn_run(&args, None)?;
        // Whoever lost exits at once with 3; the winner runs (maybe killed,
        // but only once the loser is out: killing both first proves nothing).
        sleep_ms(self.rng.u64(0..=800));
        if self.rng.u32(0..100) < 60 {
            let deadline = std::time::Instant::now() + LAUNCH_WAIT;
            while a.running() && b.running() && std::time::Instant::now() < deadline {
                sleep_ms(1);
            }
            self.hit(&mut a, libc::SIGKILL);
            self.hit(&mut b, libc::SIGKILL);
        }
        let (a, b) = (wait(a)?, wait(b)?);
        let codes = [a.status.code(), b.status.code()];
        let losers = codes.iter().filter(|c| **c == Some(3)).count();
        if losers != 1 {
            return Err(violation!(
                "two at once: exactly one must exit 3, got {} and {}\n{}\n{}",
                describe(&a.status),
                describe(&b.status),
                a.stderr,
                b.stderr
            ));
        }
        self.starts -= 1; // the loser never launched
        self.note("two-at-once", None);
        Ok(format!(
            "two at once → {} and {}",
            describe(&a.status),
            describe(&b.status)
        ))
    }
}
