//! Value parsers that say what a flag takes in words ("must be 1 or
//! more"), where clap's own would print "0 is not in 1..18446744073709551615"
//! or "invalid digit found in string"; shared by `run`'s flags and `bench`'s.

use clap::builder::TypedValueParser;
use std::path::PathBuf;

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

/// A count from 0 to `most`.
pub fn at_most(s: &str, most: u64) -> Result<u64, String> {
    match whole(s, "a whole number of 0 or more", "256")? {
        n if n > most => Err(format!("is too large: the most is {most}")),
        n => Ok(n),
    }
}

/// A directory: any bytes (a Unix path need not be UTF-8), but something.
pub fn dir_path() -> impl clap::builder::TypedValueParser<Value = PathBuf> {
    clap::builder::OsStringValueParser::new().try_map(|s| {
        if s.to_string_lossy().trim().is_empty() {
            Err("must not be empty")
        } else {
            Ok(PathBuf::from(s))
        }
    })
}

/// Milliseconds, 0 included.
pub fn millis(s: &str) -> Result<u64, String> {
    whole(s, "a whole number of milliseconds (0 or more)", "2")
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
        assert_eq!(at_most("0", 5), Ok(0));
        assert_eq!(at_most("6", 5).unwrap_err(), "is too large: the most is 5");
        assert_eq!(millis("0"), Ok(0));
        assert!(millis("0.5").unwrap_err().contains("milliseconds"));
    }
}
