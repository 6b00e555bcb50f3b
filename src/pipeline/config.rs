//! The validated settings a pipeline runs with, independent of the CLI.

use crate::pipeline::names::ActorName;
use crate::pipeline::stats::LoggerStats;
use std::str::FromStr;

/// One beat is this many signals, each a credit for one worker batch.
pub const SIGNALS_PER_BEAT: usize = 32;

/// The largest channel the CLI accepts; a stored setting beyond it is not
/// trusted either (a crafted 2^40 would otherwise abort the allocation).
pub const MAX_CHANNEL_CAPACITY: u64 = 1 << 28;

/// Messages a state dir may count over its life. Below 2^64 with room to
/// spare: the generator writes up to a channel's worth of values beyond the
/// last credit, and those must not wrap either.
pub const MAX_MESSAGES: u64 = u64::MAX - (1 << 32);

/// The most beats a state dir may reach with beats of `beat_size` messages.
pub fn max_beats(beat_size: u64) -> u64 {
    MAX_MESSAGES / beat_size.max(1)
}

/// The batch geometry rules the CLI enforces, shared with the check of
/// stored settings so that a file cannot hold what no flag could ask for.
pub fn check_geometry(
    generator_batch: u64,
    worker_batch: u64,
    logger_batch: u64,
    channel_capacity: u64,
) -> Result<(), String> {
    if !(SIGNALS_PER_BEAT as u64..=MAX_CHANNEL_CAPACITY).contains(&channel_capacity) {
        return Err(format!(
            "--channel-capacity {channel_capacity} is out of range: it must be {SIGNALS_PER_BEAT} (one beat of signals) to {MAX_CHANNEL_CAPACITY}"
        ));
    }
    for (flag, v) in [
        ("--generator-batch", generator_batch),
        ("--worker-batch", worker_batch),
        ("--logger-batch", logger_batch),
    ] {
        if v == 0 {
            return Err(format!("{flag} must be 1 or more"));
        }
        if v > channel_capacity {
            return Err(format!(
                "{flag} {v} is larger than --channel-capacity {channel_capacity}: a batch must fit in its channel (raise --channel-capacity or lower {flag})"
            ));
        }
    }
    Ok(())
}

/// `--inject-panic ACTOR:N`: panic in ACTOR once every N units it processes
/// (beats for the heartbeat, messages for the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanicSpec {
    pub actor: ActorName,
    pub every: u64,
}

impl FromStr for PanicSpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (actor, every) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not ACTOR:N (e.g. worker:100000)"))?;
        let actor: ActorName = actor.parse().map_err(|e| format!("{e}"))?;
        let every: u64 = every
            .parse()
            .map_err(|_| format!("'{every}' in '{s}' is not a whole number"))?;
        if every == 0 {
            return Err(format!("'{s}': N must be at least 1"));
        }
        Ok(PanicSpec { actor, every })
    }
}

/// `--inject-delay ACTOR:MICROS`: ACTOR sleeps this long per batch it
/// handles (per commit for the checkpoint actor), to model a slow stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelaySpec {
    pub actor: ActorName,
    pub micros: u64,
}

impl FromStr for DelaySpec {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (actor, micros) = s
            .split_once(':')
            .ok_or_else(|| format!("'{s}' is not ACTOR:MICROS (e.g. logger:200)"))?;
        let actor: ActorName = actor.parse().map_err(|e| format!("{e}"))?;
        let micros: u64 = micros
            .parse()
            .map_err(|_| format!("'{micros}' in '{s}' is not a whole number of microseconds"))?;
        Ok(DelaySpec { actor, micros })
    }
}

/// Where a launch starts: all zero for a fresh run, a checkpoint's cut for a
/// resumed one. The generator resumes at `logger.next_expected`, the
/// heartbeat at `beats`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StartPoint {
    pub beats: u64,
    pub logger: LoggerStats,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Milliseconds between beats; 0 = unpaced.
    pub rate_ms: u64,
    /// Absolute beat count at which the heartbeat stops.
    pub beats_target: u64,
    pub generator_batch: usize,
    pub worker_batch: usize,
    pub logger_batch: usize,
    pub channel_capacity: usize,
    pub inject_panic: Vec<PanicSpec>,
    pub inject_delay: Vec<DelaySpec>,
    /// Bench only (`fizzflow bench`'s single-item configuration): every
    /// stage moves one message per channel operation, to measure what the
    /// batching is worth.
    pub single_item: bool,
    pub start: StartPoint,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            rate_ms: 2,
            beats_target: 5000,
            generator_batch: 256,
            worker_batch: 256,
            logger_batch: 1024,
            channel_capacity: 8192,
            inject_panic: Vec::new(),
            inject_delay: Vec::new(),
            single_item: false,
            start: StartPoint::default(),
        }
    }
}

impl PipelineConfig {
    /// Messages one beat moves: 32 credits of one worker batch each.
    pub fn beat_size(&self) -> u64 {
        (SIGNALS_PER_BEAT * self.worker_batch) as u64
    }

    /// Free slots the generator waits for before it writes: whole batches
    /// filling half the channel, so it wakes once per half channel rather
    /// than once per batch (wake-ups, not copying, dominate at 8192 slots).
    pub fn generator_wake(&self) -> usize {
        half_in_whole(self.channel_capacity, self.generator_batch)
    }

    /// Messages the logger waits for: whole batches filling half the channel.
    pub fn logger_wake(&self) -> usize {
        half_in_whole(self.channel_capacity, self.logger_batch)
    }

    /// Most input the worker may wait for: more, and it and the generator
    /// could each wait for room the other will never make.
    pub fn worker_input_wake(&self) -> usize {
        self.channel_capacity + 1 - self.generator_wake()
    }

    /// Most output room the worker may wait for, likewise against the logger.
    pub fn worker_output_wake(&self) -> usize {
        self.channel_capacity + 1 - self.logger_wake()
    }

    /// The injected per-batch delay of `actor` ("checkpoint" included).
    pub fn delay_for(&self, actor: ActorName) -> Option<std::time::Duration> {
        self.inject_delay
            .iter()
            .rev()
            .find(|d| d.actor == actor && d.micros > 0)
            .map(|d| std::time::Duration::from_micros(d.micros))
    }

    pub fn panic_every(&self, actor: ActorName) -> Option<u64> {
        self.inject_panic
            .iter()
            .rev()
            .find(|p| p.actor == actor)
            .map(|p| p.every)
    }

    /// Checks what clap cannot: relations between settings.
    pub fn validate(&self) -> Result<(), String> {
        check_geometry(
            self.generator_batch as u64,
            self.worker_batch as u64,
            self.logger_batch as u64,
            self.channel_capacity as u64,
        )
    }
}

fn half_in_whole(capacity: usize, batch: usize) -> usize {
    (capacity / 2 / batch * batch).max(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_spec_parses_and_rejects() {
        assert_eq!(
            "worker:100".parse::<PanicSpec>(),
            Ok(PanicSpec {
                actor: crate::pipeline::actor::worker::NAME,
                every: 100
            })
        );
        assert!(
            "worker"
                .parse::<PanicSpec>()
                .unwrap_err()
                .contains("ACTOR:N")
        );
        assert!(
            "cook:5"
                .parse::<PanicSpec>()
                .unwrap_err()
                .contains("unknown actor 'cook'")
        );
        assert!(
            "logger:0"
                .parse::<PanicSpec>()
                .unwrap_err()
                .contains("at least 1")
        );
        assert!(
            "logger:x"
                .parse::<PanicSpec>()
                .unwrap_err()
                .contains("whole number")
        );
    }

    #[test]
    fn validate_rejects_batches_larger_than_the_channel() {
        let cfg = PipelineConfig {
            worker_batch: 9000,
            ..Default::default()
        };
        assert!(cfg.validate().unwrap_err().contains("--worker-batch 9000"));
        let cfg = PipelineConfig {
            channel_capacity: 16,
            generator_batch: 1,
            worker_batch: 1,
            logger_batch: 1,
            ..Default::default()
        };
        assert!(cfg.validate().unwrap_err().contains("out of range"));
        assert!(PipelineConfig::default().validate().is_ok());
    }

    #[test]
    fn wake_thresholds_leave_room_for_each_other() {
        for (cap, gb, wb, lb) in [
            (8192, 256, 256, 1024),
            (5000, 33, 100, 77),
            (64, 64, 1, 64),
            (32, 1, 1, 1),
        ] {
            let cfg = PipelineConfig {
                channel_capacity: cap,
                generator_batch: gb,
                worker_batch: wb,
                logger_batch: lb,
                ..Default::default()
            };
            assert!(cfg.generator_wake() >= gb && cfg.generator_wake() <= cap);
            assert!(cfg.logger_wake() >= lb && cfg.logger_wake() <= cap);
            assert!(
                cfg.worker_input_wake() >= 1
                    && cfg.worker_input_wake() + cfg.generator_wake() <= cap + 1
            );
            assert!(
                cfg.worker_output_wake() >= 1
                    && cfg.worker_output_wake() + cfg.logger_wake() <= cap + 1
            );
        }
    }

    #[test]
    fn default_beat_is_one_channel_of_messages() {
        let cfg = PipelineConfig::default();
        assert_eq!(cfg.beat_size(), 8192);
        assert_eq!(cfg.beat_size(), cfg.channel_capacity as u64);
    }
}
