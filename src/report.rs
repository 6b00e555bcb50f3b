//! `fizzflow stats`: what a state dir's checkpoint file says, as a table,
//! as JSON, or as a history with a sparkline.
//!
//! The file is read from a private copy, so this works while a run holds
//! the state dir (it then shows the newest committed checkpoint).

use crate::cli::StatsArgs;
use crate::error::Error;
use crate::inspect::{self, Inspection};
use crate::launch_log::{Ending, LaunchRow};
use crate::migrations;
use crate::output;
use crate::record::{CheckpointRecord, unix_ms_now};
use crate::stats::Summary;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Serialize)]
struct StatsJson {
    #[serde(flatten)]
    summary: Summary,
    schema_version: u64,
    launches: u64,
    checkpoints: u64,
    checkpoint_unix_ms: u64,
}

pub fn stats(args: &StatsArgs) -> Result<(), Error> {
    let dir = &args.state.dir;
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoCheckpoint {
                path: dir.clone(),
                why: "the state dir does not exist (nothing has run with this --state-dir yet)",
            });
        }
        Err(e) => {
            return Err(Error::StateDir {
                dir: dir.clone(),
                problem: format!("cannot be used: {e}"),
            });
        }
        Ok(m) if !m.is_dir() => {
            return Err(Error::StateDir {
                dir: dir.clone(),
                problem: "is not a directory".into(),
            });
        }
        Ok(_) => {}
    }
    let path = inspect::checkpoint_path(dir);
    let Some(vetted) = inspect::existing(&path)? else {
        return Err(Error::NoCheckpoint {
            path,
            why: "nothing has been checkpointed in this state dir yet",
        });
    };
    let seen = vetted.seen;
    let Some(latest) = seen.latest() else {
        return Err(Error::NoCheckpoint {
            path,
            why: "the file holds no checkpoints",
        });
    };
    let text = if args.launches {
        let running = crate::lock::held(dir);
        if args.json {
            json_line(&launch_rows(&seen, latest, running))?
        } else {
            launches_table(&seen, latest, running)
        }
    } else if args.json && args.history {
        // Every kept record as stored, oldest first: for scripts that check
        // each cut, not just the newest.
        json_line(&seen.history)?
    } else if args.json {
        json_line(&StatsJson {
            summary: latest.summary(),
            schema_version: seen.schema_version,
            launches: latest.launches,
            checkpoints: latest.checkpoints,
            checkpoint_unix_ms: latest.unix_ms,
        })?
    } else if args.history {
        history(&seen)
    } else {
        table(&path.display().to_string(), &seen, latest)
    };
    output::report("report", output::stdout_text(&text))
}

fn json_line(value: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(value)
        .map(|json| json + "\n")
        .map_err(|e| Error::Pipeline(format!("the report cannot be encoded: {e}")))
}

fn table(file: &str, seen: &Inspection, r: &CheckpointRecord) -> String {
    let s = r.summary();
    let age_secs = unix_ms_now().saturating_sub(r.unix_ms) as f64 / 1000.0;
    let mut out = String::new();
    let mut row = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<22}{v}");
    };
    row(
        "checkpoint file",
        if seen.schema_version < migrations::CURRENT {
            format!(
                "{file} (schema {}; the next `fizzflow run` upgrades it to schema {})",
                seen.schema_version,
                migrations::CURRENT
            )
        } else {
            format!("{file} (schema {})", seen.schema_version)
        },
    );
    row(
        "last checkpoint",
        format!("{} ({:.0} s ago)", utc(r.unix_ms), age_secs),
    );
    row(
        "beats",
        format!(
            "{} / {} ({})",
            r.beats,
            r.beats_target,
            if r.unfinished() {
                "unfinished: `fizzflow run` resumes it"
            } else {
                "finished"
            }
        ),
    );
    row("messages", s.messages.to_string());
    row("  fizz", s.fizz.to_string());
    row("  buzz", s.buzz.to_string());
    row("  fizzbuzz", s.fizzbuzz.to_string());
    row("  value", s.value.to_string());
    let avg = if s.batches > 0 {
        s.messages as f64 / s.batches as f64
    } else {
        0.0
    };
    row(
        "batches",
        format!(
            "{} (average {:.1}, largest {})",
            s.batches, avg, s.max_batch
        ),
    );
    row(
        "lifetime rate",
        format!(
            "{:.1} M msgs/s over {:.1} s",
            s.msgs_per_sec / 1e6,
            s.elapsed_secs
        ),
    );
    row("launches", r.launches.to_string());
    row(
        "restarts",
        format!(
            "heartbeat {}  generator {}  worker {}  logger {}",
            r.restarts.heartbeat, r.restarts.generator, r.restarts.worker, r.restarts.logger
        ),
    );
    row("sequence errors", s.sequence_errors.to_string());
    row("duplicates dropped", s.duplicates_dropped.to_string());
    row("checkpoints written", r.checkpoints.to_string());
    out
}

fn history(seen: &Inspection) -> String {
    let mut out = format!(
        "{:>6}  {:<20}  {:>14}  {:>14}\n",
        "seq", "time (UTC)", "messages", "msgs/s"
    );
    let mut rates = Vec::new();
    let mut prev: Option<&CheckpointRecord> = None;
    for r in &seen.history {
        let rate = prev.and_then(|p| {
            let dt = r.run_secs - p.run_secs;
            (dt > 0.0).then(|| (r.logger.messages - p.logger.messages) as f64 / dt)
        });
        let shown = rate
            .map(|x| format!("{:.0}", x))
            .unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:>6}  {:<20}  {:>14}  {:>14}",
            r.seq,
            utc(r.unix_ms),
            r.logger.messages,
            shown
        );
        rates.extend(rate);
        prev = Some(r);
    }
    let _ = writeln!(out, "msgs/s  {}", sparkline(&rates));
    out
}

/// One launch for `stats --launches --json`: its row, with what it added
/// and how it ended in words.
#[derive(Serialize)]
struct LaunchJson<'a> {
    #[serde(flatten)]
    row: &'a LaunchRow,
    ended: String,
    added_beats: Option<u64>,
    added_messages: Option<u64>,
}

/// How a launch ended, in words; a launch with no end recorded is running
/// if a fizzflow holds the dir now, and was killed otherwise.
fn ending(row: &LaunchRow, newest: bool, running: bool) -> String {
    match row.ending {
        Ending::Open if newest && running => "running".into(),
        Ending::Open => "killed (no end recorded)".into(),
        ref e => e.describe(),
    }
}

fn launch_rows<'a>(
    seen: &'a Inspection,
    latest: &CheckpointRecord,
    running: bool,
) -> Vec<LaunchJson<'a>> {
    let count = seen.launches.len();
    seen.launches
        .iter()
        .enumerate()
        .map(|(i, row)| {
            let added = row.added(latest);
            LaunchJson {
                row,
                ended: ending(row, i + 1 == count, running),
                added_beats: added.map(|a| a.beats),
                added_messages: added.map(|a| a.messages),
            }
        })
        .collect()
}

fn launches_table(seen: &Inspection, latest: &CheckpointRecord, running: bool) -> String {
    let mut out = format!(
        "{:>6}  {:<19}  {:<19}  {:<24}  {:>17}  {:>14}  {:>8}  {:<8}  flags\n",
        "launch",
        "started (UTC)",
        "ended (UTC)",
        "how",
        "beats",
        "messages added",
        "restarts",
        "version"
    );
    let when = |ms: Option<u64>| ms.map_or_else(|| "?".to_string(), utc);
    let mut added_sum = (0u64, 0u64);
    let mut unknown = Vec::new();
    for json in launch_rows(seen, latest, running) {
        let row = json.row;
        let beats = match (row.start, row.end) {
            (Some(s), Some(e)) => format!("{} → {}", s.beats, e.beats),
            (Some(s), None) => format!("{} → …", s.beats),
            (None, Some(e)) => format!("? → {}", e.beats),
            (None, None) => "?".into(),
        };
        match json.added_messages {
            Some(m) => {
                added_sum.0 += json.added_beats.unwrap_or(0);
                added_sum.1 += m;
            }
            None => unknown.push(row.launch),
        }
        let _ = writeln!(
            out,
            "{:>6}  {:<19}  {:<19}  {:<24}  {:>17}  {:>14}  {:>8}  {:<8}  {}",
            row.launch,
            when(row.started_unix_ms),
            when(row.ended_unix_ms),
            json.ended,
            beats,
            json.added_messages
                .map_or_else(|| "?".into(), |m| m.to_string()),
            row.restarts
                .map_or_else(|| "?".into(), |r| r.total().to_string()),
            row.fizzflow_version.as_deref().unwrap_or("?"),
            row.flags
                .as_ref()
                .map_or_else(|| "?".into(), |f| f.join(" ")),
        );
    }
    let (beats, messages) = (latest.beats, latest.logger.messages);
    if unknown.is_empty() {
        let _ = writeln!(
            out,
            "added up: {} beats, {} messages (lifetime: {beats} beats, {messages} messages)",
            added_sum.0, added_sum.1
        );
    } else {
        let which = if unknown.len() == 1 {
            format!("launch {} predates", unknown[0])
        } else {
            format!("launches {} predate", span(&unknown))
        };
        let _ = writeln!(
            out,
            "{which} schema 2 and the checkpoints kept then: together {} beats, {} messages; the others {} beats, {} messages (lifetime: {beats} beats, {messages} messages)",
            beats.saturating_sub(added_sum.0),
            messages.saturating_sub(added_sum.1),
            added_sum.0,
            added_sum.1
        );
    }
    out
}

/// `3`, or `1–4` for consecutive numbers (the unknown launches are the first ones).
fn span(launches: &[u64]) -> String {
    match (launches.first(), launches.last()) {
        (Some(a), Some(b)) if a != b => format!("{a}–{b}"),
        (Some(a), _) => a.to_string(),
        _ => String::new(),
    }
}

/// One bar per value, scaled from 0 to the largest.
pub fn sparkline(values: &[f64]) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let max = values.iter().cloned().fold(0.0f64, f64::max);
    values
        .iter()
        .map(|&v| {
            if max <= 0.0 {
                BARS[0]
            } else {
                BARS[((v / max) * 7.0).round().clamp(0.0, 7.0) as usize]
            }
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, without a date crate (Howard Hinnant's
/// days-to-civil algorithm).
pub fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_known_instants() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_000_000_123), "2026-11-18 11:06:40");
    }

    #[test]
    fn sparkline_scales_to_the_largest() {
        assert_eq!(sparkline(&[0.0, 50.0, 100.0]), "▁▅█");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
    }
}
