//! The log sink for fizzflow and steady_state: plain `fizzflow: level: …`
//! lines on stderr. steady_state's own logger paints every line with ANSI
//! colours whether stderr is a terminal or not; this one is installed first,
//! so steady_state's attempt to install its own fails quietly and its
//! messages come through here.

use log::{Level, LevelFilter, Log, Metadata, Record};
use steady_state::LogLevel;

struct StderrLog {
    level: LevelFilter,
}

impl Log for StderrLog {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            Level::Error => "error",
            Level::Warn => "warning",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        };
        let source = record.target().split("::").next().unwrap_or("");
        crate::util::output::note(&format!("{level} ({source}): {}", record.args()));
    }

    fn flush(&self) {}
}

/// Installs the sink at `level`; a second call changes nothing.
pub fn init(level: LogLevel) {
    let level = level.to_level_filter();
    if log::set_boxed_logger(Box::new(StderrLog { level })).is_ok() {
        log::set_max_level(level);
    }
}

/// `--log-level` wins; otherwise the first plain level found in RUST_LOG
/// (`info`, or `fizzflow=debug`); otherwise warn.
pub fn level(flag: Option<&str>, rust_log: Option<&str>) -> LogLevel {
    let parse = |s: &str| match s.trim().to_ascii_lowercase().as_str() {
        "off" => Some(LogLevel::Off),
        "error" => Some(LogLevel::Error),
        "warn" => Some(LogLevel::Warn),
        "info" => Some(LogLevel::Info),
        "debug" => Some(LogLevel::Debug),
        "trace" => Some(LogLevel::Trace),
        _ => None,
    };
    flag.and_then(parse)
        .or_else(|| {
            rust_log?
                .split(',')
                .find_map(|d| parse(d.rsplit('=').next().unwrap_or(d)))
        })
        .unwrap_or(LogLevel::Warn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_precedence() {
        assert_eq!(level(Some("debug"), Some("trace")), LogLevel::Debug);
        assert_eq!(level(None, Some("info")), LogLevel::Info);
        assert_eq!(level(None, Some("fizzflow=trace,warn")), LogLevel::Trace);
        assert_eq!(level(None, Some("nonsense")), LogLevel::Warn);
        assert_eq!(level(None, None), LogLevel::Warn);
    }
}
