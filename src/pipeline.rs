//! Runs one launch of the pipeline: builds and starts the graph, reports
//! progress, waits for the drain and collects the verified totals.

use crate::config::PipelineConfig;
use crate::error::Error;
use crate::graph::{StateHandles, build_graph};
use crate::live::Live;
use crate::progress::Reporter;
use crate::stats::{LoggerStats, Summary};
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady_state::*;

/// How long the actors may take to agree to stop once the logger has asked.
/// Everything has drained by then, so this only guards against a hung actor.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    pub telemetry: bool,
    pub progress: bool,
}

pub fn run(cfg: PipelineConfig, opts: RunOptions, live: Arc<Live>) -> Result<Summary, Error> {
    cfg.validate().map_err(Error::Usage)?;
    let cfg = Arc::new(cfg);
    let mut graph = GraphBuilder::for_production()
        .with_telemetry_metric_features(opts.telemetry)
        .build(());
    let handles = build_graph(&mut graph, &cfg, &live);

    let started = Instant::now();
    graph.start();
    let reporter = opts
        .progress
        .then(|| Reporter::spawn(live.clone(), cfg.logger_batch, started));
    let stopped = graph.block_until_stopped(STOP_TIMEOUT);
    let elapsed = started.elapsed().as_secs_f64();
    if let Some(r) = reporter {
        r.finish();
    }
    stopped.map_err(|e| Error::Pipeline(format!("the actors did not stop cleanly: {e}")))?;

    let stats = final_stats(&handles)?;
    let moved = stats.messages - cfg.start.logger.messages;
    Ok(Summary::new(
        &stats,
        cfg.beat_size(),
        cfg.beats_target,
        live.restarts(),
        elapsed,
        moved,
    ))
}

/// The logger's state once its thread has let go of it.
fn final_stats(handles: &StateHandles) -> Result<LoggerStats, Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(state) = handles.logger.try_lock_sync() {
            return Ok(state.stats);
        }
        if Instant::now() > deadline {
            return Err(Error::Pipeline(
                "the logger's statistics stayed locked after the graph stopped".into(),
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}
