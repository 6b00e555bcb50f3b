//! Turns the logger's cuts into records that continue the file's history,
//! and commits them: [`CheckpointWriter`] is the checkpoint actor's
//! [`CutSink`], and writes a launch's final checkpoint.

use crate::durable::backup_keeper::BackupKeeper;
use crate::durable::error::Error;
use crate::durable::launch_log::LaunchEnd;
use crate::durable::record::{CheckpointRecord, RunSettings};
use crate::durable::rules::MAX_RUN_SECS;
use crate::durable::store::Store;
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::stats::{Cut, LoggerStats, Restarts};
use crate::pipeline::{CutSink, SinkError};
use crate::util::time::unix_ms_now;
use std::path::Path;
use std::time::{Duration, Instant};

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
    /// `taken` is when the logger took the cut: the run time it records is
    /// up to that moment, not to when the record is made (the final one is
    /// made after the graph has stopped, which can take a telemetry frame).
    pub fn cut(
        &self,
        last: &CheckpointRecord,
        logger: &LoggerStats,
        restarts_now: Restarts,
        taken: Instant,
    ) -> CheckpointRecord {
        let restarts = self.base.restarts.plus(&restarts_now);
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
            // Never before the newest record: a periodic cut taken after the
            // last message is later than the final cut's last message.
            run_secs: (self.base.run_secs
                + taken.saturating_duration_since(self.started).as_secs_f64())
            .max(last.run_secs)
            .min(MAX_RUN_SECS),
        }
    }
}

/// The open checkpoint file of a launch, the newest record in it, and the
/// backups the launch keeps of it.
pub struct CheckpointWriter {
    pub store: Store,
    pub ledger: Ledger,
    /// The newest record committed to the file.
    pub last: CheckpointRecord,
    keeper: BackupKeeper,
}

impl CheckpointWriter {
    /// The writer of a launch that has just committed `launch`, its launch
    /// record; the launch's run time counts from now, and it keeps a
    /// backup every `backup_every` while it runs.
    pub fn new(store: Store, launch: CheckpointRecord, backup_every: Duration) -> CheckpointWriter {
        let state_dir = store
            .path()
            .parent()
            .unwrap_or(Path::new("."))
            .to_path_buf();
        CheckpointWriter {
            store,
            ledger: Ledger {
                base: launch.clone(),
                started: Instant::now(),
            },
            last: launch,
            keeper: BackupKeeper::new(&state_dir, backup_every),
        }
    }

    /// Closes the file after its final commit and keeps it as the newest
    /// backup: a state dir of a single launch has a cut to go back to too.
    /// Closed first, so the backup holds the very bytes the next launch
    /// reads, and that launch need not keep another copy of them.
    pub fn back_up(&mut self) {
        match self
            .store
            .close()
            .map_err(|e| std::io::Error::other(e.to_string()))
            .and_then(|()| self.store.read_back())
        {
            Ok(bytes) => self
                .keeper
                .keep_now(self.store.path(), self.last.launches, bytes),
            Err(e) => crate::util::output::note(&format!(
                "warning: no backup of this launch's cut: {} cannot be read ({e})",
                self.store.path().display()
            )),
        }
    }

    /// The record for the cut the launch ends with; its time is when the
    /// last message was counted (a launch that counted none adds no time).
    pub fn final_cut(
        &self,
        stats: &LoggerStats,
        restarts: Restarts,
        last_counted: Option<Instant>,
    ) -> CheckpointRecord {
        let taken = last_counted.unwrap_or(self.ledger.started);
        self.ledger.cut(&self.last, stats, restarts, taken)
    }

    /// Commits the final checkpoint with how the launch ended and the
    /// restarts it saw.
    pub fn commit_final(
        &mut self,
        rec: CheckpointRecord,
        ending: LaunchEnd,
        restarts: Restarts,
    ) -> Result<(), Error> {
        self.store.commit_final(&rec, ending, restarts)?;
        self.last = rec;
        Ok(())
    }
}

impl CutSink for CheckpointWriter {
    fn commit(&mut self, cut: &Cut, restarts: Restarts) -> Result<(u64, Duration), SinkError> {
        let rec = self.ledger.cut(&self.last, &cut.stats, restarts, cut.taken);
        let took = self
            .store
            .commit(&rec)
            .map_err(|e| std::sync::Arc::new(e) as SinkError)?;
        let at = rec.unix_ms;
        self.last = rec;
        if self.keeper.due()
            && let Ok(bytes) = self.store.read_back()
        {
            self.keeper
                .keep_in_background(self.store.path(), self.last.launches, bytes);
        }
        Ok((at, took))
    }

    fn recover(&mut self) -> Result<(), SinkError> {
        // redb wants a fresh handle after a panic in the middle of a commit.
        self.store
            .reopen()
            .map_err(|e| std::sync::Arc::new(e) as SinkError)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_counts_run_time_to_when_it_was_taken_not_when_it_is_recorded() {
        // The final checkpoint is recorded after the graph has stopped,
        // which can take a telemetry frame; counting that time made the
        // last interval of `stats --history` look like a slump.
        let first = Ledger::launch(None, &PipelineConfig::default());
        let started = Instant::now();
        let ledger = Ledger {
            base: first.clone(),
            started,
        };
        let taken = started + Duration::from_millis(100);
        std::thread::sleep(Duration::from_millis(300));
        let rec = ledger.cut(&first, &LoggerStats::default(), Restarts::default(), taken);
        assert!((rec.run_secs - 0.1).abs() < 1e-6, "{}", rec.run_secs);
    }

    #[test]
    fn run_time_never_goes_back_from_the_newest_record() {
        // The torture found it (seed 2020): a periodic cut answered after
        // the last message had been counted recorded 0.3 s, then the final
        // cut, timed at that last message, recorded less; the history was
        // then refused as damaged.
        let first = Ledger::launch(None, &PipelineConfig::default());
        let started = Instant::now();
        let ledger = Ledger {
            base: first.clone(),
            started,
        };
        let periodic = ledger.cut(
            &first,
            &LoggerStats::default(),
            Restarts::default(),
            started + Duration::from_millis(300),
        );
        let last_counted = started + Duration::from_millis(200);
        let fin = ledger.cut(
            &periodic,
            &LoggerStats::default(),
            Restarts::default(),
            last_counted,
        );
        assert!(
            fin.run_secs >= periodic.run_secs,
            "{} < {}",
            fin.run_secs,
            periodic.run_secs
        );
        fin.check_follows(&periodic).unwrap();
    }
}
