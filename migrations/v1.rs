//! Schema 1: creates the tables. A later schema adds `v2.rs` with an `up`
//! that converts schema 1 into schema 2 inside the same write transaction.

use redb::{TableDefinition, WriteTransaction};

/// `schema_version` and `fizzflow_version`, as text so a person can read
/// them with any redb tool.
pub const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// Checkpoint history: sequence number → bincode 2 `CheckpointRecord`.
pub const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");

pub fn up(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(META)?;
    txn.open_table(CHECKPOINTS)?;
    Ok(())
}
