//! The rules every stored record keeps, and the checks that hold a record
//! (and each record against the one before it) to them. A checksum only
//! proves the bytes are the ones written; these prove they describe a state
//! fizzflow could have been in.

use crate::durable::record::CheckpointRecord;
use crate::pipeline::config::{MAX_CHANNEL_CAPACITY, MAX_MESSAGES, check_geometry, max_beats};
use crate::pipeline::message::KindCounts;

/// Sequence numbers, launches and checkpoints stay far below this (a
/// checkpoint a millisecond for a million years is 2^45), so adding one
/// never overflows.
const MAX_COUNT: u64 = 1 << 53;

/// Run time a state dir may hold: 2^32 s, 136 years. No pipeline started
/// after 1970 has run longer (until 2106), and the ledger stops adding at
/// this bound, so no run can write a record the next read would refuse.
pub const MAX_RUN_SECS: f64 = 4_294_967_296.0;

/// The latest wall-clock time a record may carry: the end of year 9999.
const MAX_UNIX_MS: u64 = 253_402_300_799_999;

/// Duplicates one restart can cause: an actor that panics between sending
/// and taking re-sends at most a channel's worth, and no channel is larger.
/// (Counted over every actor's restarts, whichever actors a build has.)
const DUPLICATES_PER_RESTART: u64 = MAX_CHANNEL_CAPACITY;

/// A rule every stored record keeps. A record that breaks one is refused,
/// and the refusal names the rule, so that a person (or the next
/// migration) can tell a damaged file from a rule an old release did not
/// keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Settings,
    Numbering,
    Launches,
    RunTime,
    Clock,
    Restarts,
    Target,
    WholeBeats,
    Position,
    KindTotals,
    Batches,
    Duplicates,
    ClosedForm,
    BrokenStream,
    Order,
    FixedWorkerBatch,
    Onward,
    RunTimeOnward,
}

impl Rule {
    /// The rule in words, as the refusal names it.
    pub fn words(self) -> &'static str {
        match self {
            Rule::Settings => "settings a flag could ask for",
            Rule::Numbering => "one sequence number per checkpoint written",
            Rule::Launches => "no more launches than checkpoints",
            Rule::RunTime => "a run time of 0 to 136 years",
            Rule::Clock => "written before the year 10000",
            Rule::Restarts => "restarts a process could count",
            Rule::Target => "beats within a target that fits",
            Rule::WholeBeats => "messages = beats × 32 × worker batch",
            Rule::Position => "the generator resumes at the logger's next value",
            Rule::KindTotals => "the kinds add up to the messages",
            Rule::Batches => "batches and errors within the messages",
            Rule::Duplicates => "duplicates only from the re-sends of restarts",
            Rule::ClosedForm => "a clean stream holds the values [0, messages)",
            Rule::BrokenStream => "a broken stream is what its errors explain",
            Rule::Order => "one history, in commit order",
            Rule::FixedWorkerBatch => "one worker batch for the state dir's life",
            Rule::Onward => "messages and launches never go back",
            Rule::RunTimeOnward => "run time never goes back",
        }
    }

    fn broken(self, detail: impl Into<String>) -> Broken {
        Broken {
            rule: self,
            detail: detail.into(),
        }
    }
}

/// A record that breaks a [`Rule`], and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broken {
    pub rule: Rule,
    pub detail: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "breaks the rule \"{}\": {}",
            self.rule.words(),
            self.detail
        )
    }
}

impl std::error::Error for Broken {}

impl CheckpointRecord {
    /// The invariants every record must satisfy, checked when a file is
    /// opened and by the tests. A checksum only proves the bytes are the ones
    /// written; this proves they describe a state fizzflow could have been
    /// in, so that no stored value can crash a run, overflow, or resume
    /// from totals off the closed form.
    pub fn check(&self) -> Result<(), Broken> {
        let s = &self.settings;
        check_geometry(
            s.generator_batch,
            s.worker_batch,
            s.logger_batch,
            s.channel_capacity,
        )
        .map_err(|e| Rule::Settings.broken(e.to_string()))?;
        if self.seq == 0 || self.seq > MAX_COUNT || self.checkpoints != self.seq {
            return Err(Rule::Numbering.broken(format!(
                "sequence number {} with {} checkpoints written",
                self.seq, self.checkpoints
            )));
        }
        if self.launches == 0 || self.launches > self.seq {
            return Err(Rule::Launches.broken(format!(
                "{} launches in {} checkpoints",
                self.launches, self.seq
            )));
        }
        if !(self.run_secs.is_finite() && (0.0..=MAX_RUN_SECS).contains(&self.run_secs)) {
            return Err(Rule::RunTime.broken(format!("run time {} s", self.run_secs)));
        }
        if self.unix_ms > MAX_UNIX_MS {
            return Err(Rule::Clock.broken(format!("written at {} ms", self.unix_ms)));
        }
        let r = &self.restarts;
        if r.most() > MAX_COUNT {
            return Err(Rule::Restarts.broken(format!("restarts {r:?}")));
        }
        let beat = s.beat_size();
        if self.beats_target > max_beats(beat) || self.beats > self.beats_target {
            return Err(Rule::Target.broken(format!(
                "beats {} of target {} (at most {} beats of {beat} messages fit)",
                self.beats,
                self.beats_target,
                max_beats(beat)
            )));
        }
        let l = &self.logger;
        let n = l.messages;
        if Some(n) != self.beats.checked_mul(beat) {
            return Err(
                Rule::WholeBeats.broken(format!("messages {n} ≠ beats {} × {beat}", self.beats))
            );
        }
        if self.generator_position != l.next_expected {
            return Err(Rule::Position.broken(format!(
                "generator position {} ≠ logger's next value {}",
                self.generator_position, l.next_expected
            )));
        }
        if l.counts.checked_total() != Some(n) {
            return Err(Rule::KindTotals.broken(format!("the kinds do not add up to {n}")));
        }
        if l.batches > n || l.max_batch > n || l.sequence_errors > n {
            return Err(Rule::Batches.broken(format!(
                "{} batches (largest {}) and {} sequence errors in {n} messages",
                l.batches, l.max_batch, l.sequence_errors
            )));
        }
        let resends = r.total();
        if l.duplicates_dropped
            > resends
                .saturating_mul(DUPLICATES_PER_RESTART)
                .min(MAX_COUNT)
        {
            return Err(Rule::Duplicates.broken(format!(
                "{} duplicates dropped after {resends} restarts of the actors that re-send",
                l.duplicates_dropped
            )));
        }
        if l.sequence_errors == 0 {
            // A clean stream is exactly [0, n): nothing else can be resumed.
            if l.next_expected != n || l.counts != KindCounts::closed_form(n) {
                return Err(Rule::ClosedForm.broken(format!(
                    "the counts are not those of the values [0, {n}) (next value {})",
                    l.next_expected
                )));
            }
        } else if l.next_expected < n
            || (self.beats_target - self.beats)
                .checked_mul(beat)
                .and_then(|rest| l.next_expected.checked_add(rest))
                .is_none_or(|last| last > MAX_MESSAGES)
        {
            // The logger's honest account of a broken stream: a gap moves the
            // next value past the count, nothing moves it below, and the
            // values still to come must not wrap.
            return Err(Rule::BrokenStream.broken(format!(
                "next value {} after {n} messages with sequence errors",
                l.next_expected
            )));
        } else {
            // Each error is one message of a wrong kind or one jump past
            // skipped values; every kind count is then that of the values
            // [0, next) give or take those messages and the skipped values,
            // and no further: a count off by more is no logger's account.
            let reach = l.sequence_errors.saturating_add(l.next_expected - n);
            let exact = KindCounts::closed_form(l.next_expected);
            let off = |a: u64, b: u64| a.abs_diff(b) > reach;
            let (c, e) = (&l.counts, &exact);
            if off(c.fizz, e.fizz)
                || off(c.buzz, e.buzz)
                || off(c.fizzbuzz, e.fizzbuzz)
                || off(c.value, e.value)
            {
                return Err(Rule::BrokenStream.broken(format!(
                    "kind counts further from those of the values [0, {}) than {} sequence errors and {} skipped values explain",
                    l.next_expected,
                    l.sequence_errors,
                    l.next_expected - n
                )));
            }
        }
        Ok(())
    }

    /// The invariants between consecutive records of one file: one history,
    /// in commit order, that never goes back, with one worker batch.
    pub fn check_follows(&self, previous: &CheckpointRecord) -> Result<(), Broken> {
        if self.seq != previous.seq + 1 {
            return Err(Rule::Order.broken(format!(
                "checkpoint {} follows checkpoint {}",
                self.seq, previous.seq
            )));
        }
        if self.settings.worker_batch != previous.settings.worker_batch {
            return Err(Rule::FixedWorkerBatch.broken(format!(
                "worker batch {} after {}",
                self.settings.worker_batch, previous.settings.worker_batch
            )));
        }
        if self.logger.messages < previous.logger.messages {
            return Err(Rule::Onward.broken(format!(
                "{} messages after {} at checkpoint {}",
                self.logger.messages, previous.logger.messages, previous.seq
            )));
        }
        if self.launches < previous.launches {
            return Err(Rule::Onward.broken(format!(
                "{} launches after {} at checkpoint {}",
                self.launches, previous.launches, previous.seq
            )));
        }
        if self.run_secs < previous.run_secs {
            return Err(Rule::RunTimeOnward.broken(format!(
                "run time {} s after {} s at checkpoint {}",
                self.run_secs, previous.run_secs, previous.seq
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::ledger::Ledger;
    use crate::pipeline::config::PipelineConfig;
    use crate::pipeline::message::FizzBuzzMsg;
    use crate::pipeline::stats::{LoggerStats, Restarts};
    use std::time::Instant;

    #[test]
    fn check_catches_an_inconsistent_cut() {
        let cfg = PipelineConfig::default();
        let mut rec = Ledger::launch(None, &cfg);
        rec.logger.messages = 100;
        assert_eq!(rec.check().unwrap_err().rule, Rule::WholeBeats);
    }

    /// A record two beats into a run, as a launch's cut would make it.
    fn two_beats_in() -> CheckpointRecord {
        let first = Ledger::launch(None, &PipelineConfig::default());
        let ledger = Ledger {
            base: first.clone(),
            started: Instant::now(),
        };
        let mut stats = LoggerStats::default();
        stats.absorb(&(0..2 * 8192).map(FizzBuzzMsg::new).collect::<Vec<_>>());
        stats.record_batch(8192);
        stats.record_batch(8192);
        ledger.cut(&first, &stats, Restarts::default(), Instant::now())
    }

    #[test]
    fn crafted_records_with_a_valid_checksum_are_refused() {
        let good = two_beats_in();
        good.check().expect("a real cut checks out");
        type Craft = fn(&mut CheckpointRecord);
        let cases: [(&str, Craft); 16] = [
            ("kind split off the closed form", |r| {
                r.logger.counts.fizz += 1;
                r.logger.counts.value -= 1;
            }),
            ("shifted position", |r| {
                r.logger.next_expected += 15;
                r.generator_position += 15;
            }),
            ("a channel of 2^40 slots", |r| {
                r.settings.channel_capacity = 1 << 40
            }),
            ("a worker batch of 0", |r| r.settings.worker_batch = 0),
            ("more beats than the target", |r| r.beats_target = 1),
            ("a target no count can reach", |r| r.beats_target = u64::MAX),
            ("sequence number 0", |r| {
                r.seq = 0;
                r.checkpoints = 0;
            }),
            ("more launches than checkpoints", |r| r.launches = 99),
            ("a negative run time", |r| r.run_secs = -1.0),
            ("a run time past any", |r| r.run_secs = f64::MAX),
            ("restarts past any count", |r| {
                r.restarts.set("worker", u64::MAX)
            }),
            // Issue 21, item 9: values with a valid checksum that no run
            // produces, each of which a run then carried on with.
            ("duplicates that would wrap", |r| {
                r.logger.duplicates_dropped = u64::MAX
            }),
            ("duplicates with no restart to re-send them", |r| {
                r.logger.duplicates_dropped = 1
            }),
            ("a run time of 31,700 years", |r| r.run_secs = 1e12),
            ("a clock past the year 9999", |r| r.unix_ms = u64::MAX),
            ("one sequence error and the kinds two off", |r| {
                r.logger.sequence_errors = 1;
                r.logger.counts.fizz += 2;
                r.logger.counts.value -= 2;
            }),
        ];
        for (what, craft) in cases {
            let mut bad = good.clone();
            craft(&mut bad);
            let decoded = CheckpointRecord::decode(&bad.encode()).expect("checksum is valid");
            assert!(decoded.check().is_err(), "{what} was accepted");
        }
    }

    #[test]
    fn what_a_logger_can_record_of_a_broken_stream_is_accepted() {
        let good = two_beats_in();
        // One message of the wrong kind: one error, the kinds one off.
        let mut wrong_kind = good.clone();
        wrong_kind.logger.sequence_errors = 1;
        wrong_kind.logger.counts.fizz += 1;
        wrong_kind.logger.counts.value -= 1;
        wrong_kind.check().expect("a wrong kind the logger counted");
        // One jump past 15 values: the next value moves on, and the kinds
        // are those of [0, next) without 15 values.
        let mut jump = good.clone();
        let n = jump.logger.messages;
        jump.logger.sequence_errors = 1;
        jump.logger.next_expected = n + 15;
        jump.generator_position = n + 15;
        let mut counts = KindCounts::closed_form(10);
        counts.add_counts(&KindCounts::of_range(25, n + 15));
        jump.logger.counts = counts;
        jump.check().expect("a jump the logger counted");
        // A worker restart can re-send what it had not taken.
        let mut resent = good.clone();
        resent.restarts.set("worker", 1);
        resent.logger.duplicates_dropped = 256;
        resent.check().expect("duplicates of one restart");
    }

    #[test]
    fn no_bytes_make_the_decoder_or_the_checks_panic() {
        let mut rng = fastrand::Rng::with_seed(0xF122_F10B);
        let good = two_beats_in();
        let body = bincode::serde::encode_to_vec(&good, bincode::config::standard()).unwrap();
        let later = {
            let mut r = good.clone();
            r.seq += 1;
            r.checkpoints += 1;
            r
        };
        for round in 0..50_000 {
            let bytes = if round % 2 == 0 {
                // Arbitrary bytes, most of which fail the checksum.
                let len = rng.usize(0..120);
                (0..len).map(|_| rng.u8(..)).collect()
            } else {
                // A real record's body, mutated, with a checksum that matches:
                // what a bug or an attacker could store.
                let mut b = body.clone();
                for _ in 0..rng.usize(1..5) {
                    match rng.u8(0..4) {
                        0 if !b.is_empty() => {
                            let at = rng.usize(0..b.len());
                            b[at] = rng.u8(..);
                        }
                        1 if !b.is_empty() => {
                            let at = rng.usize(0..b.len());
                            b[at] ^= 1 << rng.u8(0..8);
                        }
                        2 => b.truncate(rng.usize(0..=b.len())),
                        _ => b.push(rng.u8(..)),
                    }
                }
                let sum = crc32fast::hash(&b);
                b.extend_from_slice(&sum.to_le_bytes());
                b
            };
            let Ok(rec) = CheckpointRecord::decode(&bytes) else {
                continue;
            };
            let _ = later.check_follows(&rec);
            let _ = rec.check_follows(&good);
            if rec.check().is_ok() {
                // Whatever passed the checks is safe to run with and show.
                let next = Ledger::launch(Some(&rec), &PipelineConfig::default());
                assert!(next.seq > rec.seq);
                assert_eq!(rec.logger.messages % rec.settings.beat_size(), 0);
            }
        }
    }
}
