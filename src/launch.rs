//! One `fizzflow run`: take the state dir, decide where this launch starts
//! (fresh, resumed, or continued), record the launch, run the pipeline,
//! write the final checkpoint and report.
//!
//! Everything that can refuse (flags, the lock, the file's check, flags that
//! conflict with the stored run) happens before the checkpoint file is opened
//! for writing, so a refused run leaves it byte-identical.

use crate::actor::checkpoint::{CheckpointPlan, CheckpointState};
use crate::cli::RunArgs;
use crate::config::{PipelineConfig, StartPoint, max_beats};
use crate::error::Error;
use crate::inspect::{self, checkpoint_path};
use crate::launch_log::{Ending, LaunchRow};
use crate::live::Live;
use crate::lock::DirLock;
use crate::metrics::MetricsServer;
use crate::migrations;
use crate::output::{self, note};
use crate::pipeline::{self, RunOptions};
use crate::record::{CheckpointRecord, Ledger, RunSettings};
use crate::stats::Summary;
use crate::store::{Store, StoreOptions};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which flags were given on the command line (not left at their default):
/// only those can conflict with a stored run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Given {
    pub beats: bool,
    pub generator_batch: bool,
    pub worker_batch: bool,
    pub logger_batch: bool,
    pub channel_capacity: bool,
}

/// Where a launch starts, given the newest checkpoint (if any):
/// - none: a fresh run of `--beats`;
/// - an unfinished run: resume it toward its stored target, with its stored
///   batch settings; flags given explicitly that say otherwise are refused;
/// - a finished run: `--beats` more on top, same worker batch (so that
///   messages = beats × 32 × worker batch stays true for the whole file).
///
/// Returns the configuration and a sentence saying which it is.
/// `run_beats` is the `--beats` that started the stored run, where the
/// launch history knows it.
pub fn plan(
    args: &RunArgs,
    previous: Option<&CheckpointRecord>,
    run_beats: Option<u64>,
) -> Result<(PipelineConfig, String), Error> {
    let given = args.given;
    let Some(p) = previous else {
        let start = StartPoint::default();
        let cfg = args.pipeline_config(
            start,
            args.worker_batch,
            args.target(&start, args.worker_batch)?,
        );
        let note = format!("new state dir; running {} beats", args.beats);
        return Ok((cfg, note));
    };
    let start = StartPoint {
        beats: p.beats,
        logger: p.logger,
    };
    let s = p.settings;
    if p.unfinished() {
        let mut conflicts = Vec::new();
        for (flag, was_given, asked, stored) in [
            (
                "--generator-batch",
                given.generator_batch,
                args.generator_batch,
                s.generator_batch,
            ),
            (
                "--worker-batch",
                given.worker_batch,
                args.worker_batch,
                s.worker_batch,
            ),
            (
                "--logger-batch",
                given.logger_batch,
                args.logger_batch,
                s.logger_batch,
            ),
            (
                "--channel-capacity",
                given.channel_capacity,
                args.channel_capacity,
                s.channel_capacity,
            ),
        ] {
            if was_given && asked != stored {
                conflicts.push(format!("{flag} {asked} (the run has {stored})"));
            }
        }
        // The run was started with some --beats N: re-running that command
        // is fine, any other N is not. Where the history does not know N (a
        // file from schema 1), any N that could have started the run (from
        // beat 0 up to now) is taken as that command.
        let left = p.beats_target - p.beats;
        let same_command = match run_beats {
            Some(n) => args.beats == n,
            None => (left..=p.beats_target).contains(&args.beats),
        };
        if given.beats && !same_command {
            conflicts.push(format!(
                "--beats {} (the run ends at beat {}, {left} to go)",
                args.beats, p.beats_target
            ));
        }
        if !conflicts.is_empty() {
            let (them, they) = if conflicts.len() == 1 {
                ("that flag", "it then applies")
            } else {
                ("those flags", "they then apply")
            };
            return Err(Error::Usage(format!(
                "this state dir holds an unfinished run at beat {}/{} (batches {}/{}/{}, channel {}), and {} would change it. Run `fizzflow` without {them} to finish it ({they} to the next run), or pass another --state-dir to start a new one with {them}",
                p.beats,
                p.beats_target,
                s.generator_batch,
                s.worker_batch,
                s.logger_batch,
                s.channel_capacity,
                conflicts.join(", "),
            )));
        }
        let cfg = PipelineConfig {
            generator_batch: s.generator_batch as usize,
            logger_batch: s.logger_batch as usize,
            channel_capacity: s.channel_capacity as usize,
            ..args.pipeline_config(start, s.worker_batch, p.beats_target)
        };
        let note = format!(
            "resuming an unfinished run at beat {}/{} ({} messages so far; batches {}/{}/{}, channel {} as stored)",
            p.beats,
            p.beats_target,
            p.logger.messages,
            s.generator_batch,
            s.worker_batch,
            s.logger_batch,
            s.channel_capacity
        );
        return Ok((cfg, note));
    }
    // The worker batch sets the size of a beat for the dir's whole life: an
    // explicit other value is refused, the default quietly becomes the dir's.
    if given.worker_batch && args.worker_batch != s.worker_batch {
        return Err(Error::Usage(format!(
            "this state dir counts beats of 32 × {} messages; --worker-batch {} would break messages = beats × 32 × worker batch. Pass --worker-batch {} or another --state-dir",
            s.worker_batch, args.worker_batch, s.worker_batch
        )));
    }
    let cfg = args.pipeline_config(start, s.worker_batch, args.target(&start, s.worker_batch)?);
    let note = format!(
        "continuing: {} beats ({} messages) already done; running {} more to beat {}",
        p.beats, p.logger.messages, args.beats, cfg.beats_target
    );
    Ok((cfg, note))
}

impl RunArgs {
    /// The beat `--beats` more beats from `start` reach; every count must
    /// stay below 2^64, so a target past that is refused with the limit.
    pub fn target(&self, start: &StartPoint, worker_batch: u64) -> Result<u64, Error> {
        let beat = 32 * worker_batch;
        let most = max_beats(beat);
        start
            .beats
            .checked_add(self.beats)
            .filter(|t| *t <= most)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--beats {} is too large: a state dir holds at most {most} beats of {beat} messages, and this one is at beat {}, so --beats can be at most {}",
                    self.beats,
                    start.beats,
                    most.saturating_sub(start.beats)
                ))
            })
    }

    /// The configuration of a run from `start` to `beats_target` with these
    /// flags and the given worker batch.
    pub fn pipeline_config(
        &self,
        start: StartPoint,
        worker_batch: u64,
        beats_target: u64,
    ) -> PipelineConfig {
        PipelineConfig {
            rate_ms: self.rate,
            beats_target,
            generator_batch: self.generator_batch as usize,
            worker_batch: worker_batch as usize,
            logger_batch: self.logger_batch as usize,
            channel_capacity: self.channel_capacity as usize,
            inject_panic: self.inject_panic.clone(),
            inject_delay: self.inject_delay.clone(),
            start,
        }
    }
}

/// Runs one launch. `live` already carries the stop handler's flag, so a
/// signal at any moment, even before this is called, ends it cleanly.
pub fn run(args: &RunArgs, live: Arc<Live>) -> Result<(), Error> {
    // The batch geometry is checked before the state dir is touched; the
    // target only once the stored run is known.
    args.pipeline_config(StartPoint::default(), args.worker_batch, args.beats)
        .validate()
        .map_err(Error::Usage)?;
    let dir = &args.state.dir;
    let _lock = DirLock::acquire(dir)?;
    let path = checkpoint_path(dir);
    let vetted = inspect::existing(&path)?;
    let previous = vetted.as_ref().and_then(|v| v.seen.latest()).cloned();
    let stored_run_beats = vetted
        .as_ref()
        .and_then(|v| v.seen.launches.last())
        .and_then(|row| row.run_beats);
    let (cfg, start_note) = plan(args, previous.as_ref(), stored_run_beats)?;
    cfg.validate().map_err(Error::Usage)?;
    if let Some(v) = &vetted
        && v.seen.schema_version < migrations::CURRENT
    {
        note(&format!(
            "upgrading {} from schema {} to {} (one transaction, with the launch record)",
            path.display(),
            v.seen.schema_version,
            migrations::CURRENT
        ));
    }

    // The launch is on record before anything runs, so a launch killed
    // before its first checkpoint still counts.
    let launch = Ledger::launch(previous.as_ref(), &cfg);
    let opts = StoreOptions {
        keep: args.checkpoint_history,
        abort_at: args.inject_abort,
    };
    // A resumed run keeps the --beats of the run it resumes.
    let run_beats = match &previous {
        Some(p) if p.unfinished() => stored_run_beats,
        _ => Some(args.beats),
    };
    let row = LaunchRow::opening(&launch, args.flags.clone(), run_beats);
    let (store, took) = match &vetted {
        None => Store::create(dir, opts, &launch, &row)?,
        Some(vetted) => Store::open(&path, opts, vetted, &launch, &row)?,
    };
    live.note_checkpoint(launch.unix_ms, took);
    live.publish(&launch.logger);
    note(&format!(
        "launch {} in {}: {start_note}",
        launch.launches,
        dir.display()
    ));

    let metrics = if args.no_metrics {
        None
    } else {
        match MetricsServer::start(args.metrics_addr, live.clone(), cfg.channel_capacity) {
            Ok(server) => {
                note(&format!("metrics at http://{}/metrics", server.addr()));
                Some(server)
            }
            // Metrics are a convenience; the run goes on without them.
            Err(e) => {
                note(&format!(
                    "warning: no metrics endpoint: {e} (pass --metrics-addr or --no-metrics)"
                ));
                None
            }
        }
    };
    let ledger = Ledger {
        base: launch.clone(),
        started: Instant::now(),
    };
    let plan = CheckpointPlan {
        handoff: Mutex::new(Some(CheckpointState::new(store, launch.clone()))),
        ledger: ledger.clone(),
        interval: Duration::from_millis(args.checkpoint_interval),
        delay: cfg.delay_for("checkpoint"),
    };
    let opts = RunOptions {
        telemetry: !args.no_telemetry,
        progress: args.progress_mode(),
    };
    let final_delay = plan.delay;
    let mut final_record = None;
    let outcome = pipeline::run(cfg, plan, opts, live.clone(), |state, outcome| {
        if let Some(why) = live.checkpoint_error() {
            return Err(Error::CheckpointWrite {
                path: checkpoint_path(dir),
                problem: why,
            });
        }
        let rec = ledger.cut(&state.last, &outcome.stats, outcome.restarts);
        rec.check().map_err(|e| {
            Error::Pipeline(format!(
                "the final totals are not a consistent cut ({e}); the last good checkpoint stands"
            ))
        })?;
        // The injected slow disk slows the final commit too, so that the
        // torture can kill a run inside it.
        if let Some(d) = final_delay {
            std::thread::sleep(d);
        }
        let ending = if outcome.stats.sequence_errors > launch.logger.sequence_errors {
            Ending::Failed(1)
        } else if rec.unfinished() {
            Ending::Stopped
        } else {
            Ending::Finished
        };
        state.store.commit_final(&rec, ending, outcome.restarts)?;
        state.last = rec.clone();
        final_record = Some(rec);
        Ok(())
    })?;
    let rec = final_record.ok_or_else(|| Error::Pipeline("no final checkpoint".into()))?;
    let summary = launch_summary(&launch, &rec);
    // Both are attempted, so a broken stderr does not cost a script its JSON.
    let human = output::report("summary", output::stderr_line(&summary.human_line()));
    let json = if args.json {
        serde_json::to_string(&summary)
            .map_err(|e| Error::Pipeline(format!("the summary cannot be encoded: {e}")))
            .and_then(|json| output::report("JSON summary", output::stdout_line(&json)))
    } else {
        Ok(())
    };
    if let Some(server) = metrics {
        std::thread::sleep(Duration::from_millis(args.metrics_linger));
        server.finish();
    }
    human.and(json)?;
    // Only this launch's errors: one bad launch must not fail every later one.
    let new_errors = outcome.stats.sequence_errors - launch.logger.sequence_errors;
    if new_errors > 0 {
        return Err(Error::Verification {
            sequence_errors: new_errors,
        });
    }
    Ok(())
}

/// Lifetime totals, with the time and rate of this launch alone.
fn launch_summary(launch: &CheckpointRecord, last: &CheckpointRecord) -> Summary {
    Summary::new(
        &last.logger,
        RunSettings::beat_size(&last.settings),
        last.beats_target,
        last.restarts,
        last.run_secs - launch.run_secs,
        last.logger.messages - launch.logger.messages,
    )
}

/// SIGINT, SIGTERM and SIGHUP stop the heartbeat and let the pipeline drain.
/// Installed first thing, before the lock, the file's check and the launch
/// record, so a signal at any moment is a clean stop; and before the graph,
/// so steady_state's own Ctrl-C hook (which would stop every actor at once
/// and print to stdout) stays out.
pub fn install_stop_handler(live: &Arc<Live>) {
    let live = live.clone();
    let mut signals = 0u32;
    let installed = ctrlc::set_handler(move || {
        signals += 1;
        if signals == 1 {
            note("stopping: draining the beats already sent (signal again to exit at once)");
            live.request_stop();
        } else {
            note("second signal: exiting without draining");
            std::process::exit(130);
        }
    });
    match installed {
        // A parent may start us with the stop signals blocked so that none
        // lands before this handler exists; from here on they may come.
        Ok(()) => unblock_stop_signals(),
        Err(e) => note(&format!(
            "warning: cannot install the signal handler ({e}); Ctrl-C will stop at once"
        )),
    }
}

fn unblock_stop_signals() {
    // SAFETY: plain signal-mask calls on a set built right here.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Cli, Command};
    use clap::Parser;

    fn args(extra: &[&str], given: Given) -> RunArgs {
        let mut argv = vec!["fizzflow", "run"];
        argv.extend_from_slice(extra);
        let Some(Command::Run(mut a)) = Cli::try_parse_from(argv).expect("parses").command else {
            panic!("run subcommand")
        };
        a.given = given;
        *a
    }

    fn record(beats: u64, target: u64) -> CheckpointRecord {
        let cfg = PipelineConfig {
            beats_target: target,
            ..Default::default()
        };
        let mut rec = Ledger::launch(None, &cfg);
        rec.beats = beats;
        rec.logger.messages = beats * 8192;
        rec
    }

    #[test]
    fn explicit_flags_that_contradict_an_unfinished_run_are_refused() {
        let p = record(5, 2009);
        let given = Given {
            worker_batch: true,
            beats: true,
            ..Default::default()
        };
        let err = plan(
            &args(&["--worker-batch", "512", "--beats", "10"], given),
            Some(&p),
            None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.exit_code(), 2);
        assert!(
            text.contains("--worker-batch 512 (the run has 256)"),
            "{text}"
        );
        assert!(text.contains("--beats 10"), "{text}");
        assert!(text.contains("unfinished run at beat 5/2009"), "{text}");
        // The same command line again, or no flags at all, resumes.
        let same = Given {
            beats: true,
            ..Default::default()
        };
        let (cfg, _) = plan(&args(&["--beats", "2009"], same), Some(&p), None).unwrap();
        assert_eq!(cfg.beats_target, 2009);
        // Where the history knows the run's --beats, only that one is the
        // same command.
        assert!(plan(&args(&["--beats", "2009"], same), Some(&p), Some(2000)).is_err());
        assert!(plan(&args(&["--beats", "2000"], same), Some(&p), Some(2000)).is_ok());
        let (cfg, note) = plan(
            &args(&["--worker-batch", "512"], Given::default()),
            Some(&p),
            None,
        )
        .unwrap();
        assert_eq!((cfg.beats_target, cfg.worker_batch), (2009, 256));
        assert!(note.starts_with("resuming"), "{note}");
    }

    #[test]
    fn a_target_past_the_largest_count_is_refused_with_the_limit() {
        let p = record(10, 10);
        let beats = u64::MAX.to_string();
        let err = plan(
            &args(&["--beats", &beats], Given::default()),
            Some(&p),
            None,
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let most = max_beats(8192) - 10;
        assert!(
            err.to_string().contains(&format!("at most {most}")),
            "{err}"
        );
        let ok = plan(
            &args(&["--beats", &most.to_string()], Given::default()),
            Some(&p),
            None,
        );
        assert_eq!(ok.unwrap().0.beats_target, max_beats(8192));
    }

    #[test]
    fn a_finished_dir_keeps_its_worker_batch_unless_told_otherwise() {
        let mut p = record(10, 10);
        p.settings.worker_batch = 512;
        p.logger.messages = 10 * 32 * 512;
        let (cfg, _) = plan(&args(&["--beats", "3"], Given::default()), Some(&p), None).unwrap();
        assert_eq!((cfg.worker_batch, cfg.beats_target), (512, 13));
        let given = Given {
            worker_batch: true,
            ..Default::default()
        };
        let err = plan(&args(&["--worker-batch", "256"], given), Some(&p), None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
