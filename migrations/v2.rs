//! Schema 2: every checkpoint record is re-encoded with a CRC-32 (crc32fast)
//! in place of schema 1's hand-written FNV-1a, and the file gets a launch
//! history, the `launches` table (see src/durable/launch_log.rs), with one row per
//! launch rebuilt from the schema-1 history.
//!
//! Schema 1 kept no launch history, only the last `--checkpoint-history`
//! checkpoints, each with the count of launches so far. A launch whose
//! launch record is among them gets its start (time, beats, messages) and
//! its end (its last kept checkpoint); the restarts it saw are the
//! difference of the lifetime counts. Launches older than the kept
//! checkpoints get a row with those left unknown. How any of them ended is
//! not known: they are all marked as predating schema 2.
//!
//! Schema-2 records are written with the codec of src/durable/record.rs and rows
//! with that of src/durable/launch_log.rs. When a later schema changes either,
//! freeze the schema-2 types into this file first, as v1.rs does for
//! schema 1.

use super::v1::{CHECKPOINTS, RecordV1};
use crate::durable::launch_log::{Ending, LaunchRow, Point};
use crate::durable::record::{CheckpointRecord, RunSettings};
use crate::pipeline::message::KindCounts;
use crate::pipeline::stats::{LoggerStats, Restarts};
use redb::{ReadableTable, TableDefinition, WriteTransaction};

/// Launch history: launch number → encoded [`LaunchRow`].
pub const LAUNCHES: TableDefinition<u64, &[u8]> = TableDefinition::new("launches");

/// The tables this step creates.
pub const CREATES: &[&str] = &["launches"];

pub fn up(txn: &WriteTransaction) -> Result<(), super::StepError> {
    let old: Vec<RecordV1> = {
        let table = txn.open_table(CHECKPOINTS)?;
        let mut old = Vec::new();
        for entry in table.iter()? {
            let (key, bytes) = entry?;
            let rec = RecordV1::decode(bytes.value()).map_err(|e| {
                super::StepError::Damaged(format!("checkpoint {}: {e}", key.value()))
            })?;
            old.push(rec);
        }
        old
    };
    let history: Vec<CheckpointRecord> = old.iter().map(convert).collect();
    {
        let mut table = txn.open_table(CHECKPOINTS)?;
        for rec in &history {
            table.insert(rec.seq, rec.encode().as_slice())?;
        }
    }
    let mut launches = txn.open_table(LAUNCHES)?;
    for row in rebuild_launches(&history) {
        launches.insert(row.launch, row.encode().as_slice())?;
    }
    Ok(())
}

/// A schema-1 record as a schema-2 one: the same values, field by field.
fn convert(v1: &RecordV1) -> CheckpointRecord {
    let l = &v1.logger;
    CheckpointRecord {
        seq: v1.seq,
        unix_ms: v1.unix_ms,
        settings: RunSettings {
            generator_batch: v1.settings.generator_batch,
            worker_batch: v1.settings.worker_batch,
            logger_batch: v1.settings.logger_batch,
            channel_capacity: v1.settings.channel_capacity,
        },
        beats: v1.beats,
        beats_target: v1.beats_target,
        generator_position: v1.generator_position,
        logger: LoggerStats {
            messages: l.messages,
            counts: KindCounts {
                fizz: l.counts.fizz,
                buzz: l.counts.buzz,
                fizzbuzz: l.counts.fizzbuzz,
                value: l.counts.value,
            },
            batches: l.batches,
            max_batch: l.max_batch,
            sequence_errors: l.sequence_errors,
            duplicates_dropped: l.duplicates_dropped,
            next_expected: l.next_expected,
        },
        restarts: Restarts {
            heartbeat: v1.restarts.heartbeat,
            generator: v1.restarts.generator,
            worker: v1.restarts.worker,
            logger: v1.restarts.logger,
        },
        launches: v1.launches,
        checkpoints: v1.checkpoints,
        run_secs: v1.run_secs,
    }
}

/// One row per launch, from what the kept checkpoints say of each.
pub fn rebuild_launches(history: &[CheckpointRecord]) -> Vec<LaunchRow> {
    let Some(latest) = history.last() else {
        return Vec::new();
    };
    (1..=latest.launches)
        .map(|launch| {
            let mine: Vec<&CheckpointRecord> =
                history.iter().filter(|r| r.launches == launch).collect();
            // Its launch record is kept if it is the first record of the
            // file or follows a record of the launch before.
            let first = mine.first().copied().filter(|r| {
                r.seq == 1
                    || history
                        .iter()
                        .any(|p| p.seq + 1 == r.seq && p.launches + 1 == launch)
            });
            let last = mine.last().copied();
            // The first launch starts from nothing, kept or not.
            let at_start = |get: fn(&CheckpointRecord) -> Restarts| {
                first.map(get).or((launch == 1).then(Restarts::default))
            };
            LaunchRow {
                launch,
                started_unix_ms: first.map(|r| r.unix_ms),
                ended_unix_ms: last.map(|r| r.unix_ms),
                ending: Ending::BeforeSchema2,
                start: first.map(Point::of).or((launch == 1).then(Point::default)),
                end: last.map(Point::of),
                restarts: at_start(|r| r.restarts)
                    .zip(last)
                    .map(|(before, end)| end.restarts.since(&before)),
                restarts_before: at_start(|r| r.restarts),
                fizzflow_version: None,
                flags: None,
                run_beats: first.and_then(|r| run_beats(history, r)),
            }
        })
        .collect()
}

/// The `--beats` of the run a launch record belongs to, when the record
/// that set that run's target is kept: target minus the beats it started at.
fn run_beats(history: &[CheckpointRecord], launch: &CheckpointRecord) -> Option<u64> {
    let target = launch.beats_target;
    let mut started = launch;
    for r in history.iter().rev().skip_while(|r| r.seq >= launch.seq) {
        if r.beats_target != target || r.beats == r.beats_target {
            return target.checked_sub(started.beats);
        }
        started = r;
    }
    // The run began with the first kept record only if that is record 1.
    (started.seq == 1)
        .then(|| target.checked_sub(started.beats))
        .flatten()
}
