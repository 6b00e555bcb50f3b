//! The launch history (schema 2 on): one row per launch of a state dir, in the
//! `launches` table, keyed by the launch's number. A row is written in the
//! transaction that commits its launch record, and its end in the
//! transaction that commits its final checkpoint; a launch that never
//! recorded an end is marked killed by the next launch, in that launch's
//! first transaction, with the totals of the last checkpoint it committed.
//! So each launch starts where the one before it ended, and what the
//! launches added sums to the lifetime totals.

use crate::durable::codec::{self, CodecError};
use crate::durable::error::{Problem, TxnError, problem};
use crate::durable::record::CheckpointRecord;
use crate::durable::schema::LAUNCHES;
use crate::pipeline::stats::Restarts;
use redb::{ReadableTable, WriteTransaction};
use serde::{Deserialize, Serialize};

/// The totals at one moment of a launch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Point {
    pub beats: u64,
    pub messages: u64,
}

impl Point {
    pub fn of(rec: &CheckpointRecord) -> Point {
        Point {
            beats: rec.beats,
            messages: rec.logger.messages,
        }
    }
}

/// How a launch ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LaunchEnd {
    /// No end recorded yet: running now, or killed and not yet noticed.
    Open,
    /// It ran every beat of its target.
    Finished,
    /// A signal stopped it; the beats already sent drained.
    Stopped,
    /// The pipeline ended but the launch failed with this exit code
    /// (its logger found wrong messages).
    Failed(i32),
    /// It recorded no end: killed, or a failure it could not record (a
    /// full disk); noticed by the next launch.
    Killed,
    /// Upgraded from schema 1, which kept no launch history: how it ended
    /// is not known, and what else is not known is empty.
    BeforeSchema2,
}

impl LaunchEnd {
    pub fn describe(&self) -> String {
        match self {
            LaunchEnd::Open => "no end recorded".into(),
            LaunchEnd::Finished => "finished".into(),
            LaunchEnd::Stopped => "stopped by signal".into(),
            LaunchEnd::Failed(code) => format!("failed (exit {code})"),
            LaunchEnd::Killed => "killed".into(),
            LaunchEnd::BeforeSchema2 => "predates schema 2".into(),
        }
    }
}

/// One launch. Fields are None where the launch predates schema 2 and its
/// checkpoints were no longer kept when the file was upgraded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LaunchRow {
    /// 1, 2, 3…: the `launches` count of its launch record.
    pub launch: u64,
    pub started_unix_ms: Option<u64>,
    pub ended_unix_ms: Option<u64>,
    pub ending: LaunchEnd,
    pub start: Option<Point>,
    pub end: Option<Point>,
    /// Restarts per actor during this launch alone.
    pub restarts: Option<Restarts>,
    /// The state dir's lifetime restarts when it started, so that a launch
    /// that was killed can still be credited with its own.
    pub restarts_before: Option<Restarts>,
    pub fizzflow_version: Option<String>,
    /// The flags given on its command line.
    pub flags: Option<Vec<String>>,
    /// The `--beats` that set the target of the run it belongs to.
    pub run_beats: Option<u64>,
}

impl LaunchRow {
    /// The row of the launch whose launch record is `launch`.
    pub fn opening(launch: &CheckpointRecord, flags: Vec<String>, run_beats: Option<u64>) -> Self {
        LaunchRow {
            launch: launch.launches,
            started_unix_ms: Some(launch.unix_ms),
            ended_unix_ms: None,
            ending: LaunchEnd::Open,
            start: Some(Point::of(launch)),
            end: None,
            restarts: None,
            restarts_before: Some(launch.restarts.clone()),
            fizzflow_version: Some(env!("CARGO_PKG_VERSION").to_string()),
            flags: Some(flags),
            run_beats,
        }
    }
}

impl LaunchRow {
    /// See durable/codec.rs.
    pub fn encode(&self) -> Vec<u8> {
        codec::seal(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<LaunchRow, CodecError> {
        codec::unseal(bytes)
    }

    /// What this launch added, if both ends are known. A launch with no
    /// end recorded has added what the newest checkpoint holds beyond its
    /// start.
    pub fn added(&self, latest: &CheckpointRecord) -> Option<Point> {
        let start = self.start?;
        let end = match (self.end, &self.ending) {
            (Some(end), _) => end,
            (None, LaunchEnd::Open) => Point::of(latest),
            (None, _) => return None,
        };
        Some(Point {
            beats: end.beats.checked_sub(start.beats)?,
            messages: end.messages.checked_sub(start.messages)?,
        })
    }
}

/// Records the start of a launch (in the launch record's transaction),
/// first closing the one before it as killed if it never recorded an end.
pub fn begin(
    txn: &WriteTransaction,
    row: &LaunchRow,
    previous: Option<&CheckpointRecord>,
) -> Result<(), TxnError> {
    let mut table = txn.open_table(LAUNCHES)?;
    let last = match table.last()? {
        Some((key, bytes)) => {
            Some(
                LaunchRow::decode(bytes.value()).map_err(|source| TxnError::Value {
                    what: format!("launch {}", key.value()),
                    source,
                })?,
            )
        }
        None => None,
    };
    if let (Some(mut last), Some(previous)) = (last, previous)
        && last.ending == LaunchEnd::Open
    {
        last.ending = LaunchEnd::Killed;
        last.end = Some(Point::of(previous));
        last.ended_unix_ms = Some(previous.unix_ms);
        last.restarts = last
            .restarts_before
            .as_ref()
            .map(|before| previous.restarts.since(before));
        table.insert(last.launch, last.encode().as_slice())?;
    }
    table.insert(row.launch, row.encode().as_slice())?;
    Ok(())
}

/// Records how launch `launch` ended (in its final checkpoint's transaction).
pub fn close(
    txn: &WriteTransaction,
    launch: u64,
    ending: LaunchEnd,
    last: &CheckpointRecord,
    restarts: Restarts,
) -> Result<(), TxnError> {
    let mut table = txn.open_table(LAUNCHES)?;
    let bytes = table
        .get(launch)?
        .map(|b| b.value().to_vec())
        .ok_or(TxnError::NoRow(launch))?;
    let mut row = LaunchRow::decode(&bytes).map_err(|source| TxnError::Value {
        what: format!("launch {launch}"),
        source,
    })?;
    row.ending = ending;
    row.end = Some(Point::of(last));
    row.ended_unix_ms = Some(last.unix_ms);
    row.restarts = Some(restarts);
    table.insert(launch, row.encode().as_slice())?;
    Ok(())
}

/// Every row, decoded and checked against the checkpoint history: one row
/// per launch, numbered from 1, each starting where the one before ended.
pub fn read(
    table: &impl ReadableTable<u64, &'static [u8]>,
    latest: Option<&CheckpointRecord>,
) -> Result<Vec<LaunchRow>, Problem> {
    let damaged = |why: String| Problem::Damaged(format!("is damaged: {why}"));
    let mut rows: Vec<LaunchRow> = Vec::new();
    for entry in table
        .iter()
        .map_err(|e| problem("cannot list its launches")(e.into()))?
    {
        let (key, bytes) = entry.map_err(|e| problem("cannot read a launch")(e.into()))?;
        let row = LaunchRow::decode(bytes.value())
            .map_err(|e| damaged(format!("launch {}: {e}", key.value())))?;
        let expected = rows.len() as u64 + 1;
        if row.launch != key.value() || row.launch != expected {
            return Err(damaged(format!(
                "launch row {} (key {}) where launch {expected} was due",
                row.launch,
                key.value()
            )));
        }
        if let (Some(before), Some(start)) = (rows.last().and_then(|r| r.end), row.start)
            && before != start
        {
            return Err(damaged(format!(
                "launch {} starts at {start:?}, not where launch {} ended",
                row.launch,
                row.launch - 1
            )));
        }
        if let (Some(start), Some(end)) = (row.start, row.end)
            && (end.beats < start.beats || end.messages < start.messages)
        {
            return Err(damaged(format!(
                "launch {} ends before it starts",
                row.launch
            )));
        }
        rows.push(row);
    }
    let launches = latest.map_or(0, |r| r.launches);
    if rows.len() as u64 != launches {
        return Err(damaged(format!(
            "{} launch rows for {launches} launches",
            rows.len()
        )));
    }
    Ok(rows)
}
