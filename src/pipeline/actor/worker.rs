//! Worker: turns beat signals into credits (one worker batch each) and moves
//! exactly that many values from the generator to the logger, classifying
//! them on the way with zero-copy slices (peek → poke → advance).

use crate::pipeline::config::PipelineConfig;
use crate::pipeline::fault::{self, FaultPoint};
use crate::pipeline::live::Live;
use crate::pipeline::message::{FizzBuzzMsg, classify_into};
use crate::pipeline::names::ActorName;
use crate::pipeline::names::{Channel, Stage};
use crate::pipeline::ring;
use crate::pipeline::wait;
use std::sync::Arc;
use steady_state::*;

/// This actor's name (see pipeline/names.rs).
pub const NAME: ActorName = ActorName::new("worker");

pub struct WorkerState {
    /// Messages credited by beats and not yet forwarded.
    pub owed: u64,
    pub processed: u64,
    pub fault: FaultPoint,
}

pub async fn run(
    actor: SteadyActorShadow,
    beats_rx: SteadyRx<u64>,
    values_rx: SteadyRx<u64>,
    msgs_tx: SteadyTx<FizzBuzzMsg>,
    state: SteadyState<WorkerState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    // The worker sits between real neighbours, so it always runs for real.
    let actor = actor.into_spotlight([&beats_rx, &values_rx], [&msgs_tx]);
    internal_behavior(actor, beats_rx, values_rx, msgs_tx, state, cfg, live).await
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    beats_rx: SteadyRx<u64>,
    values_rx: SteadyRx<u64>,
    msgs_tx: SteadyTx<FizzBuzzMsg>,
    state: SteadyState<WorkerState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    live.record_restarts(NAME, actor.regeneration());
    let mut beats = beats_rx.lock().await;
    let mut values = values_rx.lock().await;
    let mut tx = msgs_tx.lock().await;
    let start = cfg.start.logger.next_expected;
    let mut state = state
        .lock(|| WorkerState {
            owed: 0,
            processed: start,
            fault: FaultPoint::new(cfg.panic_every(NAME), start),
        })
        .await;
    let credit = cfg.worker_batch as u64;
    let (input_wake, output_wake) = (cfg.worker_input_wake(), cfg.worker_output_wake());
    let step = cfg.worker_step();
    let mut finished = false;
    let spinner = wait::Spinner::new(&cfg);
    let delay = cfg.delay_for(NAME);

    while actor.is_running(|| finished && tx.mark_closed()) {
        if live.abandoned().is_some() && !finished {
            // A sink whose values stopped coming: what was credited will not
            // arrive, and the launch ends at its last durable cut.
            tx.mark_closed();
            live.set_worker_done();
            finished = true;
        }
        if finished {
            actor.wait_shutdown().await;
            continue;
        }
        let signals = actor.avail_units(&mut beats);
        live.set_fill(Channel::Beats, signals);
        // At most a channel of credit is held here; the rest waits in the
        // beats channel, so a worker that falls behind holds the heartbeat
        // back instead of piling up credit (and unbounded beat latency).
        let room = (cfg.channel_capacity as u64).saturating_sub(state.owed) / credit;
        let take = signals.min(room as usize);
        if take > 0 {
            state.owed += take as u64 * credit;
            actor.advance_take_index(&mut beats, take);
        }
        if state.owed == 0 {
            if wait::closed_and_empty(&mut beats) {
                if !finished {
                    tx.mark_closed();
                    live.set_worker_done();
                    // Values beyond the last credit are discarded; emptying
                    // the channel also wakes the generator to see we are done.
                    let left = actor.avail_units(&mut values);
                    actor.advance_take_index(&mut values, left);
                    finished = true;
                }
                actor.wait_shutdown().await;
            } else {
                // Returns on a new signal or when the heartbeat closes.
                wait::avail(&mut beats, 1).await;
            }
            continue;
        }
        let want = state.owed.min(cfg.channel_capacity as u64) as usize;
        let (want_in, want_out) = (want.min(input_wake), want.min(output_wake));
        if !spinner.spin_until(|| {
            actor.avail_units(&mut values) >= want_in && actor.vacant_units(&mut tx) >= want_out
        }) {
            wait::avail(&mut values, want_in).await;
            wait::vacant(&mut tx, want_out).await;
        }

        if cfg.single_item {
            // The bench's yardstick: one message per channel operation
            // (no re-send ordering: the bench injects no panics).
            let mut n = 0u64;
            while n < state.owed {
                let Some(v) = actor.try_take(&mut values) else {
                    break;
                };
                let sent = actor.try_send(&mut tx, FizzBuzzMsg::new(v)).is_sent();
                debug_assert!(sent, "room was waited for");
                n += 1;
                if actor.vacant_units(&mut tx) == 0 {
                    break;
                }
            }
            state.owed -= n;
            state.processed += n;
            live.note_batch(Stage::Worker, n as usize);
            continue;
        }
        let src = actor.peek_slice(&mut values);
        let dst = actor.poke_slice(&mut tx);
        let n = (state.owed as usize)
            .min(src.0.len() + src.1.len())
            .min(dst.0.len() + dst.1.len())
            .min(step);
        if n == 0 {
            wait::back_off_if_stopping(actor.is_liveliness_stop_requested());
            continue;
        }
        live.set_fill(Channel::Values, src.0.len() + src.1.len());
        ring::zip_parts(src, dst, n, classify_into);
        let sent = actor.advance_send_index(&mut tx, n).item_count();
        debug_assert_eq!(sent, n);
        let reached = state.processed + n as u64;
        if state.fault.due(reached) {
            // Sent but not yet taken: the restarted worker sends these values
            // again and the logger drops the copies by sequence.
            fault::inject(NAME, state.processed);
        }
        actor.advance_take_index(&mut values, n);
        state.owed -= n as u64;
        state.processed += n as u64;
        live.note_batch(Stage::Worker, n);
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Feeds `signals` beat signals and plenty of values; returns what the
    /// worker forwarded.
    fn forwarded(
        signals: usize,
        worker_batch: usize,
        panic_every: Option<u64>,
    ) -> Vec<FizzBuzzMsg> {
        forwarded_with(signals, worker_batch, panic_every).0
    }

    /// Also the worker's steps: (steps, messages moved).
    fn forwarded_with(
        signals: usize,
        worker_batch: usize,
        panic_every: Option<u64>,
    ) -> (Vec<FizzBuzzMsg>, (u64, u64)) {
        let mut graph = GraphBuilder::for_testing().build(());
        let (beats_tx, beats_rx) = graph.channel_builder().with_capacity(64).build_channel();
        let (values_tx, values_rx) = graph.channel_builder().with_capacity(4096).build_channel();
        let (msgs_tx, msgs_rx) = graph.channel_builder().with_capacity(4096).build_channel();
        let cfg = Arc::new(PipelineConfig {
            worker_batch,
            generator_batch: 64,
            inject_panic: panic_every
                .map(|every| crate::pipeline::config::PanicSpec { actor: NAME, every })
                .into_iter()
                .collect(),
            channel_capacity: 4096,
            ..Default::default()
        });
        let live = Arc::new(Live::default());
        let seen = live.clone();
        let state = new_state();
        graph.actor_builder().with_name("UnitTest").build(
            move |context| {
                internal_behavior(
                    context,
                    beats_rx.clone(),
                    values_rx.clone(),
                    msgs_tx.clone(),
                    state.clone(),
                    cfg.clone(),
                    live.clone(),
                )
            },
            SoloAct,
        );
        values_tx.testing_send_all((0..4000u64).collect(), true);
        beats_tx.testing_send_all(vec![0u64; signals], true);
        crate::pipeline::testing::run_for(graph, Duration::from_millis(300));
        (msgs_rx.testing_take_all(), seen.batches(Stage::Worker))
    }

    /// A worker that took a whole channel at once left the generator no
    /// room until it was done, and the two took turns instead of working
    /// at once: the slow runs of the bench. Half a channel at most.
    #[test]
    fn a_full_channel_is_moved_half_a_channel_at_a_time() {
        let (got, (steps, moved)) = forwarded_with(40, 100, None);
        assert_eq!(got.len(), 4000);
        assert_eq!(moved, 4000);
        assert!(steps >= 2, "4000 messages in {steps} step(s)");
        assert!(moved / steps <= 2048, "{moved} messages in {steps} steps");
    }

    #[test]
    fn each_signal_moves_exactly_one_batch_classified() {
        let got = forwarded(3, 100, None);
        let want: Vec<FizzBuzzMsg> = (0..300).map(FizzBuzzMsg::new).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_panic_re_sends_but_never_skips() {
        let got = forwarded(10, 100, Some(250));
        // Every value arrives, in order once duplicates are removed.
        let mut seen = Vec::new();
        for m in &got {
            if seen.last().is_none_or(|&last| m.value > last) {
                seen.push(m.value);
            }
            assert_eq!(*m, FizzBuzzMsg::new(m.value));
        }
        assert_eq!(seen, (0..1000).collect::<Vec<u64>>());
        assert!(got.len() > 1000, "the injected panics caused re-sends");
    }
}
