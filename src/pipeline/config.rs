//! The validated settings a pipeline runs with, independent of the CLI.

use crate::pipeline::names::ActorName;
use crate::pipeline::stats::LoggerStats;

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

/// A batch of the pipeline, by the stage that moves it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batch {
    Generator,
    Worker,
    Logger,
}

/// Batch geometry no launch can run with: the CLI says which flag, a
/// stored record which setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    #[error(
        "a channel of {capacity} slots is out of range: it must hold {SIGNALS_PER_BEAT} (one beat of signals) to {MAX_CHANNEL_CAPACITY}"
    )]
    Channel { capacity: u64 },
    #[error("a {batch:?} batch of 0")]
    Empty { batch: Batch },
    #[error("a {batch:?} batch of {size} does not fit its channel of {capacity} slots")]
    TooLarge {
        batch: Batch,
        size: u64,
        capacity: u64,
    },
}

/// The batch geometry rules, shared by the flags and the check of stored
/// settings so that a file cannot hold what no flag could ask for.
pub fn check_geometry(
    generator_batch: u64,
    worker_batch: u64,
    logger_batch: u64,
    channel_capacity: u64,
) -> Result<(), GeometryError> {
    if !(SIGNALS_PER_BEAT as u64..=MAX_CHANNEL_CAPACITY).contains(&channel_capacity) {
        return Err(GeometryError::Channel {
            capacity: channel_capacity,
        });
    }
    for (batch, size) in [
        (Batch::Generator, generator_batch),
        (Batch::Worker, worker_batch),
        (Batch::Logger, logger_batch),
    ] {
        if size == 0 {
            return Err(GeometryError::Empty { batch });
        }
        if size > channel_capacity {
            return Err(GeometryError::TooLarge {
                batch,
                size,
                capacity: channel_capacity,
            });
        }
    }
    Ok(())
}

/// `--inject-panic`: panic in `actor` once every `every` units it
/// processes (beats for the heartbeat, messages for the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PanicSpec {
    pub actor: ActorName,
    pub every: u64,
}

/// `--inject-delay`: `actor` sleeps this long per batch it handles (per
/// commit for the checkpoint actor), to model a slow stage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelaySpec {
    pub actor: ActorName,
    pub micros: u64,
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

/// Messages one beat moves: 32 credits of one worker batch each. The one
/// place this is computed.
pub const fn beat_size(worker_batch: u64) -> u64 {
    SIGNALS_PER_BEAT as u64 * worker_batch
}

impl PipelineConfig {
    /// Messages one of this launch's beats moves.
    pub fn beat_size(&self) -> u64 {
        beat_size(self.worker_batch as u64)
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

    /// Input the worker waits for: an eighth of the channel. It used to
    /// wait for more than half, then take all it found: the generator,
    /// waiting for half a channel of room, could only refill once the
    /// worker was done, and the two took turns instead of working at once
    /// (the slow runs of the README's performance section). Never more
    /// than the generator can leave: `capacity + 1 - generator_wake`, or
    /// each would wait for room the other never makes.
    pub fn worker_input_wake(&self) -> usize {
        eighth(self.channel_capacity).min(self.channel_capacity + 1 - self.generator_wake())
    }

    /// Output room the worker waits for, likewise against the logger.
    pub fn worker_output_wake(&self) -> usize {
        eighth(self.channel_capacity).min(self.channel_capacity + 1 - self.logger_wake())
    }

    /// Most messages the worker moves in one step: half the channel, so
    /// its neighbours always have the other half to fill and to drain
    /// while it works.
    pub fn worker_step(&self) -> usize {
        (self.channel_capacity / 2).max(1)
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
    pub fn validate(&self) -> Result<(), GeometryError> {
        check_geometry(
            self.generator_batch as u64,
            self.worker_batch as u64,
            self.logger_batch as u64,
            self.channel_capacity as u64,
        )
    }
}

fn eighth(capacity: usize) -> usize {
    (capacity / 8).max(1)
}

fn half_in_whole(capacity: usize, batch: usize) -> usize {
    (capacity / 2 / batch * batch).max(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validate_rejects_batches_larger_than_the_channel() {
        let cfg = PipelineConfig {
            worker_batch: 9000,
            ..Default::default()
        };
        assert_eq!(
            cfg.validate(),
            Err(GeometryError::TooLarge {
                batch: Batch::Worker,
                size: 9000,
                capacity: 8192
            })
        );
        let cfg = PipelineConfig {
            channel_capacity: 16,
            generator_batch: 1,
            worker_batch: 1,
            logger_batch: 1,
            ..Default::default()
        };
        assert_eq!(cfg.validate(), Err(GeometryError::Channel { capacity: 16 }));
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
