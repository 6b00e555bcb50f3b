//! Runs one launch of the pipeline: builds and starts the graph, reports
//! progress, waits for the drain and collects the verified totals.

use crate::actor::checkpoint::{CheckpointPlan, CheckpointState};
use crate::config::PipelineConfig;
use crate::error::Error;
use crate::graph::build_graph;
use crate::live::Live;
use crate::progress::{ProgressMode, Reporter};
use crate::stats::{LoggerStats, Restarts};
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady_state::*;

/// How long the actors may take to agree to stop once the logger has asked.
/// Everything has drained by then, so this only guards against a hung actor.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub telemetry: bool,
    pub progress: ProgressMode,
}

/// What a launch leaves behind: the verified totals.
pub struct Outcome {
    pub stats: LoggerStats,
    pub restarts: Restarts,
    pub elapsed_secs: f64,
}

/// Runs one launch, then hands the checkpoint state (wherever it ended up)
/// to `finish`, which writes the final checkpoint.
pub fn run(
    cfg: PipelineConfig,
    plan: CheckpointPlan,
    opts: RunOptions,
    live: Arc<Live>,
    finish: impl FnOnce(&mut CheckpointState, &Outcome) -> Result<(), Error>,
) -> Result<Outcome, Error> {
    cfg.validate().map_err(Error::Usage)?;
    let cfg = Arc::new(cfg);
    let plan = Arc::new(plan);
    let mut graph = GraphBuilder::for_production()
        .with_telemetry_metric_features(opts.telemetry)
        .build(());
    let handles = build_graph(&mut graph, &cfg, &plan, &live);

    let started = Instant::now();
    graph.start();
    let reporter = Reporter::spawn(live.clone(), cfg.clone(), opts.progress, started);
    let stopped = graph.block_until_stopped(STOP_TIMEOUT);
    let elapsed = started.elapsed().as_secs_f64();
    reporter.finish();
    stopped.map_err(|e| Error::Pipeline(format!("the actors did not stop cleanly: {e}")))?;

    let stats = released(
        || handles.logger.try_lock_sync().map(|s| s.stats),
        "the logger's statistics",
    )?;
    let outcome = Outcome {
        stats,
        restarts: live.restarts(),
        elapsed_secs: elapsed,
    };
    // If the checkpoint actor never started, its state is still in the
    // hand-off slot.
    let unused = plan
        .handoff
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match unused {
        Some(mut state) => finish(&mut state, &outcome)?,
        None => {
            let mut state = released(
                || handles.checkpoint.try_lock_sync(),
                "the checkpoint store",
            )?;
            finish(&mut state, &outcome)?;
        }
    }
    Ok(outcome)
}

/// Something an actor held, once its thread has let go of it.
fn released<T>(mut get: impl FnMut() -> Option<T>, what: &str) -> Result<T, Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = get() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(Error::Pipeline(format!(
                "{what} stayed locked after the graph stopped"
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
