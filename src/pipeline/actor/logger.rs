//! Logger: the end of the line. It reads in batches of `--logger-batch`,
//! verifies every message (exact next value, right kind), keeps the
//! statistics, and ends the run once the worker's channel is closed and
//! drained.

use crate::pipeline::config::PipelineConfig;
use crate::pipeline::fault::{self, FaultPoint};
use crate::pipeline::latency::BeatLatency;
use crate::pipeline::live::Live;
use crate::pipeline::message::FizzBuzzMsg;
use crate::pipeline::names::ActorName;
use crate::pipeline::names::Channel;
use crate::pipeline::ring;
use crate::pipeline::stats::{Cut, LoggerStats};
use crate::pipeline::wait;
use std::sync::Arc;
use std::time::Instant;
use steady_state::*;

/// This actor's name (see pipeline/names.rs).
pub const NAME: ActorName = ActorName::new("logger");

pub struct LoggerState {
    pub stats: LoggerStats,
    pub fault: FaultPoint,
    /// The checkpoint actor asked for a cut and has not had it yet.
    pub cut_pending: bool,
    /// When the newest message was counted: the end of the launch's run
    /// time, whatever the shutdown takes after it.
    pub last_counted: Option<Instant>,
    /// Beats whose every message is counted (lifetime).
    pub beats_done: u64,
    /// This launch's beat latencies.
    pub latency: BeatLatency,
}

pub async fn run(
    actor: SteadyActorShadow,
    msgs_rx: SteadyRx<FizzBuzzMsg>,
    cut_requests_rx: SteadyRx<u64>,
    cuts_tx: SteadyTx<Cut>,
    state: SteadyState<LoggerState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let actor = actor.into_spotlight([&msgs_rx, &cut_requests_rx], [&cuts_tx]);
    internal_behavior(actor, msgs_rx, cut_requests_rx, cuts_tx, state, cfg, live).await
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    msgs_rx: SteadyRx<FizzBuzzMsg>,
    cut_requests_rx: SteadyRx<u64>,
    cuts_tx: SteadyTx<Cut>,
    state: SteadyState<LoggerState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    live.record_restarts(NAME, actor.regeneration());
    let mut rx = msgs_rx.lock().await;
    let mut cut_requests = cut_requests_rx.lock().await;
    let mut cuts = cuts_tx.lock().await;
    let mut state = state
        .lock(|| LoggerState {
            stats: cfg.start.logger,
            fault: FaultPoint::new(cfg.panic_every(NAME), cfg.start.logger.messages),
            cut_pending: false,
            last_counted: None,
            beats_done: cfg.start.logger.messages / cfg.beat_size(),
            latency: BeatLatency::default(),
        })
        .await;
    let batch = cfg.logger_batch;
    let wake = cfg.logger_wake();
    let beat = cfg.beat_size();
    let spinner = wait::Spinner::new(&cfg);
    let delay = cfg.delay_for(NAME);

    while actor.is_running(|| wait::closed_and_empty(&mut rx) && cuts.mark_closed()) {
        if !state.cut_pending && actor.try_take(&mut cut_requests).is_some() {
            state.cut_pending = true;
        }
        // A cut is taken at a beat boundary: there the generator's position
        // is exactly our next expected value and every beat is whole.
        if state.cut_pending
            && state.stats.messages % beat == 0
            && actor
                .try_send(
                    &mut cuts,
                    Cut {
                        stats: live.with_link_duplicates(state.stats),
                        taken: Instant::now(),
                    },
                )
                .is_sent()
        {
            state.cut_pending = false;
        }
        // Wait for half a channel of whole batches, but never for more than
        // a beat (so a paced beat is counted when it arrives) nor past the
        // boundary where a requested cut is due. No timer: the wait also
        // ends on a cut request, when the worker closes the channel, and
        // (with telemetry) on each telemetry tick.
        let mut want = wake.min(beat as usize);
        if state.cut_pending {
            want = want.min((beat - state.stats.messages % beat) as usize);
        }
        if !spinner.spin_until(|| actor.avail_units(&mut rx) >= want) {
            await_for_any!(
                wait::avail(&mut rx, want),
                wait::avail(&mut cut_requests, 1)
            );
        }
        let avail = actor.avail_units(&mut rx);
        live.set_fill(Channel::Messages, avail);
        // Whole batches while they are there; a partial one only when the
        // wait ended without a whole batch (idle, or the end of the run).
        let mut n = if avail >= batch {
            avail / batch * batch
        } else {
            avail
        };
        if state.cut_pending {
            // Stop at the next beat boundary so the cut can be taken there.
            let to_boundary = beat - state.stats.messages % beat;
            n = n.min(to_boundary as usize);
        }
        if n > 0 && cfg.single_item {
            // The bench's yardstick: one message per channel operation.
            let mut stats = state.stats;
            for _ in 0..n {
                let Some(m) = actor.try_take(&mut rx) else {
                    break;
                };
                stats.absorb(std::slice::from_ref(&m));
                stats.record_batch(1);
            }
            state.stats = stats;
            counted(&mut state, &live, beat);
            live.publish(&stats);
        } else if n > 0 {
            let mut stats = state.stats;
            ring::for_each_chunk(actor.peek_slice(&mut rx), n, batch, |a, b| {
                let before = stats.messages;
                stats.absorb(a);
                stats.absorb(b);
                // A batch that was all replayed duplicates is not a new batch.
                let fresh = stats.messages - before;
                if fresh > 0 {
                    stats.record_batch(fresh as usize);
                }
            });
            state.stats = stats;
            counted(&mut state, &live, beat);
            if state.fault.due(stats.messages) {
                // Counted but not yet taken: the restarted logger sees these
                // messages again and must drop every one as a duplicate.
                fault::inject(NAME, stats.messages);
            }
            actor.advance_take_index(&mut rx, n);
            live.publish(&stats);
            if let Some(d) = delay {
                // Per batch, as a slow consumer would be.
                std::thread::sleep(d * n.div_ceil(batch) as u32);
            }
        } else if wait::closed_and_empty(&mut rx) && !actor.is_liveliness_stop_requested() {
            // Everything the last beat credited has been counted. steady_state
            // ignores the request until the graph is running, and a stop at
            // the very start gets here sooner than that: wait until it runs.
            if actor.is_liveliness_running() {
                actor.request_shutdown().await;
            } else {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        } else {
            wait::back_off_if_stopping(actor.is_liveliness_stop_requested());
        }
    }
    Ok(())
}

/// Messages were just counted: the launch's run time reaches now, and every
/// beat they completed gets its latency.
fn counted(state: &mut LoggerState, live: &Live, beat: u64) {
    let now = Instant::now();
    state.last_counted = Some(now);
    while state.beats_done < state.stats.messages / beat {
        if let Some(latency) = live.beat_done(state.beats_done, now) {
            state.latency.record(latency);
        }
        state.beats_done += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::message::KindCounts;
    use std::time::Duration;

    fn logged(
        input: Vec<FizzBuzzMsg>,
        logger_batch: usize,
        panic_every: Option<u64>,
    ) -> LoggerStats {
        let mut graph = GraphBuilder::for_testing().build(());
        let (tx, rx) = graph.channel_builder().with_capacity(4096).build_channel();
        let (_cut_requests_tx, cut_requests_rx) = graph
            .channel_builder()
            .with_capacity(4)
            .build_channel::<u64>();
        let (snaps_tx, _snaps_rx) = graph
            .channel_builder()
            .with_capacity(4)
            .build_channel::<Cut>();
        let cfg = Arc::new(PipelineConfig {
            logger_batch,
            inject_panic: panic_every
                .map(|every| crate::pipeline::config::PanicSpec { actor: NAME, every })
                .into_iter()
                .collect(),
            ..Default::default()
        });
        let live = Arc::new(Live::default());
        let state = new_state();
        let handle = state.clone();
        graph.actor_builder().with_name("UnitTest").build(
            move |context| {
                internal_behavior(
                    context,
                    rx.clone(),
                    cut_requests_rx.clone(),
                    snaps_tx.clone(),
                    state.clone(),
                    cfg.clone(),
                    live.clone(),
                )
            },
            SoloAct,
        );
        tx.testing_send_all(input, true);
        // A closed, drained input makes the logger end the graph itself.
        crate::pipeline::testing::run_to_completion(graph, Duration::from_secs(10));
        handle.try_lock_sync().expect("logger state").stats
    }

    #[test]
    fn counts_in_batches_and_matches_the_closed_form() {
        let stats = logged((0..3000).map(FizzBuzzMsg::new).collect(), 1024, None);
        assert_eq!(stats.counts, KindCounts::closed_form(3000));
        assert_eq!(
            (
                stats.messages,
                stats.sequence_errors,
                stats.duplicates_dropped
            ),
            (3000, 0, 0)
        );
        assert_eq!(stats.max_batch, 1024);
        assert_eq!(stats.batches, 3, "two whole batches and the tail");
    }

    #[test]
    fn a_panic_after_counting_drops_the_replay_as_duplicates() {
        let stats = logged((0..3000).map(FizzBuzzMsg::new).collect(), 500, Some(1000));
        assert_eq!(stats.counts, KindCounts::closed_form(3000));
        assert_eq!(stats.sequence_errors, 0);
        assert!(
            stats.duplicates_dropped >= 500,
            "replayed after the panic: {}",
            stats.duplicates_dropped
        );
    }

    #[test]
    fn an_end_reached_before_the_graph_runs_still_ends_it() {
        // The input is closed and empty before the graph starts: the logger
        // asks for the end before steady_state would hear it, and must keep
        // asking rather than spin forever.
        let mut graph = GraphBuilder::for_testing().build(());
        let (tx, rx) = graph
            .channel_builder()
            .with_capacity(8192)
            .build_channel::<FizzBuzzMsg>();
        let (_cut_requests_tx, cut_requests_rx) = graph
            .channel_builder()
            .with_capacity(4)
            .build_channel::<u64>();
        let (snaps_tx, _snaps_rx) = graph
            .channel_builder()
            .with_capacity(4)
            .build_channel::<Cut>();
        let cfg = Arc::new(PipelineConfig::default());
        let live = Arc::new(Live::default());
        let state = new_state();
        tx.testing_send_all(Vec::new(), true);
        graph.actor_builder().with_name("UnitTest").build(
            move |context| {
                internal_behavior(
                    context,
                    rx.clone(),
                    cut_requests_rx.clone(),
                    snaps_tx.clone(),
                    state.clone(),
                    cfg.clone(),
                    live.clone(),
                )
            },
            SoloAct,
        );
        std::thread::sleep(Duration::from_millis(300));
        crate::pipeline::testing::run_to_completion(graph, Duration::from_secs(10));
    }

    #[test]
    fn a_wrong_message_is_a_sequence_error() {
        let mut input: Vec<FizzBuzzMsg> = (0..100).map(FizzBuzzMsg::new).collect();
        input[50].value = 77;
        let stats = logged(input, 64, None);
        assert!(stats.sequence_errors > 0);
    }
}
