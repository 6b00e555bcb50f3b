//! Receiver (sink pod only): stands where the generator stands in one
//! process. It moves the values the source pod sends into the worker's
//! values channel, in order; the link takes only the next position, drops
//! the rest and asks again after a gap, and is told how much room there
//! is, which is all the credit the source gets.

use crate::pipeline::config::PipelineConfig;
use crate::pipeline::fault::{self, FaultPoint};
use crate::pipeline::link::{LinkPlan, ValueLink};
use crate::pipeline::live::{Abandon, Live};
use crate::pipeline::names::{ActorName, Stage};
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady_state::*;

/// This actor's name (see pipeline/names.rs).
pub const NAME: ActorName = ActorName::new("receiver");

/// The source pod, as the sink counts its restarts (a state dir's restart
/// counts are by name): each time the stream had to be asked for again,
/// for a new source or after a gap.
pub const SOURCE: ActorName = ActorName::new("source");

/// A stop drains what was credited; a source that sends nothing for this
/// long during a stop is not coming back, and the launch ends at its last
/// durable cut instead.
const DRAIN_GIVE_UP: Duration = Duration::from_secs(1);

/// The longest the receiver sleeps between polls of an idle link.
const LONGEST_NAP: Duration = Duration::from_millis(1);

pub struct ReceiverState {
    link: Box<dyn ValueLink>,
    /// The next position to publish into the values channel. The link may
    /// be ahead of it after a panic between a pull and its publication.
    published: u64,
    fault: FaultPoint,
}

pub async fn run(
    actor: SteadyActorShadow,
    values_tx: SteadyTx<u64>,
    state: SteadyState<ReceiverState>,
    plan: Arc<LinkPlan>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let actor = actor.into_spotlight([], [&values_tx]);
    internal_behavior(actor, values_tx, state, plan, cfg, live).await
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    values_tx: SteadyTx<u64>,
    state: SteadyState<ReceiverState>,
    plan: Arc<LinkPlan>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    live.record_restarts(NAME, actor.regeneration());
    let mut tx = values_tx.lock().await;
    let start = cfg.start.logger.next_expected;
    let mut state = state
        .lock(|| ReceiverState {
            link: plan
                .handoff
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .expect("the link is handed over before the graph starts"),
            published: start,
            fault: FaultPoint::new(cfg.panic_every(NAME), start),
        })
        .await;
    if actor.regeneration() > 0 {
        // Values pulled and never published are asked for again.
        let published = state.published;
        state.link.resume_from(published);
    }
    let mut nap = Duration::ZERO;
    let mut last_value = Instant::now();

    while actor.is_running(|| live.worker_done() && tx.mark_closed()) {
        if live.worker_done() || live.abandoned().is_some() {
            actor.wait_shutdown().await;
            continue;
        }
        let room = actor.vacant_units(&mut tx);
        let pulled = if room == 0 {
            Ok(0)
        } else {
            let (a, b) = actor.poke_slice(&mut tx);
            state.link.pull([a, b])
        };
        let n = match pulled.and_then(|n| {
            state
                .link
                .tend((room - n) as u64, live.committed())
                .map(|()| n)
        }) {
            Ok(n) => n,
            Err(lost) => {
                live.abandon(Abandon::LinkLost(lost.0));
                // The worker may be waiting for values: no more will come.
                tx.mark_closed();
                continue;
            }
        };
        let report = state.link.report();
        if n > 0 {
            let first = report.next - n as u64;
            if state.fault.due(report.next) {
                // Written but not yet published: the link has moved on, so
                // the restarted receiver asks for these values again.
                fault::inject(NAME, first);
            }
            let sent = actor.advance_send_index(&mut tx, n).item_count();
            debug_assert_eq!(sent, n);
            state.published += sent as u64;
            live.note_batch(Stage::Generator, n);
            last_value = Instant::now();
            nap = Duration::ZERO;
        }
        live.link().publish(report);
        if live.stop_requested() && last_value.elapsed() > DRAIN_GIVE_UP {
            live.abandon(Abandon::NothingToDrain);
            tx.mark_closed();
            continue;
        }
        if n == 0 {
            // Aeron has no wake-up to wait on: poll again soon, sooner
            // while values flow. (Not a wait for room either: the link must
            // be tended, and its loss seen, while the worker is behind.)
            nap = (nap * 2).clamp(Duration::from_micros(20), LONGEST_NAP);
            std::thread::sleep(nap);
        }
    }
    Ok(())
}
