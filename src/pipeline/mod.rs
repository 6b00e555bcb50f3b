//! The actor system: Heartbeat and Generator (a troupe), Worker, Logger
//! and Checkpoint, their configuration, the message they move and the
//! statistics they keep. It knows nothing of disks or terminals: the
//! checkpoint actor hands each cut to a [`CutSink`], and the values a
//! person might watch are published in [`Live`].
//!
//! [`run`] runs one launch: builds and starts the graph, waits for the
//! drain and collects the verified totals.

pub(crate) mod actor;
pub(crate) mod config;
pub(crate) mod fault;
pub(crate) mod graph;
pub(crate) mod latency;
pub(crate) mod live;
pub(crate) mod message;
pub(crate) mod names;
pub(crate) mod ring;
pub(crate) mod stats;
pub(crate) mod wait;

#[cfg(test)]
pub(crate) mod testing;

pub use config::{PipelineConfig, StartPoint};
pub use latency::LatencySummary;
pub use message::{FizzBuzzMsg, Kind, KindCounts};
pub use stats::{LoggerStats, Restarts, Summary};

pub use actor::checkpoint::{CheckpointPlan, CutSink};
pub use live::Live;

use crate::pipeline::graph::build_graph;
use crate::util::error::Error;
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady_state::*;

/// How long the actors may take to agree to stop once the logger has asked.
/// Everything has drained by then, so this only guards against a hung actor.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub telemetry: bool,
}

/// What a launch leaves behind: the verified totals.
pub struct Outcome {
    pub stats: LoggerStats,
    pub restarts: Restarts,
    pub elapsed_secs: f64,
    /// When the last message was counted, if any was.
    pub last_counted: Option<Instant>,
    /// This launch's beat latencies, if a beat completed.
    pub latency: Option<LatencySummary>,
}

/// Runs one launch, then hands the checkpoint sink (wherever it ended up)
/// to `finish`, which writes the final checkpoint.
pub fn run<S: CutSink>(
    cfg: PipelineConfig,
    plan: CheckpointPlan<S>,
    opts: RunOptions,
    live: Arc<Live>,
    finish: impl FnOnce(&mut S, &Outcome) -> Result<(), Error>,
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
    let stopped = graph.block_until_stopped(STOP_TIMEOUT);
    let elapsed = started.elapsed().as_secs_f64();
    stopped.map_err(|e| Error::Pipeline(format!("the actors did not stop cleanly: {e}")))?;

    let (stats, last_counted, latency) = released(
        || {
            handles
                .logger
                .try_lock_sync()
                .map(|s| (s.stats, s.last_counted, s.latency.summary()))
        },
        "the logger's statistics",
    )?;
    let outcome = Outcome {
        stats,
        restarts: live.restarts(),
        elapsed_secs: elapsed,
        last_counted,
        latency,
    };
    // If the checkpoint actor never started, its state is still in the
    // hand-off slot.
    let unused = plan
        .handoff
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    match unused {
        Some(mut state) => finish(&mut state.sink, &outcome)?,
        None => {
            let mut state = released(
                || handles.checkpoint.try_lock_sync(),
                "the checkpoint store",
            )?;
            finish(&mut state.sink, &outcome)?;
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
