//! One `fizzflow run`: take the state dir, decide where this launch starts
//! (fresh, resumed, or continued), run the pipeline, write the final
//! checkpoint and report.

use crate::actor::checkpoint::{CheckpointPlan, CheckpointState};
use crate::cli::{RunArgs, log_level};
use crate::config::{PipelineConfig, StartPoint};
use crate::error::Error;
use crate::live::Live;
use crate::metrics::MetricsServer;
use crate::pipeline::{self, RunOptions};
use crate::record::{CheckpointRecord, Ledger, RunSettings};
use crate::stats::Summary;
use crate::store::{DirLock, Store};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where a launch starts, given the newest checkpoint (if any):
/// - none: a fresh run of `--beats`;
/// - an unfinished run: resume it toward its stored target, with its stored
///   batch settings;
/// - a finished run: `--beats` more on top, same worker batch (so that
///   messages = beats × 32 × worker batch stays true for the whole file).
pub fn plan(
    args: &RunArgs,
    previous: Option<&CheckpointRecord>,
) -> Result<(PipelineConfig, Option<String>), Error> {
    let Some(p) = previous else {
        return Ok((args.pipeline_config(StartPoint::default()), None));
    };
    let start = StartPoint {
        beats: p.beats,
        logger: p.logger,
    };
    if p.unfinished() {
        let s = p.settings;
        let cfg = PipelineConfig {
            generator_batch: s.generator_batch as usize,
            worker_batch: s.worker_batch as usize,
            logger_batch: s.logger_batch as usize,
            channel_capacity: s.channel_capacity as usize,
            beats_target: p.beats_target,
            ..args.pipeline_config(start)
        };
        let note = format!(
            "resuming an unfinished run at beat {}/{} ({} messages so far; batches {}/{}/{}, channel {} as stored; --beats and batch flags apply to the next run)",
            p.beats,
            p.beats_target,
            p.logger.messages,
            s.generator_batch,
            s.worker_batch,
            s.logger_batch,
            s.channel_capacity
        );
        return Ok((cfg, Some(note)));
    }
    if args.worker_batch != p.settings.worker_batch {
        return Err(Error::Usage(format!(
            "this state dir counts beats of 32 × {} messages; --worker-batch {} would break messages = beats × 32 × worker batch. Pass --worker-batch {} or another --state-dir",
            p.settings.worker_batch, args.worker_batch, p.settings.worker_batch
        )));
    }
    let cfg = args.pipeline_config(start);
    let note = format!(
        "continuing: {} beats ({} messages) already done; running {} more to beat {}",
        p.beats, p.logger.messages, args.beats, cfg.beats_target
    );
    Ok((cfg, Some(note)))
}

pub fn run(args: &RunArgs) -> Result<(), Error> {
    // Flags are checked before the state dir is touched.
    args.pipeline_config(StartPoint::default())
        .validate()
        .map_err(Error::Usage)?;
    // steady_state reads these when its telemetry server starts; no other
    // thread exists yet, which is what makes set_var sound here.
    unsafe {
        std::env::set_var("TELEMETRY_SERVER_IP", args.telemetry_addr.ip().to_string());
        std::env::set_var(
            "TELEMETRY_SERVER_PORT",
            args.telemetry_addr.port().to_string(),
        );
    }
    let level = log_level(
        args.log_level.as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    );
    let _ = steady_state::init_logging(level, None);

    let _lock = DirLock::acquire(&args.state.dir)?;
    let (mut store, previous) = Store::open(&args.state.dir, args.checkpoint_history)?;
    if let Some(n) = args.inject_abort {
        store.abort_inside_commit(n);
    }
    let (cfg, note) = plan(args, previous.as_ref())?;
    cfg.validate().map_err(Error::Usage)?;
    if let Some(note) = note {
        eprintln!("fizzflow: {note}");
    }
    // The launch is on record before anything runs, so a launch killed
    // before its first checkpoint still counts.
    let live = Arc::new(Live::default());
    let launch = Ledger::launch(previous.as_ref(), &cfg);
    let took = store.commit(&launch)?;
    live.note_checkpoint(launch.unix_ms, took);
    live.publish(&launch.logger);

    install_stop_handler(&live);
    let metrics = if args.no_metrics {
        None
    } else {
        match MetricsServer::start(args.metrics_addr, live.clone(), cfg.channel_capacity) {
            Ok(server) => {
                eprintln!("fizzflow: metrics at http://{}/metrics", server.addr());
                Some(server)
            }
            // Metrics are a convenience; the run goes on without them.
            Err(e) => {
                eprintln!(
                    "fizzflow: warning: no metrics endpoint: {e} (pass --metrics-addr or --no-metrics)"
                );
                None
            }
        }
    };
    let ledger = Ledger {
        base: launch.clone(),
        started: Instant::now(),
    };
    let plan = CheckpointPlan {
        handoff: Mutex::new(Some(CheckpointState {
            store,
            last: launch.clone(),
        })),
        ledger: ledger.clone(),
        interval: Duration::from_millis(args.checkpoint_interval),
        delay: cfg.delay_for("checkpoint"),
    };
    let opts = RunOptions {
        telemetry: !args.no_telemetry,
        progress: args.progress_mode(),
    };
    let mut final_record = None;
    let outcome = pipeline::run(cfg, plan, opts, live.clone(), |state, outcome| {
        if let Some(why) = live.checkpoint_error() {
            return Err(Error::CheckpointWrite {
                path: crate::store::checkpoint_path(&args.state.dir),
                problem: why,
            });
        }
        let rec = ledger.cut(&state.last, &outcome.stats, outcome.restarts);
        rec.check().map_err(|e| {
            Error::Pipeline(format!(
                "the final totals are not a consistent cut ({e}); the last good checkpoint stands"
            ))
        })?;
        state.store.commit(&rec)?;
        state.last = rec.clone();
        final_record = Some(rec);
        Ok(())
    })?;
    let rec = final_record.expect("finish ran");
    let summary = launch_summary(&launch, &rec);
    eprintln!("{}", summary.human_line());
    if args.json {
        println!(
            "{}",
            serde_json::to_string(&summary).expect("summary serializes")
        );
    }
    if let Some(server) = metrics {
        std::thread::sleep(Duration::from_millis(args.metrics_linger));
        server.finish();
    }
    if outcome.stats.sequence_errors > 0 {
        return Err(Error::Verification {
            sequence_errors: outcome.stats.sequence_errors,
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
/// Installed before the graph is built, so steady_state's own Ctrl-C hook
/// (which would stop every actor at once and print to stdout) stays out.
fn install_stop_handler(live: &Arc<Live>) {
    let live = live.clone();
    let mut signals = 0u32;
    let installed = ctrlc::set_handler(move || {
        signals += 1;
        if signals == 1 {
            eprintln!(
                "fizzflow: stopping: draining the beats already sent (signal again to exit at once)"
            );
            live.request_stop();
        } else {
            eprintln!("fizzflow: second signal: exiting without draining");
            std::process::exit(130);
        }
    });
    if let Err(e) = installed {
        eprintln!(
            "fizzflow: warning: cannot install the signal handler ({e}); Ctrl-C will stop at once"
        );
    }
}
