//! `fizzflow stats`: what a state dir's checkpoint file says, as a table,
//! as JSON, or as a history with a sparkline.
//!
//! The file is read from a private copy, so this works while a run holds
//! the state dir (it then shows the newest committed checkpoint).

use crate::cli::error::Error;
use crate::cli::launches;
use crate::cli::state_dir::StateDirArg;
use crate::cli::summary::Summary;
use crate::durable::Error as DurableError;
use crate::durable::backups;
use crate::durable::inspect;
use crate::durable::read::Inspection;
use crate::durable::record::CheckpointRecord;
use crate::durable::schema;
use crate::util::output;
use crate::util::time::{unix_ms_now, utc};
use crate::util::units::{grouped, scaled, significant};
use clap::Args;
use serde::Serialize;
use std::fmt::Write as _;

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    #[command(flatten)]
    pub state: StateDirArg,

    /// Print one JSON object instead of the table
    #[arg(long)]
    pub json: bool,

    /// One row per retained checkpoint, with a sparkline of msgs/s (with
    /// --json: every retained record as a JSON array)
    #[arg(long, conflicts_with = "launches")]
    pub history: bool,

    /// One row per launch: when, how it ended, what it added (with --json:
    /// a JSON array, newest last)
    #[arg(long)]
    pub launches: bool,
}

#[derive(Serialize)]
struct StatsJson {
    #[serde(flatten)]
    summary: Summary,
    schema_version: u64,
    launches: u64,
    checkpoints: u64,
    checkpoint_unix_ms: u64,
    backups: BackupsJson,
    /// The PID of the fizzflow running on the state dir now, if any.
    in_use_by: Option<u32>,
}

/// The state dir's verified backups, as `stats --json` shows them.
#[derive(Serialize)]
struct BackupsJson {
    count: usize,
    newest_launch: Option<u64>,
}

/// The file's own backups: a backup of a later launch than the file has
/// counted belongs to a timeline a restore left.
fn backups_of(dir: &std::path::Path, latest: &CheckpointRecord) -> BackupsJson {
    let found: Vec<_> = backups::list(dir)
        .into_iter()
        .filter(|b| b.launch <= latest.launches)
        .collect();
    BackupsJson {
        count: found.len(),
        newest_launch: found.first().map(|b| b.launch),
    }
}

pub fn command(args: &StatsArgs) -> Result<(), Error> {
    let dir = &args.state.dir;
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NoCheckpoint {
                path: std::path::absolute(dir).unwrap_or_else(|_| dir.clone()),
                why: "the state dir does not exist: nothing has run with it yet. Without --state-dir (or FIZZFLOW_STATE_DIR) fizzflow uses ./fizzflow-state, relative to the current directory; `fizzflow run` prints the full path it uses",
            });
        }
        Err(e) => {
            return Err(DurableError::StateDir {
                dir: dir.clone(),
                problem: format!("cannot be used: {e}"),
            }
            .into());
        }
        Ok(m) if !m.is_dir() => {
            return Err(DurableError::StateDir {
                dir: dir.clone(),
                problem: "is not a directory".into(),
            }
            .into());
        }
        Ok(_) => {}
    }
    let path = inspect::checkpoint_path(dir);
    let Some(vetted) = inspect::existing(&path).map_err(|e| super::recover::hint(e, dir))? else {
        // A lost file with backups is damage to recover from (exit 4, as
        // `run` says), not a state dir where nothing has run yet.
        super::run::missing_with_backups(dir)?;
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
    // Read from the kernel's lock table: no lock is taken, so no run
    // starting now can be refused because of this command.
    let in_use_by = crate::durable::lock::holder(dir);
    let text = if args.launches {
        let running = in_use_by.is_some();
        if args.json {
            json_line(&launches::launch_rows(&seen, latest, running))?
        } else {
            launches::launches_table(
                &seen,
                latest,
                running,
                crate::util::output::terminal_width(crate::util::output::Stream::Stdout),
            )
        }
    } else if args.json && args.history {
        // Every kept record as stored, oldest first: for scripts that check
        // each cut, not just the newest.
        json_line(&seen.history)?
    } else if args.json {
        json_line(&StatsJson {
            summary: Summary::of(latest, None),
            schema_version: seen.schema_version,
            launches: latest.launches,
            checkpoints: latest.checkpoints,
            checkpoint_unix_ms: latest.unix_ms,
            backups: backups_of(dir, latest),
            in_use_by,
        })?
    } else if args.history {
        history(&seen)
    } else {
        let shown = std::fs::canonicalize(&path).unwrap_or(path);
        table(
            &shown.display().to_string(),
            &seen,
            latest,
            &backups_of(dir, latest),
            in_use_by,
        )
    };
    // People read the tables on a terminal: fitted to it; JSON is never
    // wrapped (a wrap inside a string would change it).
    let text = if args.json {
        text
    } else {
        output::fit_to(output::Stream::Stdout, &text)
    };
    crate::cli::error::report("report", output::stdout_text(&text))
}

fn json_line(value: &impl Serialize) -> Result<String, Error> {
    serde_json::to_string(value)
        .map(|json| json + "\n")
        .map_err(Error::Encode)
}

fn table(
    file: &str,
    seen: &Inspection,
    r: &CheckpointRecord,
    backups: &BackupsJson,
    in_use_by: Option<u32>,
) -> String {
    let s = Summary::of(r, None);
    let age_secs = unix_ms_now().saturating_sub(r.unix_ms) as f64 / 1000.0;
    let mut out = String::new();
    let mut row = |k: &str, v: String| {
        let _ = writeln!(out, "{k:<22}{v}");
    };
    row(
        "checkpoint file",
        if seen.schema_version < schema::CURRENT {
            format!(
                "{file} (schema {}; the next `fizzflow run` upgrades it to schema {})",
                seen.schema_version,
                schema::CURRENT
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
            grouped(r.beats),
            grouped(r.beats_target),
            match (in_use_by, r.unfinished()) {
                (Some(pid), _) => format!("running now: in use by PID {pid}"),
                (None, true) => "unfinished: `fizzflow run` resumes it".into(),
                (None, false) => "finished".into(),
            }
        ),
    );
    row("messages", grouped(s.messages));
    row("  fizz", grouped(s.fizz));
    row("  buzz", grouped(s.buzz));
    row("  fizzbuzz", grouped(s.fizzbuzz));
    row("  value", grouped(s.value));
    let avg = if s.batches > 0 {
        s.messages as f64 / s.batches as f64
    } else {
        0.0
    };
    row(
        "batches",
        format!(
            "{} (average {:.1}, largest {})",
            grouped(s.batches),
            avg,
            grouped(s.max_batch)
        ),
    );
    row(
        "lifetime rate",
        format!(
            "{} msgs/s over {} s",
            scaled(s.msgs_per_sec),
            significant(s.elapsed_secs)
        ),
    );
    row("launches", grouped(r.launches));
    row(
        "restarts",
        r.restarts
            .shown()
            .iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect::<Vec<_>>()
            .join("  "),
    );
    row("sequence errors", grouped(s.sequence_errors));
    row("duplicates dropped", grouped(s.duplicates_dropped));
    row(
        "cut position",
        format!(
            "{} (the next value; a source pod resumes there)",
            grouped(s.cut_position)
        ),
    );
    row("checkpoints written", grouped(r.checkpoints));
    row(
        "backups",
        match backups.newest_launch {
            Some(launch) => format!(
                "{} (newest from launch {launch}; `fizzflow recover --list`)",
                backups.count
            ),
            None => "none yet (each launch writes one when it ends)".into(),
        },
    );
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
        let shown = rate.map(scaled).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "{:>6}  {:<20}  {:>14}  {:>14}",
            r.seq,
            utc(r.unix_ms),
            grouped(r.logger.messages),
            shown
        );
        rates.extend(rate);
        prev = Some(r);
    }
    let _ = writeln!(out, "msgs/s  {}", sparkline(&rates));
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_the_largest() {
        assert_eq!(sparkline(&[0.0, 50.0, 100.0]), "▁▅█");
        assert_eq!(sparkline(&[]), "");
        assert_eq!(sparkline(&[0.0, 0.0]), "▁▁");
    }
}
