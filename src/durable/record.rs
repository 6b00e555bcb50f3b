//! What one checkpoint holds. Records are stored as bincode 2 (serde) with a
//! checksum (codec.rs); bincode carries no schema, so the file's schema
//! version lives in the `meta` table (see store.rs). The rules a record
//! keeps are in rules.rs; ledger.rs turns the logger's cuts into records.

use crate::durable::codec::{self, CodecError};
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::stats::{LoggerStats, Restarts};
use serde::{Deserialize, Serialize};

/// The batch geometry a run was started with; a resumed run keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSettings {
    pub generator_batch: u64,
    pub worker_batch: u64,
    pub logger_batch: u64,
    pub channel_capacity: u64,
}

impl RunSettings {
    pub fn of(cfg: &PipelineConfig) -> Self {
        RunSettings {
            generator_batch: cfg.generator_batch as u64,
            worker_batch: cfg.worker_batch as u64,
            logger_batch: cfg.logger_batch as u64,
            channel_capacity: cfg.channel_capacity as u64,
        }
    }

    pub fn beat_size(&self) -> u64 {
        crate::pipeline::config::beat_size(self.worker_batch)
    }
}

/// One consistent cut of the pipeline: the logger's statistics at a beat
/// boundary, where the generator's position equals the logger's next
/// expected value, plus the bookkeeping of the state dir's whole life.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// 1, 2, 3, … in commit order; also the key in the history table.
    pub seq: u64,
    pub unix_ms: u64,
    pub settings: RunSettings,
    /// Beats whose whole credit the logger has counted.
    pub beats: u64,
    pub beats_target: u64,
    /// Where the generator resumes: the first value not yet counted.
    pub generator_position: u64,
    pub logger: LoggerStats,
    /// Lifetime restarts per actor, over all launches.
    pub restarts: Restarts,
    pub launches: u64,
    /// Checkpoints written, this one included.
    pub checkpoints: u64,
    /// Seconds the pipeline has run, over all launches.
    pub run_secs: f64,
}

impl CheckpointRecord {
    pub fn unfinished(&self) -> bool {
        self.beats < self.beats_target
    }

    /// See durable/codec.rs (schema 1 used FNV-1a, see migrations/v1.rs).
    pub fn encode(&self) -> Vec<u8> {
        codec::seal(self)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        codec::unseal(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::durable::ledger::Ledger;
    use crate::pipeline::message::FizzBuzzMsg;
    use std::time::Instant;

    #[test]
    fn records_round_trip_and_reject_garbage() {
        let cfg = PipelineConfig::default();
        let rec = Ledger::launch(None, &cfg);
        assert_eq!(CheckpointRecord::decode(&rec.encode()).unwrap(), rec);
        assert!(CheckpointRecord::decode(b"nonsense").is_err());
        let good = rec.encode();
        for i in 0..good.len() {
            let mut bad = good.clone();
            bad[i] ^= 0x10;
            assert!(
                CheckpointRecord::decode(&bad).is_err(),
                "flip at byte {i} went unnoticed"
            );
        }
        assert!(CheckpointRecord::decode(&good[..5]).is_err());
        let mut long = good.clone();
        long.push(0);
        assert!(CheckpointRecord::decode(&long).is_err());
    }

    #[test]
    fn a_cut_continues_the_history_and_checks_out() {
        let cfg = PipelineConfig {
            beats_target: 10,
            ..Default::default()
        };
        let first = Ledger::launch(None, &cfg);
        let ledger = Ledger {
            base: first.clone(),
            started: Instant::now(),
        };
        let mut stats = LoggerStats::default();
        let msgs: Vec<FizzBuzzMsg> = (0..8192 * 2).map(FizzBuzzMsg::new).collect();
        stats.absorb(&msgs);
        let rec = ledger.cut(
            &first,
            &stats,
            [("worker", 2)].into_iter().collect(),
            Instant::now(),
        );
        assert_eq!(
            (rec.seq, rec.beats, rec.checkpoints, rec.launches),
            (2, 2, 2, 1)
        );
        assert_eq!(rec.restarts.of("worker"), 2);
        rec.check().expect("consistent");
        let again = Ledger::launch(
            Some(&rec),
            &PipelineConfig {
                beats_target: 12,
                ..Default::default()
            },
        );
        assert_eq!(
            (again.seq, again.launches, again.beats, again.beats_target),
            (3, 2, 2, 12)
        );
    }
}
