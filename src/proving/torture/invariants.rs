//! What must hold after every fault, and at the end:
//!
//! - `fizzflow stats --json` succeeds and the totals never go backwards;
//! - every kept checkpoint is a consistent cut: closed form over
//!   `[0, messages)`, whole beats, no sequence errors, one history;
//! - `launches` never exceeds the starts;
//! - a graceful stop's printed summary is exactly its final checkpoint;
//! - at the end, a clean finish has exactly the totals of one
//!   uninterrupted run.

use super::{Engine, Snapshot, Violation, describe, wait};
use crate::durable::inspect::{self, checkpoint_path};
use crate::pipeline::message::KindCounts;
use crate::util::child::Finished;
use serde_json::Value;

impl Engine {
    /// A graceful stop's printed summary is exactly what its final
    /// checkpoint holds.
    pub(super) fn expect_final_checkpoint_matches(&self, done: &Finished) -> Result<(), Violation> {
        let printed: Value = serde_json::from_str(done.stdout.trim())
            .map_err(|e| format!("no JSON summary: {e}"))?;
        let stored = self.stats_json()?;
        for key in [
            "messages",
            "fizz",
            "buzz",
            "fizzbuzz",
            "value",
            "beats",
            "beats_target",
            "restarts",
        ] {
            if printed[key] != stored[key] {
                return Err(violation!(
                    "final checkpoint {key} = {} but the run printed {}",
                    stored[key],
                    printed[key]
                ));
            }
        }
        Ok(())
    }

    /// The checks after every fault, on the tortured state dir.
    pub(super) fn check_invariants(&mut self) -> Result<Value, Violation> {
        let file = checkpoint_path(&self.dir);
        if !file.exists() {
            return Ok(
                serde_json::json!({"messages": 0, "beats": 0, "beats_target": 0, "launches": 0}),
            );
        }
        let v = self.stats_json()?;
        let number = |key: &str| v[key].as_u64().unwrap_or(0);
        let now = Snapshot {
            messages: number("messages"),
            launches: number("launches"),
            beats: number("beats"),
            beats_target: number("beats_target"),
        };
        if now.messages < self.last.messages {
            return Err(violation!(
                "messages went backwards: {} → {}",
                self.last.messages,
                now.messages
            ));
        }
        if now.launches < self.last.launches || now.launches > self.starts {
            return Err(violation!(
                "launches {} after {} (and {} starts)",
                now.launches,
                self.last.launches,
                self.starts
            ));
        }
        self.last = now;
        // Every launch is on record, and what they added is the lifetime.
        let launches = self.command(&["stats", "--launches", "--json"], &self.dir)?;
        let rows: Vec<Value> = serde_json::from_str(launches.stdout.trim()).map_err(|e| {
            format!(
                "stats --launches --json printed no JSON: {e}: {}",
                launches.stderr
            )
        })?;
        let added: Option<u64> = rows.iter().map(|r| r["added_messages"].as_u64()).sum();
        if rows.len() as u64 != now.launches || added != Some(now.messages) {
            return Err(violation!(
                "{} launch rows adding up to {added:?} messages, for {} launches and {} messages",
                rows.len(),
                now.launches,
                now.messages
            ));
        }
        let seen = inspect::inspect(&file).map_err(|e| e.to_string())?.seen;
        // Each record was checked on reading (closed form when error-free,
        // whole beats, one history); here no record may hold an error at all.
        for r in &seen.history {
            if r.logger.sequence_errors != 0 {
                return Err(violation!(
                    "checkpoint {} has {} sequence errors",
                    r.seq,
                    r.logger.sequence_errors
                ));
            }
        }
        Ok(v)
    }

    /// No more faults: finish the run and check it is exactly one
    /// uninterrupted run's result.
    pub(super) fn finish_cleanly(&mut self) -> Result<(), Violation> {
        if self.pods.is_some() {
            self.pods_ready()?;
        }
        let mut args = self.run_args();
        let rate = args.iter().position(|a| a == "--rate").expect("a rate") + 1;
        args[rate] = "0".into(); // unpaced: finish quickly
        let child = self.spawn_run(&args, None)?;
        let done = wait(child)?;
        if !done.status.success() {
            return Err(violation!(
                "the clean finish failed: {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        self.expect_final_checkpoint_matches(&done)?;
        let v = self.check_invariants()?;
        let (messages, beats, target) = (
            v["messages"].as_u64().unwrap_or(0),
            v["beats"].as_u64().unwrap_or(0),
            v["beats_target"].as_u64().unwrap_or(0),
        );
        if beats != target || messages != beats * crate::pipeline::config::beat_size(256) {
            return Err(violation!("after the clean finish: {v}"));
        }
        let counts = KindCounts::closed_form(messages);
        if v["fizz"] != counts.fizz
            || v["buzz"] != counts.buzz
            || v["fizzbuzz"] != counts.fizzbuzz
            || v["value"] != counts.value
        {
            return Err(violation!("final totals are not the closed form: {v}"));
        }
        if v["sequence_errors"] != 0 {
            return Err(violation!("final sequence errors: {v}"));
        }
        Ok(())
    }
}
