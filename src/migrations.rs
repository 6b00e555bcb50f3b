//! The ordered list of schema steps kept in `migrations/` (see its README).

#[path = "../migrations/v1.rs"]
pub mod v1;

use redb::{ReadableTable, WriteTransaction};

/// One schema step, run inside the caller's write transaction.
type Step = fn(&WriteTransaction) -> Result<(), redb::Error>;

/// Steps in order: `STEPS[i]` turns schema i into schema i + 1.
const STEPS: [Step; 1] = [v1::up];

/// The schema this build writes.
pub const CURRENT: u64 = STEPS.len() as u64;

/// The tables of the current schema.
pub use v1::{CHECKPOINTS, META};

/// The table names a file of each schema has, sorted (index = schema).
const TABLES: [&[&str]; 2] = [&[], &["checkpoints", "meta"]];

pub fn tables_at(schema: u64) -> Vec<String> {
    TABLES
        .get(schema as usize)
        .map(|names| names.iter().map(|n| n.to_string()).collect())
        .unwrap_or_default()
}

pub const SCHEMA_KEY: &str = "schema_version";
pub const VERSION_KEY: &str = "fizzflow_version";

/// The schema version recorded in a file; 0 for a file with no meta table
/// (a brand-new one).
pub fn schema_version(txn: &WriteTransaction) -> Result<u64, String> {
    let meta = match txn.open_table(META) {
        Ok(t) => t,
        Err(e) => return Err(format!("cannot open the meta table: {e}")),
    };
    let version = meta
        .get(SCHEMA_KEY)
        .map_err(|e| format!("cannot read the schema version: {e}"))?;
    match version {
        None => Ok(0),
        Some(v) => v
            .value()
            .parse()
            .map_err(|_| format!("schema version '{}' is not a number", v.value())),
    }
}

/// Applies the steps from `from` to [`CURRENT`] and stamps the file, in the
/// caller's transaction (committed by the caller, all or nothing).
pub fn upgrade(txn: &WriteTransaction, from: u64) -> Result<(), redb::Error> {
    for step in &STEPS[from as usize..] {
        step(txn)?;
    }
    let mut meta = txn.open_table(META)?;
    meta.insert(SCHEMA_KEY, CURRENT.to_string().as_str())?;
    meta.insert(VERSION_KEY, env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
