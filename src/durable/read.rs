//! Reading a copy of a checkpoint file completely: its tables, schema,
//! every record and launch row, checked. Damage can make redb panic, so
//! the binary runs this in a child process (see probe.rs).

use crate::durable::launch_log::{self, LaunchRow};
use crate::durable::record::CheckpointRecord;
use crate::durable::schema::{self, CHECKPOINTS, LAUNCHES, StepError};
use redb::{Database, ReadableTable, TableHandle};
use std::path::Path;

/// Everything a checkpoint file holds, read from a private copy (upgraded
/// in memory to the current schema if it is older).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Inspection {
    /// The schema the file itself is written in.
    pub schema_version: u64,
    pub history: Vec<CheckpointRecord>,
    pub launches: Vec<LaunchRow>,
}

impl Inspection {
    pub fn latest(&self) -> Option<&CheckpointRecord> {
        self.history.last()
    }
}

pub use crate::durable::error::Problem;
use crate::durable::error::problem;

/// Reads everything and exercises the write path (a commit that inserts and
/// removes a record, then a clean close), on a copy that nobody else uses.
/// Damage can make redb panic, even twice over (a destructor panicking while
/// unwinding aborts the process), which is why the binary runs this in a
/// child process (see probe.rs).
pub fn read_and_exercise(copy: &Path) -> Result<Inspection, Problem> {
    let db = Database::builder()
        .open(copy)
        .map_err(|e| problem("cannot be opened as a database")(e.into()))?;
    let txn = db
        .begin_write()
        .map_err(|e| problem("cannot be read")(e.into()))?;
    // Before anything opens (and so creates) a table: a damaged table name
    // would otherwise read as an empty history, i.e. a silent start from zero.
    let mut names: Vec<String> = txn
        .list_tables()
        .map_err(|e| problem("cannot list its tables")(e.into()))?
        .map(|t| t.name().to_string())
        .collect();
    names.sort();
    let schema_version = schema::schema_version(&txn).map_err(|e| match e {
        StepError::Redb(e) => problem("cannot be read")(e),
        e => Problem::Damaged(e.to_string()),
    })?;
    if schema_version > schema::CURRENT {
        return Err(Problem::Newer(format!(
            "was written by a newer fizzflow (schema {schema_version}; this build reads up to {})",
            schema::CURRENT
        )));
    }
    if schema_version == 0 {
        return Err(Problem::Damaged(
            "has no fizzflow schema (it is some other redb database)".into(),
        ));
    }
    // Which schema and release wrote the file, for every refusal below:
    // a rule an old release did not keep is a migration's business, not
    // damage, and the message must let a person tell which it is.
    let writer = schema::written_by(&txn, schema_version);
    let damaged = |why: String| Problem::Damaged(format!("{why} ({writer})"));
    let with_writer = |p: Problem| match p {
        Problem::Damaged(why) => damaged(why),
        p => p,
    };
    let expected = schema::tables_at(schema_version);
    if names != expected {
        return Err(damaged(format!(
            "is damaged: it has the tables {names:?}, and schema {schema_version} has {expected:?}"
        )));
    }
    schema::upgrade(&txn, schema_version).map_err(|e| match e {
        StepError::Redb(e) => problem("cannot be upgraded")(e),
        e => damaged(format!("is damaged: {e}")),
    })?;
    let history = {
        let mut table = txn
            .open_table(CHECKPOINTS)
            .map_err(|e| problem("cannot open its checkpoints")(e.into()))?;
        let history = read_history(&table).map_err(with_writer)?;
        let write = problem("is damaged (a test write failed)");
        table
            .insert(u64::MAX, &b"probe"[..])
            .map_err(|e| write(e.into()))?;
        table.remove(u64::MAX).map_err(|e| write(e.into()))?;
        history
    };
    let launches = {
        let table = txn
            .open_table(LAUNCHES)
            .map_err(|e| problem("cannot open its launches")(e.into()))?;
        launch_log::read(&table, history.last()).map_err(with_writer)?
    };
    txn.commit()
        .map_err(|e| problem("is damaged (a test commit failed)")(e.into()))?;
    drop(db);
    Ok(Inspection {
        schema_version,
        history,
        launches,
    })
}

/// Every record, decoded and checked on its own and against the one before.
pub fn read_history(
    table: &impl ReadableTable<u64, &'static [u8]>,
) -> Result<Vec<CheckpointRecord>, Problem> {
    let damaged = |why: String| Problem::Damaged(format!("is damaged: {why}"));
    let mut history: Vec<CheckpointRecord> = Vec::new();
    for row in table
        .iter()
        .map_err(|e| problem("cannot list its checkpoints")(e.into()))?
    {
        let (seq, bytes) = row.map_err(|e| problem("cannot read a checkpoint")(e.into()))?;
        let rec = CheckpointRecord::decode(bytes.value())
            .map_err(|e| damaged(format!("checkpoint {}: {e}", seq.value())))?;
        if rec.seq != seq.value() {
            return Err(damaged(format!(
                "checkpoint {} claims to be number {}",
                seq.value(),
                rec.seq
            )));
        }
        rec.check()
            .map_err(|e| damaged(format!("checkpoint {} {e}", rec.seq)))?;
        if let Some(previous) = history.last() {
            rec.check_follows(previous)
                .map_err(|e| damaged(format!("checkpoint {} {e}", rec.seq)))?;
        }
        history.push(rec);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_io_error_is_the_machines_and_never_called_damage() {
        let io = redb::Error::Io(std::io::Error::other("No space left on device"));
        match problem("is damaged (a test write failed)")(io) {
            Problem::Io(m) => {
                assert!(!m.contains("damaged"), "{m}");
                assert!(m.contains("No space left on device"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        let other = redb::Error::Corrupted("bad page".into());
        assert!(matches!(
            problem("cannot be read")(other),
            Problem::Damaged(m) if m.contains("bad page")
        ));
        let cut = redb::Error::Io(std::io::ErrorKind::UnexpectedEof.into());
        assert!(matches!(
            problem("cannot be read")(cut),
            Problem::Damaged(_)
        ));
    }

    #[test]
    fn a_redb_format_other_than_3_is_damage_whatever_redb_says() {
        // One flipped bit of the format byte: 3 becomes 2 or 1 (redb asks
        // for an upgrade) or something above 3 (redb says corrupted, in
        // words that once read as "a newer redb").
        for e in [
            redb::Error::UpgradeRequired(2),
            redb::Error::UpgradeRequired(1),
            redb::Error::Corrupted("Expected file format version <= 3, found 7".into()),
        ] {
            assert!(
                matches!(
                    problem("cannot be opened as a database")(e),
                    Problem::Damaged(_)
                ),
                "damage"
            );
        }
    }
}
