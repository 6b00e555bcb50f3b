//! Checkpoint: every `--checkpoint-interval` ms it asks the logger for a
//! cut, and hands the cut the logger sends back to its [`CutSink`], which
//! makes it durable. Only this actor waits on the disk; the others never
//! wait on it (requests and cuts travel over channels and are sent with
//! try_send).

use crate::pipeline::error::SinkError;
use crate::pipeline::live::Live;
use crate::pipeline::names::ActorName;
use crate::pipeline::stats::{Cut, Restarts};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use steady_state::*;

/// This actor's name (see pipeline/names.rs).
pub const NAME: ActorName = ActorName::new("checkpoint");

/// Where cuts go: the pipeline does not know what a disk is.
pub trait CutSink: Send + 'static {
    /// Makes a consistent cut of the logger's statistics durable, with the
    /// lifetime restarts so far. Returns when it was committed (unix ms)
    /// and how long the commit took.
    fn commit(&mut self, cut: &Cut, restarts: Restarts) -> Result<(u64, Duration), SinkError>;

    /// After a panic, perhaps in the middle of a commit: be ready again.
    fn recover(&mut self) -> Result<(), SinkError>;
}

pub struct CheckpointState<S> {
    pub sink: S,
    /// A cut was asked for and has not arrived. Kept here, not in a local,
    /// so that a restarted actor does not ask a second time: the logger
    /// would then hold a second request and spin on it until a beat boundary.
    awaiting: bool,
    asked_at: Instant,
    requests: u64,
}

/// How the actor is set up for one launch.
pub struct CheckpointPlan<S> {
    /// The sink, handed to the actor's state when it first starts.
    pub handoff: Mutex<Option<CheckpointState<S>>>,
    /// Zero: no periodic checkpoints (the final one is still written).
    pub interval: Duration,
    /// Fault injection: a slow disk, this much longer per commit.
    pub delay: Option<Duration>,
}

impl<S> CheckpointPlan<S> {
    pub fn new(sink: S, interval: Duration, delay: Option<Duration>) -> Self {
        CheckpointPlan {
            handoff: Mutex::new(Some(CheckpointState {
                sink,
                awaiting: false,
                asked_at: Instant::now(),
                requests: 0,
            })),
            interval,
            delay,
        }
    }
}

pub async fn run<S: CutSink>(
    actor: SteadyActorShadow,
    cut_requests_tx: SteadyTx<u64>,
    cuts_rx: SteadyRx<Cut>,
    state: SteadyState<CheckpointState<S>>,
    plan: Arc<CheckpointPlan<S>>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let actor = actor.into_spotlight([&cuts_rx], [&cut_requests_tx]);
    internal_behavior(actor, cut_requests_tx, cuts_rx, state, plan, live).await
}

pub(crate) async fn internal_behavior<A: SteadyActor, S: CutSink>(
    mut actor: A,
    cut_requests_tx: SteadyTx<u64>,
    cuts_rx: SteadyRx<Cut>,
    state: SteadyState<CheckpointState<S>>,
    plan: Arc<CheckpointPlan<S>>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let mut cut_requests = cut_requests_tx.lock().await;
    let mut cuts = cuts_rx.lock().await;
    let mut state = state
        .lock(|| {
            plan.handoff
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .expect("the sink is handed over before the graph starts")
        })
        .await;
    live.record_restarts(NAME, actor.regeneration());
    if actor.regeneration() > 0
        && let Err(e) = state.sink.recover()
    {
        live.fail_checkpoint(e);
    }
    let interval = plan.interval;

    while actor.is_running(|| cut_requests.mark_closed()) {
        if interval.is_zero() || live.checkpoint_error().is_some() {
            actor.wait_shutdown().await;
            continue;
        }
        if actor.avail_units(&mut cuts) == 0 {
            let until_due = interval
                .saturating_sub(state.asked_at.elapsed())
                .max(Duration::from_millis(1));
            let wait = if state.awaiting {
                crate::pipeline::wait::POLL
            } else {
                until_due
            };
            // A plain wait, not wait_periodic: that one warns whenever a
            // commit (an fsync) takes longer than a short interval.
            // The channel wait arms no telemetry timer (see wait::avail):
            // this actor wakes for its interval or its cut, nothing else.
            await_for_any!(actor.wait(wait), async {
                let _ = crate::pipeline::wait::avail(&mut cuts, 1).await;
            });
        }
        if let Some(cut) = actor.try_take(&mut cuts) {
            state.awaiting = false;
            if let Some(d) = plan.delay {
                std::thread::sleep(d);
            }
            match state.sink.commit(&cut, live.restarts()) {
                Ok((unix_ms, took)) => {
                    live.note_checkpoint(unix_ms, took);
                    live.note_committed(cut.stats.next_expected);
                }
                Err(why) => live.fail_checkpoint(why),
            }
        }
        if !state.awaiting
            && state.asked_at.elapsed() >= interval
            && actor
                .try_send(&mut cut_requests, state.requests + 1)
                .is_sent()
        {
            state.awaiting = true;
            state.requests += 1;
            state.asked_at = Instant::now();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink that only counts.
    struct Counting(u64);

    impl CutSink for Counting {
        fn commit(&mut self, _: &Cut, _: Restarts) -> Result<(u64, Duration), SinkError> {
            self.0 += 1;
            Ok((0, Duration::ZERO))
        }
        fn recover(&mut self) -> Result<(), SinkError> {
            Ok(())
        }
    }

    /// Runs the actor on `state` until it has had `work` to ask for cuts
    /// that nobody answers; returns the requests it sent.
    fn ask(
        state: &SteadyState<CheckpointState<Counting>>,
        plan: &Arc<CheckpointPlan<Counting>>,
        work: Duration,
    ) -> usize {
        let mut graph = GraphBuilder::for_testing().build(());
        let (cut_requests_tx, cut_requests_rx) =
            graph.channel_builder().with_capacity(4).build_channel();
        let (_snaps_tx, snaps_rx) = graph
            .channel_builder()
            .with_capacity(4)
            .build_channel::<Cut>();
        let live = Arc::new(Live::default());
        let (state, plan) = (state.clone(), plan.clone());
        graph.actor_builder().with_name("UnitTest").build(
            move |context| {
                internal_behavior(
                    context,
                    cut_requests_tx.clone(),
                    snaps_rx.clone(),
                    state.clone(),
                    plan.clone(),
                    live.clone(),
                )
            },
            SoloAct,
        );
        crate::pipeline::testing::run_for(graph, work);
        cut_requests_rx.testing_take_all().len()
    }

    #[test]
    fn a_restarted_actor_does_not_ask_for_a_second_cut() {
        let plan = Arc::new(CheckpointPlan::new(
            Counting(0),
            Duration::from_millis(1),
            None,
        ));
        let state = new_state();
        assert_eq!(ask(&state, &plan, Duration::from_millis(200)), 1);
        // The same state, as steady_state hands it to a restarted actor: the
        // request is still outstanding, so there is nothing to ask.
        assert_eq!(ask(&state, &plan, Duration::from_millis(200)), 0);
    }
}
