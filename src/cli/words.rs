//! Value parsers that say what a flag takes in words ("must be 1 or
//! more"), where clap's own would print "0 is not in 1..18446744073709551615"
//! or "invalid digit found in string"; shared by every command's flags.

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

/// Milliseconds, 0 included: a bare whole number is milliseconds, as it
/// always was; a duration with its unit (`1s`, `250ms`, `1m 30s`, `1.5s`)
/// is read by humantime and must come to whole milliseconds.
pub fn millis(s: &str) -> Result<u64, String> {
    let what = "a whole number of milliseconds (0 or more)";
    let t = s.trim();
    // What parsed before stays as it was, `+5` included.
    let digits = t.strip_prefix('+').unwrap_or(t);
    if t.starts_with('-') || digits.bytes().all(|b| b.is_ascii_digit()) {
        return whole(s, what, "2");
    }
    let d = humantime::parse_duration(t).map_err(|e| {
        let takes = format!("must be {what}, like 2, or a time with its unit, like 1s or 250ms");
        match e {
            // Which units there are; the other reasons ("time unit needed,
            // for example 0sec or 0ms" for 0.5) would only confuse.
            humantime::DurationError::UnknownUnit { ref unit, .. } if !unit.is_empty() => {
                format!("{takes} ({e})")
            }
            humantime::DurationError::NumberOverflow => format!("is too large ({e})"),
            _ => takes,
        }
    })?;
    if d.subsec_nanos() % 1_000_000 != 0 {
        return Err(format!("must come to whole milliseconds ({t} does not)"));
    }
    u64::try_from(d.as_millis()).map_err(|_| format!("is too large: the most is {} ms", u64::MAX))
}

/// `IP:PORT`, or `HOST:PORT` resolved now (an IPv4 address first: what
/// `localhost` means to most people), saying why when it cannot be.
pub fn socket_addr(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(addr) = s.parse() {
        return Ok(addr);
    }
    let Some((host, port)) = s.rsplit_once(':') else {
        return Err(format!(
            "'{s}' is not IP:PORT or HOST:PORT (e.g. 127.0.0.1:9901)"
        ));
    };
    let Ok(port) = port.parse::<u16>() else {
        return Err(format!("'{port}' in '{s}' is not a port (0 to 65535)"));
    };
    let addrs: Vec<std::net::SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve '{host}': {e}; give an IP, e.g. 127.0.0.1:{port}"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| {
            format!("'{host}' resolves to no address; give an IP, e.g. 127.0.0.1:{port}")
        })
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
        assert!(millis("-5ms").unwrap_err().contains("not negative"));
        assert!(millis("").unwrap_err().contains("milliseconds"));
    }

    #[test]
    fn milliseconds_may_be_given_with_a_unit() {
        assert_eq!(millis("1500"), Ok(1500));
        assert_eq!(millis(" 7 "), Ok(7));
        assert_eq!(millis("+5"), Ok(5));
        assert_eq!(millis("1s"), Ok(1000));
        assert_eq!(millis("250ms"), Ok(250));
        assert_eq!(millis("1.5s"), Ok(1500));
        assert_eq!(millis("1m 30s"), Ok(90_000));
        assert_eq!(millis("0s"), Ok(0));
        let fine = millis("1500us").unwrap_err();
        assert!(fine.contains("whole milliseconds"), "{fine}");
        assert!(!millis("0.5").unwrap_err().contains("0sec"));
        let unknown = millis("5 parsecs").unwrap_err();
        assert!(
            unknown.contains("milliseconds") && unknown.contains("unknown time unit"),
            "{unknown}"
        );
        assert!(millis("1000000000000y").unwrap_err().contains("too large"));
    }
}
