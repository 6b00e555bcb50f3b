//! The ordered list of schema steps kept in `migrations/` (see its README),
//! and what a file of each schema holds, derived from those steps.

#[path = "../../migrations/v1.rs"]
pub mod v1;
#[path = "../../migrations/v2.rs"]
pub mod v2;
#[path = "../../migrations/v3.rs"]
pub mod v3;

use redb::{ReadableTable, WriteTransaction};

/// Why a step could not run.
pub use crate::durable::error::TxnError as StepError;

/// One schema step, run inside the caller's write transaction, and the
/// tables it creates.
struct Step {
    up: fn(&WriteTransaction) -> Result<(), StepError>,
    creates: &'static [&'static str],
}

fn v1_up(txn: &WriteTransaction) -> Result<(), StepError> {
    Ok(v1::up(txn)?)
}

/// Steps in order: `STEPS[i]` turns schema i into schema i + 1.
const STEPS: [Step; 3] = [
    Step {
        up: v1_up,
        creates: v1::CREATES,
    },
    Step {
        up: v2::up,
        creates: v2::CREATES,
    },
    Step {
        up: v3::up,
        creates: v3::CREATES,
    },
];

/// The schema this build writes.
pub const CURRENT: u64 = STEPS.len() as u64;

/// The tables of the current schema.
pub use v1::{CHECKPOINTS, META};
pub use v2::LAUNCHES;

/// The table names a file of `schema` has, sorted: what its steps created.
pub fn tables_at(schema: u64) -> Vec<String> {
    let mut names: Vec<String> = STEPS
        .iter()
        .take(schema as usize)
        .flat_map(|s| s.creates.iter().map(|n| n.to_string()))
        .collect();
    names.sort();
    names
}

pub const SCHEMA_KEY: &str = "schema_version";
pub const VERSION_KEY: &str = "fizzflow_version";

/// The schema version recorded in a file; 0 for a file with no meta table
/// (a brand-new one).
pub fn schema_version(txn: &WriteTransaction) -> Result<u64, StepError> {
    let meta = txn.open_table(META)?;
    let version = meta.get(SCHEMA_KEY)?;
    match version {
        None => Ok(0),
        Some(v) => v.value().parse().map_err(|_| {
            StepError::Damaged(format!("schema version '{}' is not a number", v.value()))
        }),
    }
}

/// "schema N, written by fizzflow V": what a refusal says of the file. The
/// meta table names the fizzflow that last wrote the file (the first two
/// releases both called themselves 0.1.0).
pub fn written_by(txn: &WriteTransaction, schema: u64) -> String {
    let version = txn.open_table(META).ok().and_then(|meta| {
        meta.get(VERSION_KEY)
            .ok()
            .flatten()
            .map(|v| v.value().to_string())
    });
    match version {
        Some(v) => format!("the file is schema {schema}, written by fizzflow {v}"),
        None => format!("the file is schema {schema}"),
    }
}

/// Applies the steps from `from` to [`CURRENT`] and stamps the file, in the
/// caller's transaction (committed by the caller, all or nothing).
pub fn upgrade(txn: &WriteTransaction, from: u64) -> Result<(), StepError> {
    for step in STEPS.iter().skip(from as usize) {
        (step.up)(txn)?;
    }
    let mut meta = txn.open_table(META)?;
    meta.insert(SCHEMA_KEY, CURRENT.to_string().as_str())?;
    meta.insert(VERSION_KEY, env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schema_has_the_tables_its_steps_created() {
        assert!(tables_at(0).is_empty());
        assert_eq!(tables_at(1), ["checkpoints", "meta"]);
        assert_eq!(tables_at(2), ["checkpoints", "launches", "meta"]);
        assert_eq!(tables_at(3), tables_at(2));
    }
}
