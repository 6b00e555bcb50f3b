//! Schema 3: the restart counts are keyed by actor name, in every
//! checkpoint record and every launch row, so that an actor can be added
//! (or a pod can run some of the actors) without another schema. Schema 2
//! had one field for each of the four actors it knew; they become the
//! entries `heartbeat`, `generator`, `worker` and `logger`. Nothing else
//! changes: the same values, the same codec (bincode 2 and a CRC-32).
//!
//! Schema-3 records are written with the codec of src/durable/record.rs and
//! rows with that of src/durable/launch_log.rs. The step that changes
//! either must first freeze the schema-3 types here, as v2.rs does for
//! schema 2.

use super::v1::CHECKPOINTS;
use super::v2::{EndingV2, LAUNCHES, LaunchRowV2, PointV2, RecordV2, RestartsV2, unseal};
use crate::durable::launch_log::{LaunchEnd, LaunchRow, Point};
use crate::durable::record::{CheckpointRecord, RunSettings};
use crate::pipeline::message::KindCounts;
use crate::pipeline::stats::{LoggerStats, Restarts};
use redb::{ReadableTable, WriteTransaction};

/// The tables this step creates: none.
pub const CREATES: &[&str] = &[];

pub fn up(txn: &WriteTransaction) -> Result<(), super::StepError> {
    let damaged = |what: &'static str, key: u64| {
        move |e: crate::durable::codec::CodecError| {
            super::StepError::Damaged(format!("{what} {key}: {e}"))
        }
    };
    let records: Vec<CheckpointRecord> = {
        let table = txn.open_table(CHECKPOINTS)?;
        let mut all = Vec::new();
        for entry in table.iter()? {
            let (key, bytes) = entry?;
            let old: RecordV2 =
                unseal(bytes.value()).map_err(damaged("checkpoint", key.value()))?;
            all.push(record(&old));
        }
        all
    };
    let rows: Vec<LaunchRow> = {
        let table = txn.open_table(LAUNCHES)?;
        let mut all = Vec::new();
        for entry in table.iter()? {
            let (key, bytes) = entry?;
            let old: LaunchRowV2 = unseal(bytes.value()).map_err(damaged("launch", key.value()))?;
            all.push(row(&old));
        }
        all
    };
    let mut table = txn.open_table(CHECKPOINTS)?;
    for rec in &records {
        table.insert(rec.seq, rec.encode().as_slice())?;
    }
    let mut table = txn.open_table(LAUNCHES)?;
    for row in &rows {
        table.insert(row.launch, row.encode().as_slice())?;
    }
    Ok(())
}

fn restarts(r: &RestartsV2) -> Restarts {
    [
        ("heartbeat", r.heartbeat),
        ("generator", r.generator),
        ("worker", r.worker),
        ("logger", r.logger),
    ]
    .into_iter()
    .collect()
}

/// A schema-2 record as a schema-3 one.
pub fn record(r: &RecordV2) -> CheckpointRecord {
    let (l, s) = (&r.logger, &r.settings);
    CheckpointRecord {
        seq: r.seq,
        unix_ms: r.unix_ms,
        settings: RunSettings {
            generator_batch: s.generator_batch,
            worker_batch: s.worker_batch,
            logger_batch: s.logger_batch,
            channel_capacity: s.channel_capacity,
        },
        beats: r.beats,
        beats_target: r.beats_target,
        generator_position: r.generator_position,
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
        restarts: restarts(&r.restarts),
        launches: r.launches,
        checkpoints: r.checkpoints,
        run_secs: r.run_secs,
    }
}

/// A schema-2 launch row as a schema-3 one.
fn row(r: &LaunchRowV2) -> LaunchRow {
    let point = |p: &PointV2| Point {
        beats: p.beats,
        messages: p.messages,
    };
    LaunchRow {
        launch: r.launch,
        started_unix_ms: r.started_unix_ms,
        ended_unix_ms: r.ended_unix_ms,
        ending: match &r.ending {
            EndingV2::Open => LaunchEnd::Open,
            EndingV2::Finished => LaunchEnd::Finished,
            EndingV2::Stopped => LaunchEnd::Stopped,
            EndingV2::Failed(code) => LaunchEnd::Failed(*code),
            EndingV2::Killed => LaunchEnd::Killed,
            EndingV2::BeforeSchema2 => LaunchEnd::BeforeSchema2,
        },
        start: r.start.as_ref().map(point),
        end: r.end.as_ref().map(point),
        restarts: r.restarts.as_ref().map(restarts),
        restarts_before: r.restarts_before.as_ref().map(restarts),
        fizzflow_version: r.fizzflow_version.clone(),
        flags: r.flags.clone(),
        run_beats: r.run_beats,
    }
}
