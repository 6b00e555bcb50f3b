//! `fizzflow stats --launches`: the launch history as a table for people
//! or as JSON, with what each launch added.

use crate::durable::launch_log::{LaunchEnd, LaunchRow, Point};
use crate::durable::read::Inspection;
use crate::durable::record::CheckpointRecord;
use crate::pipeline::Restarts;
use crate::util::time::utc;
use crate::util::units::grouped;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One launch for `stats --launches --json`: its row, with what it added
/// and how it ended in words. The field names are a contract with
/// scripts, kept here (the row's own fields are how it is stored).
#[derive(Serialize)]
pub(super) struct LaunchJson<'a> {
    #[serde(skip)]
    row: &'a LaunchRow,
    launch: u64,
    started_unix_ms: Option<u64>,
    ended_unix_ms: Option<u64>,
    start: Option<PointJson>,
    end: Option<PointJson>,
    /// Restarts per actor during this launch alone.
    restarts: Option<BTreeMap<&'a str, u64>>,
    /// The state dir's lifetime restarts when it started.
    restarts_before: Option<BTreeMap<&'a str, u64>>,
    fizzflow_version: Option<&'a str>,
    flags: Option<&'a [String]>,
    run_beats: Option<u64>,
    ended: String,
    added_beats: Option<u64>,
    added_messages: Option<u64>,
}

#[derive(Serialize)]
struct PointJson {
    beats: u64,
    messages: u64,
}

impl From<Point> for PointJson {
    fn from(p: Point) -> Self {
        PointJson {
            beats: p.beats,
            messages: p.messages,
        }
    }
}

fn by_actor(r: &Restarts) -> BTreeMap<&str, u64> {
    r.iter().collect()
}

/// How a launch ended, in words; a launch with no end recorded is running
/// if a fizzflow holds the dir now, and was killed otherwise.
fn ending(row: &LaunchRow, newest: bool, running: bool) -> String {
    match row.ending {
        LaunchEnd::Open if newest && running => "running".into(),
        LaunchEnd::Open => "killed (no end recorded)".into(),
        ref e => e.describe(),
    }
}

pub(super) fn launch_rows<'a>(
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
                launch: row.launch,
                started_unix_ms: row.started_unix_ms,
                ended_unix_ms: row.ended_unix_ms,
                start: row.start.map(Into::into),
                end: row.end.map(Into::into),
                restarts: row.restarts.as_ref().map(by_actor),
                restarts_before: row.restarts_before.as_ref().map(by_actor),
                fizzflow_version: row.fizzflow_version.as_deref(),
                flags: row.flags.as_deref(),
                run_beats: row.run_beats,
                ended: ending(row, i + 1 == count, running),
                added_beats: added.map(|a| a.beats),
                added_messages: added.map(|a| a.messages),
            }
        })
        .collect()
}

pub(super) fn launches_table(
    seen: &Inspection,
    latest: &CheckpointRecord,
    running: bool,
    width: Option<usize>,
) -> String {
    let when = |ms: Option<u64>| ms.map_or_else(|| "?".to_string(), utc);
    let mut added_sum = (0u64, 0u64);
    let mut unknown = Vec::new();
    let mut rows: Vec<[String; COLUMNS.len()]> = Vec::new();
    for json in launch_rows(seen, latest, running) {
        let row = json.row;
        let beats = match (row.start, row.end) {
            (Some(s), Some(e)) => format!("{} → {}", grouped(s.beats), grouped(e.beats)),
            (Some(s), None) => format!("{} → …", grouped(s.beats)),
            (None, Some(e)) => format!("? → {}", grouped(e.beats)),
            (None, None) => "?".into(),
        };
        match json.added_messages {
            Some(m) => {
                added_sum.0 += json.added_beats.unwrap_or(0);
                added_sum.1 += m;
            }
            None => unknown.push(row.launch),
        }
        rows.push([
            row.launch.to_string(),
            when(row.started_unix_ms),
            when(row.ended_unix_ms),
            json.ended,
            beats,
            json.added_messages.map_or_else(|| "?".into(), grouped),
            row.restarts
                .as_ref()
                .map_or_else(|| "?".into(), |r| grouped(r.total())),
            row.fizzflow_version.as_deref().unwrap_or("?").to_string(),
            row.flags
                .as_ref()
                .map_or_else(|| "?".into(), |f| f.join(" ")),
        ]);
    }
    let mut out = table(&rows, width);
    let (beats, messages) = (latest.beats, latest.logger.messages);
    if unknown.is_empty() {
        let _ = writeln!(
            out,
            "added up: {} beats, {} messages (lifetime: {} beats, {} messages)",
            grouped(added_sum.0),
            grouped(added_sum.1),
            grouped(beats),
            grouped(messages)
        );
    } else {
        let which = if unknown.len() == 1 {
            format!("launch {} predates", unknown[0])
        } else {
            format!("launches {} predate", span(&unknown))
        };
        let _ = writeln!(
            out,
            "{which} schema 2 and the checkpoints kept then: together {} beats, {} messages; the others {} beats, {} messages (lifetime: {} beats, {} messages)",
            grouped(beats.saturating_sub(added_sum.0)),
            grouped(messages.saturating_sub(added_sum.1)),
            grouped(added_sum.0),
            grouped(added_sum.1),
            grouped(beats),
            grouped(messages)
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

/// The launch table's columns: heading, right-aligned, and the order in
/// which a narrow terminal keeps them (lower first).
const COLUMNS: [(&str, bool, u8); 9] = [
    ("launch", true, 0),
    ("started (UTC)", false, 4),
    ("ended (UTC)", false, 6),
    ("how", false, 1),
    ("beats", true, 2),
    ("messages added", true, 3),
    ("restarts", true, 5),
    ("version", false, 7),
    ("flags", false, 8),
];

/// The rows as a table: every column in a pipe or a file; on a terminal of
/// `width` columns, the columns that fit, by priority, the flags cut to
/// what is left, and a line saying what was left out.
fn table(rows: &[[String; COLUMNS.len()]], width: Option<usize>) -> String {
    let len = |s: &str| s.chars().count();
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|c| {
            rows.iter()
                .map(|r| len(&r[c]))
                .fold(len(COLUMNS[c].0), usize::max)
        })
        .collect();
    let mut shown = [true; COLUMNS.len()];
    let mut flags_width = widths[COLUMNS.len() - 1];
    if let Some(width) = width {
        shown = [false; COLUMNS.len()];
        let mut used = 0;
        let mut by_priority: Vec<usize> = (0..COLUMNS.len()).collect();
        by_priority.sort_by_key(|&c| COLUMNS[c].2);
        for c in by_priority {
            let need = widths[c] + if used == 0 { 0 } else { 2 };
            let flags = c == COLUMNS.len() - 1;
            if used + need <= width {
                shown[c] = true;
                used += need;
            } else if flags && width.saturating_sub(used + 2) >= 12 {
                shown[c] = true;
                flags_width = width - used - 2;
            }
        }
    }
    let cell = |c: usize, text: &str| {
        let w = if c == COLUMNS.len() - 1 {
            flags_width
        } else {
            widths[c]
        };
        let text: String = if len(text) > w {
            text.chars()
                .take(w.saturating_sub(1))
                .chain(['…'])
                .collect()
        } else {
            text.to_string()
        };
        if COLUMNS[c].1 {
            format!("{text:>w$}")
        } else {
            format!("{text:<w$}")
        }
    };
    let line = |texts: [&str; COLUMNS.len()]| {
        let cells: Vec<String> = (0..COLUMNS.len())
            .filter(|&c| shown[c])
            .map(|c| cell(c, texts[c]))
            .collect();
        cells.join("  ").trim_end().to_string() + "\n"
    };
    let mut out = line(COLUMNS.map(|c| c.0));
    for row in rows {
        out.push_str(&line(std::array::from_fn(|c| row[c].as_str())));
    }
    let left_out: Vec<&str> = (0..COLUMNS.len())
        .filter(|&c| !shown[c])
        .map(|c| COLUMNS[c].0)
        .collect();
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "(not shown at this width: {}; a wider terminal or --json shows them)",
            left_out.join(", ")
        );
    }
    out
}
