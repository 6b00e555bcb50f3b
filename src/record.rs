//! What one checkpoint holds, and how a launch turns the logger's cut into
//! one. Records are stored as bincode 2 (serde); bincode carries no schema,
//! so the file's schema version lives in the `meta` table (see store.rs).

use crate::config::{PipelineConfig, SIGNALS_PER_BEAT};
use crate::stats::{LoggerStats, Restarts, Summary};
use serde::{Deserialize, Serialize};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

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
        SIGNALS_PER_BEAT as u64 * self.worker_batch
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

    /// The invariants every record must satisfy, checked when a file is
    /// opened and by the tests.
    pub fn check(&self) -> Result<(), String> {
        let n = self.logger.messages;
        if n != self.beats * self.settings.beat_size() {
            return Err(format!(
                "messages {n} ≠ beats {} × {}",
                self.beats,
                self.settings.beat_size()
            ));
        }
        if self.generator_position != self.logger.next_expected {
            return Err(format!(
                "generator position {} ≠ logger's next value {}",
                self.generator_position, self.logger.next_expected
            ));
        }
        if self.logger.counts.total() != n {
            return Err(format!(
                "kind counts add up to {} not {n}",
                self.logger.counts.total()
            ));
        }
        Ok(())
    }

    /// The summary the stats command shows: lifetime totals and rate.
    pub fn summary(&self) -> Summary {
        Summary::new(
            &self.logger,
            self.settings.beat_size(),
            self.beats_target,
            self.restarts,
            self.run_secs,
            self.logger.messages,
        )
    }

    /// bincode 2 bytes followed by their FNV-1a 64 checksum: redb does not
    /// verify page checksums on every read, and a record whose bytes changed
    /// on disk must not decode into different totals.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = bincode::serde::encode_to_vec(self, bincode::config::standard())
            .expect("a record always encodes");
        let sum = fnv1a64(&bytes);
        bytes.extend_from_slice(&sum.to_le_bytes());
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, String> {
        let Some(split) = bytes.len().checked_sub(8) else {
            return Err(format!(
                "checkpoint record is too short ({} bytes)",
                bytes.len()
            ));
        };
        let (body, sum) = bytes.split_at(split);
        if fnv1a64(body).to_le_bytes() != sum {
            return Err("checkpoint record is damaged (its checksum does not match)".into());
        }
        let (rec, used) = bincode::serde::decode_from_slice(body, bincode::config::standard())
            .map_err(|e| format!("cannot decode a checkpoint record: {e}"))?;
        if used != body.len() {
            return Err(format!(
                "checkpoint record has {} trailing bytes",
                body.len() - used
            ));
        }
        Ok(rec)
    }
}

/// FNV-1a, 64 bits. Each step maps the state bijectively for a given byte,
/// and for a given state maps distinct bytes to distinct states, so any one
/// changed byte always changes the sum; more changes collide with
/// probability about 2^-64.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Turns cuts taken during this launch into records that continue the
/// file's history.
#[derive(Clone, Debug)]
pub struct Ledger {
    /// The record this launch started from (its launch record).
    pub base: CheckpointRecord,
    pub started: Instant,
}

impl Ledger {
    /// The record that opens a launch: the latest totals, one more launch.
    pub fn launch(previous: Option<&CheckpointRecord>, cfg: &PipelineConfig) -> CheckpointRecord {
        let settings = RunSettings::of(cfg);
        match previous {
            Some(p) => CheckpointRecord {
                seq: p.seq + 1,
                unix_ms: unix_ms_now(),
                settings,
                beats_target: cfg.beats_target,
                launches: p.launches + 1,
                checkpoints: p.checkpoints + 1,
                ..p.clone()
            },
            None => CheckpointRecord {
                seq: 1,
                unix_ms: unix_ms_now(),
                settings,
                beats: 0,
                beats_target: cfg.beats_target,
                generator_position: 0,
                logger: LoggerStats::default(),
                restarts: Restarts::default(),
                launches: 1,
                checkpoints: 1,
                run_secs: 0.0,
            },
        }
    }

    /// A record for a cut the logger took during this launch. `last` is the
    /// newest record committed so far.
    pub fn cut(
        &self,
        last: &CheckpointRecord,
        logger: &LoggerStats,
        restarts_now: Restarts,
    ) -> CheckpointRecord {
        let mut restarts = self.base.restarts;
        restarts.heartbeat += restarts_now.heartbeat;
        restarts.generator += restarts_now.generator;
        restarts.worker += restarts_now.worker;
        restarts.logger += restarts_now.logger;
        CheckpointRecord {
            seq: last.seq + 1,
            unix_ms: unix_ms_now(),
            settings: self.base.settings,
            beats: logger.messages / self.base.settings.beat_size(),
            beats_target: self.base.beats_target,
            generator_position: logger.next_expected,
            logger: *logger,
            restarts,
            launches: self.base.launches,
            checkpoints: last.checkpoints + 1,
            run_secs: self.base.run_secs + self.started.elapsed().as_secs_f64(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::FizzBuzzMsg;

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
            Restarts {
                worker: 2,
                ..Default::default()
            },
        );
        assert_eq!(
            (rec.seq, rec.beats, rec.checkpoints, rec.launches),
            (2, 2, 2, 1)
        );
        assert_eq!(rec.restarts.worker, 2);
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

    #[test]
    fn check_catches_an_inconsistent_cut() {
        let cfg = PipelineConfig::default();
        let mut rec = Ledger::launch(None, &cfg);
        rec.logger.messages = 100;
        assert!(rec.check().unwrap_err().contains("beats"));
    }
}
