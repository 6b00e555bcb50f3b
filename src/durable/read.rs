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

/// Why a copy could not be read.
#[derive(Debug, PartialEq)]
pub enum Problem {
    /// The file's content: refuse it (exit 4) and leave it alone.
    Damaged(String),
    /// Not the file's fault: a full disk, a killed checker… (exit 1).
    Io(String),
    /// Sound, as far as can be told, but written by a newer fizzflow
    /// (exit 4, and not damage: `recover` leaves it alone).
    Newer(String),
}

/// Sorts redb's errors by their type, never by their text: I/O failures
/// are the machine's, anything else is the file's.
fn problem(what: &str) -> impl Fn(redb::Error) -> Problem + '_ {
    move |e| match e {
        // Running out of bytes is the file's: the private copy holds all of
        // it, so a read past its end means it is cut short (shorter than
        // redb's header, or than a page it refers to).
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Problem::Damaged(
            format!("is damaged: {what}: it ends where redb expects more ({io})"),
        ),
        // Any other I/O error is about the machine (the copy's disk), not
        // the file: the message must not call the file damaged.
        redb::Error::Io(io) => Problem::Io(format!("the check of a private copy failed: {io}")),
        // fizzflow has only ever written redb file format 3, so a header
        // that claims another is damage (one flipped bit of that byte gives
        // 1, 2 or something above 3), never "a newer redb": redb names
        // formats 1 and 2 by this error, any other by `Corrupted`. Only the
        // schema version in fizzflow's own meta table can say "newer".
        redb::Error::UpgradeRequired(format) => Problem::Damaged(format!(
            "{what}: it is damaged: its header claims redb file format {format}, and fizzflow only ever wrote format 3"
        )),
        e => Problem::Damaged(format!("{what}: {e}")),
    }
}

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
    let schema_version = schema::schema_version(&txn).map_err(Problem::Damaged)?;
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
    let expected = schema::tables_at(schema_version);
    if names != expected {
        return Err(damaged(format!(
            "is damaged: it has the tables {names:?}, and schema {schema_version} has {expected:?}"
        )));
    }
    schema::upgrade(&txn, schema_version).map_err(|e| match e {
        StepError::Redb(e) => problem("cannot be upgraded")(e),
        StepError::Damaged(why) => damaged(format!("is damaged: {why}")),
    })?;
    let history = {
        let mut table = txn
            .open_table(CHECKPOINTS)
            .map_err(|e| problem("cannot open its checkpoints")(e.into()))?;
        let history = read_history(&table).map_err(damaged)?;
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
        launch_log::read(&table, history.last()).map_err(damaged)?
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
) -> Result<Vec<CheckpointRecord>, String> {
    let mut history: Vec<CheckpointRecord> = Vec::new();
    for row in table
        .iter()
        .map_err(|e| format!("cannot list checkpoints: {e}"))?
    {
        let (seq, bytes) = row.map_err(|e| format!("cannot read a checkpoint: {e}"))?;
        let rec = CheckpointRecord::decode(bytes.value())
            .map_err(|e| format!("is damaged: checkpoint {}: {e}", seq.value()))?;
        if rec.seq != seq.value() {
            return Err(format!(
                "is damaged: checkpoint {} claims to be number {}",
                seq.value(),
                rec.seq
            ));
        }
        rec.check()
            .map_err(|e| format!("is damaged: checkpoint {} {e}", rec.seq))?;
        if let Some(previous) = history.last() {
            rec.check_follows(previous)
                .map_err(|e| format!("is damaged: checkpoint {} {e}", rec.seq))?;
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
