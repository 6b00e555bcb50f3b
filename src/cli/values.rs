//! `run`'s value parsers beyond the shared ones in `util::values`: limits
//! that come from the pipeline and the checkpoint file.

use crate::pipeline::config::{MAX_CHANNEL_CAPACITY, SIGNALS_PER_BEAT};
pub use crate::util::values::{millis, positive};

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

#[cfg(test)]
mod tests {
    use super::*;

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
