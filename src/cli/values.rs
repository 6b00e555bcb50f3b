//! `run`'s value parsers beyond the shared ones in `words.rs`: limits
//! that come from the pipeline and the checkpoint file.

pub use crate::cli::words::{at_most, dir_path, millis, positive};
use crate::pipeline::config::{
    Batch, DelaySpec, GeometryError, MAX_CHANNEL_CAPACITY, PanicSpec, SIGNALS_PER_BEAT,
};
use crate::pipeline::names::ActorName;

/// Checkpoints kept in the file: each is a few hundred bytes, and a file
/// of more than a million would be a file nobody asked for.
pub const MAX_CHECKPOINT_HISTORY: u64 = 1_000_000;

/// Slots in a channel: at least one beat of signals.
pub fn capacity(s: &str) -> Result<u64, String> {
    let n = positive(s)?;
    if !(SIGNALS_PER_BEAT as u64..=MAX_CHANNEL_CAPACITY).contains(&n) {
        return Err(format!(
            "must be from {SIGNALS_PER_BEAT} (one beat of signals) to {MAX_CHANNEL_CAPACITY}"
        ));
    }
    Ok(n)
}

/// Checkpoints to keep: 1 to [`MAX_CHECKPOINT_HISTORY`].
pub fn history(s: &str) -> Result<u64, String> {
    match positive(s)? {
        n if n > MAX_CHECKPOINT_HISTORY => Err(format!(
            "is too large: the most is {MAX_CHECKPOINT_HISTORY} checkpoints"
        )),
        n => Ok(n),
    }
}

/// `--inject-panic ACTOR:N`.
pub fn panic_spec(s: &str) -> Result<PanicSpec, String> {
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

/// `--inject-delay ACTOR:MICROS`.
pub fn delay_spec(s: &str) -> Result<DelaySpec, String> {
    let (actor, micros) = s
        .split_once(':')
        .ok_or_else(|| format!("'{s}' is not ACTOR:MICROS (e.g. logger:200)"))?;
    let actor: ActorName = actor.parse().map_err(|e| format!("{e}"))?;
    let micros: u64 = micros
        .parse()
        .map_err(|_| format!("'{micros}' in '{s}' is not a whole number of microseconds"))?;
    Ok(DelaySpec { actor, micros })
}

/// The flag that sets a batch.
fn batch_flag(batch: Batch) -> &'static str {
    match batch {
        Batch::Generator => "--generator-batch",
        Batch::Worker => "--worker-batch",
        Batch::Logger => "--logger-batch",
    }
}

/// Settings the pipeline cannot run with, said in the flags that set them.
pub fn geometry_usage(e: GeometryError) -> String {
    match e {
        GeometryError::Channel { capacity } => format!(
            "--channel-capacity {capacity} is out of range: it must be {SIGNALS_PER_BEAT} (one beat of signals) to {MAX_CHANNEL_CAPACITY}"
        ),
        GeometryError::Empty { batch } => format!("{} must be 1 or more", batch_flag(batch)),
        GeometryError::TooLarge {
            batch,
            size,
            capacity,
        } => {
            let flag = batch_flag(batch);
            format!(
                "{flag} {size} is larger than --channel-capacity {capacity}: a batch must fit in its channel (raise --channel-capacity or lower {flag})"
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_spec_parses_and_rejects() {
        assert_eq!(
            panic_spec("worker:100"),
            Ok(PanicSpec {
                actor: crate::pipeline::actor::worker::NAME,
                every: 100
            })
        );
        assert!(panic_spec("worker").unwrap_err().contains("ACTOR:N"));
        assert!(
            panic_spec("cook:5")
                .unwrap_err()
                .contains("unknown actor 'cook'")
        );
        assert!(panic_spec("logger:0").unwrap_err().contains("at least 1"));
        assert!(panic_spec("logger:x").unwrap_err().contains("whole number"));
        assert_eq!(
            delay_spec("checkpoint:5").map(|d| d.actor),
            Ok(crate::pipeline::actor::checkpoint::NAME)
        );
    }

    #[test]
    fn impossible_geometry_is_said_in_flags() {
        let cfg = crate::pipeline::PipelineConfig {
            worker_batch: 9000,
            ..Default::default()
        };
        let said = geometry_usage(cfg.validate().unwrap_err());
        assert!(said.contains("--worker-batch 9000"), "{said}");
        assert!(said.contains("--channel-capacity 8192"), "{said}");
        let said = geometry_usage(GeometryError::Channel { capacity: 16 });
        assert!(said.contains("out of range"), "{said}");
    }

    #[test]
    fn pipeline_limits_are_named() {
        assert!(capacity("1000000000").unwrap_err().contains("to 268435456"));
        assert!(capacity("16").unwrap_err().contains("from 32"));
        assert_eq!(history("1000000"), Ok(1_000_000));
        assert!(
            history("1000001")
                .unwrap_err()
                .contains("the most is 1000000")
        );
        assert!(history("0").is_err());
    }
}
