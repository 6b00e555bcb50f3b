//! The logger's verified statistics and the run summary built from them.

use crate::pipeline::message::{FizzBuzzMsg, KindCounts, classify, is_exact_run};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything the logger knows. It is plain data so it can be checkpointed
/// as one value; `next_expected` is the sequence position of the cut.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggerStats {
    pub messages: u64,
    pub counts: KindCounts,
    pub batches: u64,
    pub max_batch: u64,
    pub sequence_errors: u64,
    pub duplicates_dropped: u64,
    pub next_expected: u64,
}

impl LoggerStats {
    /// A logger that expects `position` next, with nothing counted yet
    /// (tests use it to start mid-sequence).
    pub fn starting_at(position: u64) -> Self {
        LoggerStats {
            next_expected: position,
            ..Default::default()
        }
    }

    /// Verifies and counts a contiguous piece of a batch. The common case,
    /// every message exactly the next expected one with the right kind, is
    /// one branch-free pass of 16-byte compares; anything else goes through
    /// the careful path, message by message.
    pub fn absorb(&mut self, msgs: &[FizzBuzzMsg]) {
        if msgs.is_empty() {
            return;
        }
        let first = self.next_expected;
        if is_exact_run(msgs, first) {
            // Every message was just checked to be exactly (v, kind of v)
            // for v in [first, end), so its counts are that range's counts.
            let end = first + msgs.len() as u64;
            self.counts.add_counts(&KindCounts::of_range(first, end));
            self.messages += msgs.len() as u64;
            self.next_expected = end;
        } else {
            self.absorb_carefully(msgs);
        }
    }

    fn absorb_carefully(&mut self, msgs: &[FizzBuzzMsg]) {
        for m in msgs {
            if m.value < self.next_expected {
                // A re-send after a restart upstream: already counted.
                // Saturating: a count a stored record may start near its
                // bound must stop there, never wrap to zero.
                self.duplicates_dropped = self.duplicates_dropped.saturating_add(1);
                continue;
            }
            if m.value != self.next_expected || m.kind != classify(m.value) {
                self.sequence_errors = self.sequence_errors.saturating_add(1);
            }
            self.counts.add(m.kind);
            self.messages += 1;
            self.next_expected = m.value + 1;
        }
    }

    pub fn record_batch(&mut self, len: usize) {
        self.batches += 1;
        self.max_batch = self.max_batch.max(len as u64);
    }
}

/// A consistent cut: the logger's statistics at a beat boundary, and when
/// it took them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cut {
    pub stats: LoggerStats,
    pub taken: std::time::Instant,
}

/// Restarts per actor (steady_state's regeneration counter), by the
/// actor's name. Stored as it is (schema 3), so an actor can be added, or a
/// pod can run some of them, without a change in what a file holds; an
/// actor with no entry has not restarted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Restarts(BTreeMap<String, u64>);

impl Restarts {
    pub fn of(&self, actor: &str) -> u64 {
        self.0.get(actor).copied().unwrap_or(0)
    }

    pub fn set(&mut self, actor: &str, count: u64) {
        self.0.insert(actor.to_string(), count);
    }

    /// Each actor's count, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, u64)> {
        self.0.iter().map(|(a, n)| (a.as_str(), *n))
    }

    /// Every count to show: this build's actors in the graph's order (0 if
    /// they have no entry), then any other name the counts hold (an actor
    /// of another build that wrote the file), so none is hidden.
    pub fn shown(&self) -> Vec<(String, u64)> {
        let ours = crate::pipeline::graph::ACTORS;
        let mut shown: Vec<(String, u64)> = ours
            .iter()
            .map(|a| (a.as_str().to_string(), self.of(a.as_str())))
            .collect();
        shown.extend(
            self.iter()
                .filter(|(a, _)| !ours.iter().any(|o| o.as_str() == *a))
                .map(|(a, n)| (a.to_string(), n)),
        );
        shown
    }

    pub fn total(&self) -> u64 {
        self.0.values().fold(0, |t, n| t.saturating_add(*n))
    }

    /// The larger count of any one actor.
    pub fn most(&self) -> u64 {
        self.0.values().copied().max().unwrap_or(0)
    }

    /// These counts and `more`, actor by actor.
    pub fn plus(&self, more: &Restarts) -> Restarts {
        let mut sum = self.clone();
        for (actor, n) in more.iter() {
            let was = sum.of(actor);
            sum.set(actor, was.saturating_add(n));
        }
        sum
    }

    /// The restarts since `before`, an earlier reading of the same counts.
    pub fn since(&self, before: &Restarts) -> Restarts {
        Restarts(
            self.iter()
                .map(|(a, n)| (a.to_string(), n.saturating_sub(before.of(a))))
                .collect(),
        )
    }
}

impl<S: Into<String>> FromIterator<(S, u64)> for Restarts {
    fn from_iter<I: IntoIterator<Item = (S, u64)>>(items: I) -> Self {
        Restarts(items.into_iter().map(|(a, n)| (a.into(), n)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::message::Kind;

    fn msgs(range: std::ops::Range<u64>) -> Vec<FizzBuzzMsg> {
        range.map(FizzBuzzMsg::new).collect()
    }

    #[test]
    fn restarts_of_an_actor_this_build_lacks_are_shown_after_its_own() {
        let r: Restarts = [("sentinel", 129), ("worker", 400)].into_iter().collect();
        let shown = r.shown();
        let names: Vec<&str> = shown.iter().map(|(a, _)| a.as_str()).collect();
        assert_eq!(
            names,
            [
                "heartbeat",
                "generator",
                "worker",
                "logger",
                "checkpoint",
                "sentinel"
            ]
        );
        assert_eq!(shown[2].1, 400);
        assert_eq!(shown[0].1, 0);
        assert_eq!(shown[5].1, 129);
    }

    #[test]
    fn a_clean_sequence_matches_the_closed_form() {
        let mut s = LoggerStats::default();
        s.absorb(&msgs(0..1000));
        s.absorb(&msgs(1000..1777));
        assert_eq!(s.counts, KindCounts::closed_form(1777));
        assert_eq!(
            (s.messages, s.next_expected, s.sequence_errors),
            (1777, 1777, 0)
        );
    }

    #[test]
    fn re_sent_values_are_dropped_not_counted() {
        let mut s = LoggerStats::default();
        s.absorb(&msgs(0..100));
        s.absorb(&msgs(60..130));
        assert_eq!(s.duplicates_dropped, 40);
        assert_eq!(s.sequence_errors, 0);
        assert_eq!(s.counts, KindCounts::closed_form(130));
    }

    #[test]
    fn gaps_and_wrong_kinds_are_sequence_errors() {
        let mut s = LoggerStats::default();
        s.absorb(&msgs(0..10));
        s.absorb(&msgs(11..20)); // 10 is missing
        assert_eq!(s.sequence_errors, 1);
        let mut wrong = msgs(20..25);
        wrong[2].kind = Kind::Fizz; // 22 is a plain value
        s.absorb(&wrong);
        assert_eq!(s.sequence_errors, 2);
        assert_eq!(s.messages, 24);
    }

    #[test]
    fn batches_record_the_largest() {
        let mut s = LoggerStats::default();
        s.record_batch(10);
        s.record_batch(1024);
        s.record_batch(3);
        assert_eq!((s.batches, s.max_batch), (3, 1024));
    }

    #[test]
    fn restarts_add_and_subtract_by_actor() {
        let a: Restarts = [("worker", 2), ("logger", 1)].into_iter().collect();
        let b: Restarts = [("worker", 1), ("heartbeat", 4)].into_iter().collect();
        let sum = a.plus(&b);
        assert_eq!(
            (sum.of("worker"), sum.of("logger"), sum.of("heartbeat")),
            (3, 1, 4)
        );
        assert_eq!(sum.total(), 8);
        assert_eq!(sum.since(&a).of("worker"), 1);
        assert_eq!(sum.since(&a).of("logger"), 0);
        assert_eq!(sum.most(), 4);
    }
}
