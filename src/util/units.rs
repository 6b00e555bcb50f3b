//! Numbers for people: grouped digits, scaled units, short durations. JSON
//! keeps raw integers; these are for lines a person reads.
//!
//! Not humantime's `format_duration`: it writes every unit down to the
//! nanosecond (`3m 5s 120ms 7us`), where a progress line wants a fixed,
//! short `3m05s` and a latency three figures in one unit (`1.25 ms`).

/// `1984839680` → `1,984,839,680`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `1 beat`, `2,000 beats`: a count and its noun, plural by count
/// (`noun` is the singular; every noun fizzflow counts takes an s).
pub fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{} {noun}s", grouped(n))
    }
}

/// `41_000_000.0` → `41.0 M`, `980.0` → `980`: three significant figures
/// and a metric prefix.
pub fn scaled(x: f64) -> String {
    let (value, prefix) = [(1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")]
        .into_iter()
        .find(|(unit, _)| x.abs() >= *unit)
        .map_or((x, ""), |(unit, p)| (x / unit, p));
    format!("{}{prefix}", significant(value))
}

/// Three significant figures: `4.06`, `40.6`, `406`, `4060`.
pub fn significant(x: f64) -> String {
    let a = x.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        // Small: as many decimals as three significant figures need.
        let decimals = (2 - a.log10().floor() as i32).clamp(3, 9) as usize;
        format!("{x:.decimals$}")
    }
}

/// A duration for a progress line: `42s`, `3m05s`, `2h03m`.
pub fn short_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
    }
}

/// Microseconds for people: `87 µs`, `1.25 ms`, `2.50 s`.
pub fn micros(us: u64) -> String {
    match us {
        0..1000 => format!("{us} µs"),
        1000..1_000_000 => format!("{:.2} ms", us as f64 / 1e3),
        _ => format!("{:.2} s", us as f64 / 1e6),
    }
}

/// `7549747` → `7.2 MiB`.
pub fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_is_singular() {
        assert_eq!(counted(1, "beat"), "1 beat");
        assert_eq!(counted(0, "beat"), "0 beats");
        assert_eq!(counted(2000, "message"), "2,000 messages");
    }

    #[test]
    fn grouping_and_scaling_read_as_people_write_them() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1_984_839_680), "1,984,839,680");
        assert_eq!(scaled(41_000_000.0), "41.0 M");
        assert_eq!(scaled(4_096_000.0), "4.10 M");
        assert_eq!(scaled(271_400_000.0), "271 M");
        assert_eq!(scaled(980.0), "980");
        assert_eq!(scaled(2_048_000_000.0), "2.05 G");
        assert_eq!(significant(0.0203), "0.0203");
        assert_eq!(significant(10.06), "10.1");
    }

    #[test]
    fn durations_are_short() {
        assert_eq!(short_duration(0.4), "0s");
        assert_eq!(short_duration(42.0), "42s");
        assert_eq!(short_duration(185.0), "3m05s");
        assert_eq!(short_duration(7380.0), "2h03m");
    }

    #[test]
    fn latencies_read_in_their_unit() {
        assert_eq!(micros(87), "87 µs");
        assert_eq!(micros(1250), "1.25 ms");
        assert_eq!(micros(2_500_000), "2.50 s");
    }
}
