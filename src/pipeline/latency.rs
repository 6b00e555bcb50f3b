//! Beat latency: from the heartbeat sending a beat to the logger counting
//! the beat's last message. The heartbeat stamps each beat into a ring
//! (two atomic stores), the logger looks the stamp up when a beat
//! completes and records it in an HDR histogram allocated once, at start;
//! nothing allocates per beat.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Stamps kept. Beats in flight are bounded by the beats channel (256 beats
/// by default) and the worker's credit (one channel): far fewer.
const RING: usize = 4096;
/// No stamp in a slot.
const EMPTY: u64 = u64::MAX;

/// When each beat in flight was sent.
#[derive(Debug)]
pub struct BeatClock {
    epoch: Instant,
    slots: Box<[(AtomicU64, AtomicU64)]>,
}

impl Default for BeatClock {
    fn default() -> Self {
        BeatClock {
            epoch: Instant::now(),
            slots: (0..RING)
                .map(|_| (AtomicU64::new(EMPTY), AtomicU64::new(0)))
                .collect(),
        }
    }
}

impl BeatClock {
    /// The heartbeat sent beat number `beat` (lifetime, 0-based) at `at`.
    pub fn sent(&self, beat: u64, at: Instant) {
        let (tag, nanos) = &self.slots[beat as usize % RING];
        // Emptied first, so that a reader never pairs this beat's number
        // with another beat's time.
        tag.store(EMPTY, Ordering::SeqCst);
        nanos.store(
            at.duration_since(self.epoch).as_nanos() as u64,
            Ordering::SeqCst,
        );
        tag.store(beat, Ordering::SeqCst);
    }

    /// How long ago `beat` was sent, if its stamp is still there.
    pub fn since_sent(&self, beat: u64, now: Instant) -> Option<Duration> {
        let (tag, nanos) = &self.slots[beat as usize % RING];
        if tag.load(Ordering::SeqCst) != beat {
            return None;
        }
        let sent = nanos.load(Ordering::SeqCst);
        if tag.load(Ordering::SeqCst) != beat {
            return None;
        }
        let now = now.duration_since(self.epoch).as_nanos() as u64;
        Some(Duration::from_nanos(now.saturating_sub(sent)))
    }
}

/// Upper bounds (µs) of the Prometheus histogram's buckets; +Inf follows.
pub const BUCKETS_US: [u64; 12] = [
    50, 100, 250, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 100_000, 1_000_000, 10_000_000,
];

/// The latencies of one launch.
pub struct BeatLatency {
    hist: Histogram<u64>,
}

impl std::fmt::Debug for BeatLatency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BeatLatency({} beats)", self.hist.len())
    }
}

/// Longest latency told apart (µs): anything longer counts as this.
const MOST_US: u64 = 3_600_000_000;

impl Default for BeatLatency {
    fn default() -> Self {
        BeatLatency {
            // Three significant figures from 1 µs to an hour: allocated here,
            // once, and never again.
            hist: Histogram::new_with_bounds(1, MOST_US, 3).expect("valid histogram bounds"),
        }
    }
}

impl BeatLatency {
    pub fn record(&mut self, latency: Duration) {
        let us = (latency.as_micros() as u64).clamp(1, MOST_US);
        self.hist.saturating_record(us);
    }

    pub fn summary(&self) -> Option<LatencySummary> {
        (!self.hist.is_empty()).then(|| LatencySummary {
            beats: self.hist.len(),
            p50: self.hist.value_at_quantile(0.50),
            p99: self.hist.value_at_quantile(0.99),
            p99_9: self.hist.value_at_quantile(0.999),
            max: self.hist.max(),
        })
    }
}

/// Beat latency percentiles of a launch, in microseconds (HDR histogram,
/// three significant figures).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub beats: u64,
    pub p50: u64,
    pub p99: u64,
    pub p99_9: u64,
    pub max: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_is_found_for_its_beat_only() {
        let clock = BeatClock::default();
        let at = Instant::now();
        clock.sent(7, at);
        let later = at + Duration::from_micros(1500);
        assert_eq!(
            clock.since_sent(7, later),
            Some(Duration::from_micros(1500))
        );
        assert_eq!(clock.since_sent(8, later), None);
        // Overwritten by the beat a ring later.
        clock.sent(7 + RING as u64, later);
        assert_eq!(clock.since_sent(7, later), None);
    }

    #[test]
    fn percentiles_of_known_latencies() {
        let mut lat = BeatLatency::default();
        assert_eq!(lat.summary(), None);
        for us in 1..=1000u64 {
            lat.record(Duration::from_micros(us));
        }
        let s = lat.summary().unwrap();
        assert_eq!(s.beats, 1000);
        assert_eq!((s.p50, s.p99, s.max), (500, 990, 1000));
        assert!((999..=1000).contains(&s.p99_9), "{s:?}");
    }
}
