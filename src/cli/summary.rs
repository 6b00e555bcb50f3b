//! The summary a run prints with `--json`, and the fields of `stats
//! --json`: a contract with scripts. Its field names live here, at the
//! edge; the layers below hand over plain records.

use crate::durable::record::CheckpointRecord;
use crate::pipeline::LatencySummary;
use crate::util::units::{counted, grouped, micros, scaled, significant};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub messages: u64,
    pub fizz: u64,
    pub buzz: u64,
    pub fizzbuzz: u64,
    pub value: u64,
    pub batches: u64,
    pub max_batch: u64,
    pub beats: u64,
    pub beats_target: u64,
    pub sequence_errors: u64,
    pub duplicates_dropped: u64,
    /// The position of the next value the logger expects: where the last
    /// cut stands, and where a source pod is told to resume.
    pub cut_position: u64,
    /// Restarts per actor, by name, over the state dir's life.
    pub restarts: BTreeMap<String, u64>,
    pub elapsed_secs: f64,
    /// Messages moved in `elapsed_secs` (this launch's for `run`, the
    /// whole life's for `stats`), so the rate can be checked by hand.
    pub elapsed_messages: u64,
    pub msgs_per_sec: f64,
    /// This launch's beat latency (`run` only: it is not kept in the file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub beat_latency_us: Option<Latency>,
}

/// Beat latency percentiles, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Latency {
    pub beats: u64,
    pub p50: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

impl From<LatencySummary> for Latency {
    fn from(l: LatencySummary) -> Self {
        Latency {
            beats: l.beats,
            p50: l.p50,
            p99: l.p99,
            p99_9: l.p99_9,
            max: l.max,
        }
    }
}

impl Summary {
    /// The totals of `last`, with the time and rate of what was done since
    /// `since` (a launch record), or over the whole life when None.
    pub fn of(last: &CheckpointRecord, since: Option<&CheckpointRecord>) -> Self {
        let (secs, messages) = match since {
            Some(s) => (
                last.run_secs - s.run_secs,
                last.logger.messages - s.logger.messages,
            ),
            None => (last.run_secs, last.logger.messages),
        };
        let l = &last.logger;
        Summary {
            messages: l.messages,
            fizz: l.counts.fizz,
            buzz: l.counts.buzz,
            fizzbuzz: l.counts.fizzbuzz,
            value: l.counts.value,
            batches: l.batches,
            max_batch: l.max_batch,
            beats: last.beats,
            beats_target: last.beats_target,
            sequence_errors: l.sequence_errors,
            duplicates_dropped: l.duplicates_dropped,
            cut_position: l.next_expected,
            restarts: last
                .restarts
                .iter()
                .map(|(a, n)| (a.to_string(), n))
                .collect(),
            elapsed_secs: secs,
            elapsed_messages: messages,
            msgs_per_sec: if secs > 0.0 {
                messages as f64 / secs
            } else {
                0.0
            },
            beat_latency_us: None,
        }
    }
}

/// The summary for people: what this launch did, with a rate computed
/// from the very numbers printed beside it, then the state dir's lifetime
/// totals.
pub fn human(
    launch: &CheckpointRecord,
    last: &CheckpointRecord,
    latency: Option<LatencySummary>,
) -> String {
    let messages = last.logger.messages - launch.logger.messages;
    let beats = last.beats - launch.beats;
    let secs = significant(last.run_secs - launch.run_secs);
    let rate = match secs.parse::<f64>() {
        Ok(t) if t > 0.0 => format!(" ({} msgs/s)", scaled(messages as f64 / t)),
        _ => String::new(),
    };
    let l = &last.logger;
    let latency = latency.map_or_else(String::new, |t| {
        format!(
            "\n      beat latency p50 {} · p99 {} · p99.9 {} · max {} ({})",
            micros(t.p50),
            micros(t.p99),
            micros(t.p99_9),
            micros(t.max),
            counted(t.beats, "beat")
        )
    });
    format!(
        // Short lines: an 80-column terminal shows each whole.
        "done: this launch {}, {}, in {secs} s{rate}\n      lifetime {} messages, {}/{} beats, {} batches\n      fizz {} · buzz {} · fizzbuzz {} · value {}\n      sequence errors {} · duplicates dropped {} · restarts {}{latency}",
        counted(messages, "message"),
        counted(beats, "beat"),
        grouped(l.messages),
        grouped(last.beats),
        grouped(last.beats_target),
        grouped(l.batches),
        grouped(l.counts.fizz),
        grouped(l.counts.buzz),
        grouped(l.counts.fizzbuzz),
        grouped(l.counts.value),
        grouped(l.sequence_errors),
        grouped(l.duplicates_dropped),
        grouped(last.restarts.total()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::ledger::Ledger;
    use crate::pipeline::{FizzBuzzMsg, LoggerStats, PipelineConfig};

    #[test]
    fn the_rate_is_this_launchs_and_the_totals_the_lifetimes() {
        let first = Ledger::launch(None, &PipelineConfig::default());
        let mut last = first.clone();
        let mut stats = LoggerStats::default();
        stats.absorb(&(0..8192).map(FizzBuzzMsg::new).collect::<Vec<_>>());
        last.logger = stats;
        last.beats = 1;
        last.run_secs = 2.0;
        let mut launch = last.clone();
        launch.run_secs = 1.0;
        launch.logger.messages = 0;
        let life = Summary::of(&last, None);
        assert_eq!(
            (life.messages, life.beats, life.elapsed_messages),
            (8192, 1, 8192)
        );
        assert_eq!(life.msgs_per_sec, 4096.0);
        let this = Summary::of(&last, Some(&launch));
        assert_eq!((this.elapsed_messages, this.elapsed_secs), (8192, 1.0));
        assert_eq!(this.msgs_per_sec, 8192.0);
    }
}
