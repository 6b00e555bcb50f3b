//! Value parsers that say what a flag takes in words ("must be 1 or
//! more"), where clap's own would print "0 is not in 1..18446744073709551615"
//! or "invalid digit found in string".

use crate::pipeline::config::{MAX_CHANNEL_CAPACITY, SIGNALS_PER_BEAT};

fn whole(s: &str, what: &str, example: &str) -> Result<u64, String> {
    let t = s.trim();
    if t.starts_with('-') {
        return Err(format!("must be {what}, not negative"));
    }
    t.parse::<u64>().map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => {
            format!("is too large: the most is {}", u64::MAX)
        }
        _ => format!("must be {what}, like {example}"),
    })
}

/// A count of 1 or more.
pub fn positive(s: &str) -> Result<u64, String> {
    match whole(s, "a whole number of 1 or more", "256")? {
        0 => Err("must be 1 or more".into()),
        n => Ok(n),
    }
}

/// Milliseconds, 0 included.
pub fn millis(s: &str) -> Result<u64, String> {
    whole(s, "a whole number of milliseconds (0 or more)", "2")
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_the_flag_takes() {
        assert_eq!(positive("7"), Ok(7));
        assert_eq!(positive("0").unwrap_err(), "must be 1 or more");
        assert!(positive("-1").unwrap_err().contains("not negative"));
        assert!(positive("0.5").unwrap_err().contains("whole number"));
        assert!(
            positive("99999999999999999999")
                .unwrap_err()
                .contains("too large")
        );
        assert_eq!(millis("0"), Ok(0));
        assert!(millis("0.5").unwrap_err().contains("milliseconds"));
        assert!(capacity("1000000000").unwrap_err().contains("to 268435456"));
        assert!(capacity("16").unwrap_err().contains("from 32"));
    }
}
