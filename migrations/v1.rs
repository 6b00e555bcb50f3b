//! Schema 1: creates the tables; and the schema-1 record, frozen.
//!
//! Nothing in this file may change: it is how every schema-1 file in the
//! world was written. bincode stores no field names, so the record type
//! below (nested types included) is the only way to read those bytes.

use crate::durable::codec::CodecError;
use redb::{TableDefinition, WriteTransaction};
use serde::Deserialize;

/// `schema_version` and `fizzflow_version`, as text so a person can read
/// them with any redb tool.
pub const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// Checkpoint history: sequence number → encoded record.
pub const CHECKPOINTS: TableDefinition<u64, &[u8]> = TableDefinition::new("checkpoints");

/// The tables this step creates.
pub const CREATES: &[&str] = &["meta", "checkpoints"];

pub fn up(txn: &WriteTransaction) -> Result<(), redb::Error> {
    txn.open_table(META)?;
    txn.open_table(CHECKPOINTS)?;
    Ok(())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct SettingsV1 {
    pub generator_batch: u64,
    pub worker_batch: u64,
    pub logger_batch: u64,
    pub channel_capacity: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct CountsV1 {
    pub fizz: u64,
    pub buzz: u64,
    pub fizzbuzz: u64,
    pub value: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct LoggerV1 {
    pub messages: u64,
    pub counts: CountsV1,
    pub batches: u64,
    pub max_batch: u64,
    pub sequence_errors: u64,
    pub duplicates_dropped: u64,
    pub next_expected: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub struct RestartsV1 {
    pub heartbeat: u64,
    pub generator: u64,
    pub worker: u64,
    pub logger: u64,
}

/// A schema-1 checkpoint record: bincode 2 (standard config) followed by
/// the FNV-1a 64 checksum of those bytes, little-endian.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct RecordV1 {
    pub seq: u64,
    pub unix_ms: u64,
    pub settings: SettingsV1,
    pub beats: u64,
    pub beats_target: u64,
    pub generator_position: u64,
    pub logger: LoggerV1,
    pub restarts: RestartsV1,
    pub launches: u64,
    pub checkpoints: u64,
    pub run_secs: f64,
}

impl RecordV1 {
    pub fn decode(bytes: &[u8]) -> Result<RecordV1, CodecError> {
        let split = bytes
            .len()
            .checked_sub(8)
            .ok_or(CodecError::TooShort(bytes.len()))?;
        let (body, sum) = bytes.split_at(split);
        if fnv1a64(body).to_le_bytes() != sum {
            return Err(CodecError::Checksum);
        }
        let (rec, used) = bincode::serde::decode_from_slice(body, bincode::config::standard())
            .map_err(|e| CodecError::Decode(e.to_string()))?;
        if used != body.len() {
            return Err(CodecError::Trailing(body.len() - used));
        }
        Ok(rec)
    }
}

/// FNV-1a, 64 bits: schema 1's record checksum.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
