//! Builds the actor graph: Heartbeat and Generator share one thread (a
//! troupe); Worker, Logger and Checkpoint each get their own, except that
//! paced, Worker and Logger join the troupe (see below).
//!
//! ```text
//!  ┌──────────── troupe ────────────┐
//!  │ Heartbeat ──32 signals/beat──┐ │
//!  │                              ▼ │
//!  │ Generator ──u64 values──▶ Worker ──FizzBuzzMsg──▶ Logger
//!  └────────────────────────────────┘                      ▲ │ cut requests
//!                                                  cuts │ ▼
//!                                                   Checkpoint ──▶ redb
//! ```

use crate::pipeline::actor::checkpoint::{self, CheckpointPlan, CheckpointState, CutSink};
use crate::pipeline::actor::{generator, heartbeat, logger, worker};
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::live::Live;
use crate::pipeline::names::ActorName;
use std::sync::Arc;
use steady_state::*;

/// Handles on the actors' steady state, for reading the results after the
/// graph has stopped.
pub struct StateHandles<S> {
    pub heartbeat: SteadyState<heartbeat::HeartbeatState>,
    pub generator: SteadyState<generator::GeneratorState>,
    pub worker: SteadyState<worker::WorkerState>,
    pub logger: SteadyState<logger::LoggerState>,
    pub checkpoint: SteadyState<CheckpointState<S>>,
}

pub fn build_graph<S: CutSink>(
    graph: &mut Graph,
    cfg: &Arc<PipelineConfig>,
    plan: &Arc<CheckpointPlan<S>>,
    live: &Arc<Live>,
) -> StateHandles<S> {
    let channels = graph.channel_builder().with_capacity(cfg.channel_capacity);
    let (beats_tx, beats_rx) = channels.build_channel();
    let (values_tx, values_rx) = channels.build_channel();
    let (msgs_tx, msgs_rx) = channels.build_channel();
    // One request and one answer at a time; a little slack costs nothing.
    let control = graph.channel_builder().with_capacity(4);
    let (cut_requests_tx, cut_requests_rx) = control.build_channel();
    let (cuts_tx, cuts_rx) = control.build_channel();

    let actors = graph
        .actor_builder()
        .with_thread_info()
        .with_mcpu_avg()
        .with_load_avg();
    let handles = StateHandles {
        heartbeat: new_state(),
        generator: new_state(),
        worker: new_state(),
        logger: new_state(),
        checkpoint: new_state(),
    };

    // Unpaced, the worker and the logger each get a thread and the kernel
    // places the three busy threads on the cores. Paced, the pipeline is
    // idle between beats and each thread a beat touches costs a wake-up,
    // so all four share the heartbeat's thread: one wake-up a beat.
    let paced = cfg.rate_ms > 0;
    if paced {
        live.set_one_thread();
    }
    let mut troupe = graph.actor_troupe();
    if !left_out(heartbeat::NAME) {
        let (state, cfg, live) = (handles.heartbeat.clone(), cfg.clone(), live.clone());
        actors.with_name(heartbeat::NAME.as_str()).build(
            move |a| {
                returning(
                    live.clone(),
                    heartbeat::run(
                        a,
                        beats_tx.clone(),
                        state.clone(),
                        cfg.clone(),
                        live.clone(),
                    ),
                )
            },
            MemberOf(&mut troupe),
        );
    }
    if !left_out(generator::NAME) {
        let (state, cfg, live) = (handles.generator.clone(), cfg.clone(), live.clone());
        actors.with_name(generator::NAME.as_str()).build(
            move |a| {
                returning(
                    live.clone(),
                    generator::run(
                        a,
                        values_tx.clone(),
                        state.clone(),
                        cfg.clone(),
                        live.clone(),
                    ),
                )
            },
            MemberOf(&mut troupe),
        );
    }
    if !left_out(worker::NAME) {
        let (state, cfg, live) = (handles.worker.clone(), cfg.clone(), live.clone());
        actors.with_name(worker::NAME.as_str()).build(
            move |a| {
                returning(
                    live.clone(),
                    worker::run(
                        a,
                        beats_rx.clone(),
                        values_rx.clone(),
                        msgs_tx.clone(),
                        state.clone(),
                        cfg.clone(),
                        live.clone(),
                    ),
                )
            },
            if paced {
                MemberOf(&mut troupe)
            } else {
                SoloAct
            },
        );
    }
    if !left_out(logger::NAME) {
        let (state, cfg, live) = (handles.logger.clone(), cfg.clone(), live.clone());
        actors.with_name(logger::NAME.as_str()).build(
            move |a| {
                returning(
                    live.clone(),
                    logger::run(
                        a,
                        msgs_rx.clone(),
                        cut_requests_rx.clone(),
                        cuts_tx.clone(),
                        state.clone(),
                        cfg.clone(),
                        live.clone(),
                    ),
                )
            },
            if paced {
                MemberOf(&mut troupe)
            } else {
                SoloAct
            },
        );
    }
    drop(troupe); // the troupe's thread starts here
    if !left_out(checkpoint::NAME) {
        let (state, plan, live) = (handles.checkpoint.clone(), plan.clone(), live.clone());
        actors.with_name(checkpoint::NAME.as_str()).build(
            move |a| {
                returning(
                    live.clone(),
                    checkpoint::run(
                        a,
                        cut_requests_tx.clone(),
                        cuts_rx.clone(),
                        state.clone(),
                        plan.clone(),
                        live.clone(),
                    ),
                )
            },
            SoloAct,
        );
    }
    handles
}

/// Test hook (util/pause.rs): an actor left out, as if its thread could
/// not be started.
fn left_out(actor: ActorName) -> bool {
    crate::util::pause::unstarted().is_some_and(|(name, _)| name == actor.as_str())
}

/// The pipeline's actors, by name: adding one is its file, this list and
/// its place in [`build_graph`]. Each is wrapped in [`returning`].
pub const ACTORS: [ActorName; 5] = [
    heartbeat::NAME,
    generator::NAME,
    worker::NAME,
    logger::NAME,
    checkpoint::NAME,
];

/// Runs an actor and counts its return without a panic, after which
/// steady_state never runs it again (see over.rs).
async fn returning(
    live: Arc<Live>,
    run: impl Future<Output = Result<(), Box<dyn std::error::Error>>>,
) -> Result<(), Box<dyn std::error::Error>> {
    let result = run.await;
    if result.is_ok() {
        live.over().actor_returned();
    }
    result
}
