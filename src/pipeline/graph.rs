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
use crate::pipeline::actor::{generator, heartbeat, logger, receiver, worker};
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::link::LinkPlan;
use crate::pipeline::live::Live;
use crate::pipeline::names::ActorName;
use std::sync::Arc;
use steady_state::*;

/// Handles on the actors' steady state, for reading the results after the
/// graph has stopped.
pub struct StateHandles<S> {
    pub heartbeat: SteadyState<heartbeat::HeartbeatState>,
    pub generator: SteadyState<generator::GeneratorState>,
    pub receiver: SteadyState<receiver::ReceiverState>,
    pub worker: SteadyState<worker::WorkerState>,
    pub logger: SteadyState<logger::LoggerState>,
    pub checkpoint: SteadyState<CheckpointState<S>>,
}

pub fn build_graph<S: CutSink>(
    graph: &mut Graph,
    cfg: &Arc<PipelineConfig>,
    plan: &Arc<CheckpointPlan<S>>,
    link: Option<&Arc<LinkPlan>>,
    live: &Arc<Live>,
) -> StateHandles<S> {
    let channels = graph.channel_builder().with_capacity(cfg.channel_capacity);
    let (beats_tx, beats_rx) = channels.build_channel();
    // A sink's values come from another process: the room here is all the
    // credit the source gets, so it is a link's worth (see link.rs).
    let values_capacity = match link {
        Some(_) => cfg.channel_capacity.max(crate::pipeline::link::WINDOW),
        None => cfg.channel_capacity,
    };
    let (values_tx, values_rx) = graph
        .channel_builder()
        .with_capacity(values_capacity)
        .build_channel();
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
        receiver: new_state(),
        worker: new_state(),
        logger: new_state(),
        checkpoint: new_state(),
    };

    // Unpaced, the worker and the logger each get a thread and the kernel
    // places the three busy threads on the cores. Paced, the pipeline is
    // idle between beats and each thread a beat touches costs a wake-up,
    // so all four share the heartbeat's thread: one wake-up a beat. A sink
    // keeps them apart: its receiver polls the link on a thread of its own
    // and the worker waits on it, not on the heartbeat's thread.
    let paced = cfg.rate_ms > 0 && link.is_none();
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
    if let Some(link) = link {
        let (state, link, cfg, live) = (
            handles.receiver.clone(),
            link.clone(),
            cfg.clone(),
            live.clone(),
        );
        actors.with_name(receiver::NAME.as_str()).build(
            move |a| {
                returning(
                    live.clone(),
                    receiver::run(
                        a,
                        values_tx.clone(),
                        state.clone(),
                        link.clone(),
                        cfg.clone(),
                        live.clone(),
                    ),
                )
            },
            SoloAct,
        );
    } else if !left_out(generator::NAME) {
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

/// Every actor any graph has, by name (for per-actor counters and the
/// names a flag may give). Adding one is its file, this list, its shape's
/// list and its place in [`build_graph`]. Each is wrapped in [`returning`].
pub const ALL: [ActorName; 6] = [
    heartbeat::NAME,
    generator::NAME,
    receiver::NAME,
    worker::NAME,
    logger::NAME,
    checkpoint::NAME,
];

/// The single-process pipeline's actors.
pub const ACTORS: [ActorName; 5] = [
    heartbeat::NAME,
    generator::NAME,
    worker::NAME,
    logger::NAME,
    checkpoint::NAME,
];

/// A sink pod's actors: the receiver stands where the generator stood.
pub const SINK_ACTORS: [ActorName; 5] = [
    heartbeat::NAME,
    receiver::NAME,
    worker::NAME,
    logger::NAME,
    checkpoint::NAME,
];

/// Which graph a launch runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Shape {
    /// The whole pipeline in one process.
    #[default]
    Whole,
    /// The sink pod: values come from the source pod over a link.
    Sink,
}

impl Shape {
    pub fn actors(self) -> &'static [ActorName] {
        match self {
            Shape::Whole => &ACTORS,
            Shape::Sink => &SINK_ACTORS,
        }
    }
}

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
