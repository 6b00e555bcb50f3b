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
pub(crate) mod error;
pub(crate) mod fault;
pub(crate) mod graph;
pub(crate) mod latency;
pub(crate) mod link;
pub(crate) mod live;
pub(crate) mod message;
pub(crate) mod names;
pub(crate) mod over;
pub(crate) mod ring;
pub(crate) mod stats;
pub(crate) mod wait;

#[cfg(test)]
pub(crate) mod testing;

pub use config::{PipelineConfig, StartPoint};
pub use latency::LatencySummary;
pub use message::{FizzBuzzMsg, Kind, KindCounts};
pub use stats::{LoggerStats, Restarts};

pub use actor::checkpoint::{CheckpointPlan, CutSink};
pub use graph::Shape;
pub use link::{LinkLost, LinkPlan, LinkReport, ValueLink};
pub use live::{Abandon, Live};

pub use error::{Error, SinkError};

use crate::pipeline::graph::build_graph;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use steady_state::*;

/// How long the actors may take to agree to stop once the logger has asked.
/// Everything has drained by then, so this only guards against a hung actor.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct RunOptions {
    pub telemetry: bool,
    /// A sink pod's link to its source: the receiver replaces the generator.
    pub link: Option<Arc<LinkPlan>>,
}

/// What a launch leaves behind: the verified totals.
pub struct Outcome {
    pub stats: LoggerStats,
    pub restarts: Restarts,
    /// When the last message was counted, if any was.
    pub last_counted: Option<Instant>,
    /// This launch's beat latencies, if a beat completed.
    pub latency: Option<LatencySummary>,
}

/// Runs one launch, then hands the checkpoint sink (wherever it ended up)
/// to `finish`, which writes the final checkpoint; its errors are the
/// caller's, which also takes this layer's.
pub fn run<S: CutSink, E: From<Error>>(
    cfg: PipelineConfig,
    plan: CheckpointPlan<S>,
    opts: RunOptions,
    live: Arc<Live>,
    finish: impl FnOnce(&mut S, &Outcome) -> Result<(), E>,
) -> Result<Outcome, E> {
    cfg.validate().map_err(Error::Geometry)?;
    let cfg = Arc::new(cfg);
    let plan = Arc::new(plan);
    let mut graph = GraphBuilder::for_production()
        .with_telemetry_metric_features(opts.telemetry)
        .build(());
    let handles = build_graph(&mut graph, &cfg, &plan, opts.link.as_ref(), &live);

    graph.start();
    until_over(graph, &live)?;

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
        stats: live.with_link_duplicates(stats),
        restarts: live.restarts(),
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

/// Waits until the launch is over: every actor has returned, or the
/// graph has given its verdict (see over.rs for why not only the latter).
/// The graph keeps its own thread for `block_until_stopped`, which may
/// outlive this call by a telemetry frame.
fn until_over(graph: Graph, live: &Arc<Live>) -> Result<(), Error> {
    let slot = Arc::new(Mutex::new(Some(graph)));
    let spawned = {
        let (slot, live) = (slot.clone(), live.clone());
        std::thread::Builder::new()
            .name("graph-stop".into())
            .spawn(move || {
                let graph = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some(graph) = graph {
                    let verdict = graph
                        .block_until_stopped(STOP_TIMEOUT)
                        .map_err(|e| Error::Stop(e.to_string()));
                    live.over().graph_stopped(verdict);
                }
            })
    };
    if spawned.is_err() {
        // No thread to spare: wait for the graph here, the slow way.
        let graph = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(graph) = graph {
            return graph
                .block_until_stopped(STOP_TIMEOUT)
                .map_err(|e| Error::Stop(e.to_string()));
        }
    }
    let started = Instant::now();
    let startup_limit =
        crate::util::pause::unstarted().map_or(error::STARTUP_LIMIT_SECS, |(_, secs)| secs);
    live.over().wait(live.actors().len(), || {
        let missing = live.not_started();
        if !missing.is_empty() && started.elapsed() > Duration::from_secs(startup_limit) {
            let names: Vec<&str> = missing.iter().map(|a| a.as_str()).collect();
            return Some(Error::NotStarted(names.join(", ")));
        }
        // A stop that the actors do not follow (one of them never ran, or
        // hangs) ends the wait too, after the graph's own limit.
        live.since_stop()
            .filter(|since| *since > STOP_TIMEOUT)
            .map(|_| {
                Error::Stop(format!(
                    "the actors did not stop within {} s of the stop",
                    STOP_TIMEOUT.as_secs()
                ))
            })
    })
}

/// Something an actor held, once its thread has let go of it.
fn released<T>(mut get: impl FnMut() -> Option<T>, what: &'static str) -> Result<T, Error> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = get() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(Error::StillHeld(what));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stats::Cut;
    use crate::pipeline::testing::within;

    struct Discard;

    impl CutSink for Discard {
        fn commit(&mut self, _: &Cut, _: Restarts) -> Result<(u64, Duration), SinkError> {
            Ok((0, Duration::ZERO))
        }
        fn recover(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    /// `run` stops waiting once `graph::ACTORS` actors have returned: if an
    /// actor were added without being counted, or counted twice, a launch
    /// would end before its actors did (or wait on the graph's poll).
    #[test]
    fn every_actor_returns_once_and_the_count_is_theirs() {
        for rate_ms in [0, 1] {
            let live = Arc::new(Live::default());
            let returned = {
                let live = live.clone();
                within(Duration::from_secs(60), move || {
                    let cfg = PipelineConfig {
                        rate_ms,
                        beats_target: 20,
                        ..Default::default()
                    };
                    let plan = CheckpointPlan::new(Discard, Duration::from_millis(1), None);
                    let opts = RunOptions {
                        telemetry: false,
                        link: None,
                    };
                    let outcome =
                        run::<_, Error>(cfg, plan, opts, live.clone(), |_, _| Ok(())).unwrap();
                    assert_eq!(outcome.stats.messages, 20 * 8192);
                    live.over().returned()
                })
            };
            assert_eq!(returned, graph::ACTORS.len(), "rate {rate_ms}");
            // Nothing returns again afterwards.
            std::thread::sleep(Duration::from_millis(50));
            assert_eq!(
                live.over().returned(),
                graph::ACTORS.len(),
                "rate {rate_ms}"
            );
        }
    }
}
