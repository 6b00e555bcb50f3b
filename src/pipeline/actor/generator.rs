//! Generator: consecutive u64 values, written in whole batches straight into
//! the channel's free slots (poke + advance, no copy, no allocation).

use crate::pipeline::config::PipelineConfig;
use crate::pipeline::fault::{self, FaultPoint};
use crate::pipeline::live::Live;
use crate::pipeline::names::ActorName;
use crate::pipeline::names::Stage;
use crate::pipeline::ring;
use crate::pipeline::wait;
use std::sync::Arc;
use steady_state::*;

/// This actor's name (see pipeline/names.rs).
pub const NAME: ActorName = ActorName::new("generator");

pub struct GeneratorState {
    /// The next value to generate; everything below it has been handed to
    /// the channel.
    pub next_value: u64,
    pub fault: FaultPoint,
}

pub async fn run(
    actor: SteadyActorShadow,
    values_tx: SteadyTx<u64>,
    state: SteadyState<GeneratorState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let actor = actor.into_spotlight([], [&values_tx]);
    internal_behavior(actor, values_tx, state, cfg, live).await
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    values_tx: SteadyTx<u64>,
    state: SteadyState<GeneratorState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    live.record_restarts(NAME, actor.regeneration());
    let mut tx = values_tx.lock().await;
    let start = cfg.start.logger.next_expected;
    let mut state = state
        .lock(|| GeneratorState {
            next_value: start,
            fault: FaultPoint::new(cfg.panic_every(NAME), start),
        })
        .await;
    let batch = cfg.generator_batch;
    let wake = cfg.generator_wake();
    let spinner = wait::Spinner::new(&cfg);
    let delay = cfg.delay_for(NAME);

    // Values beyond the last credit are never needed, but the worker may
    // need more until it has spent its last one: stop only after that.
    while actor.is_running(|| live.worker_done() && tx.mark_closed()) {
        if live.worker_done() {
            actor.wait_shutdown().await;
            continue;
        }
        // No timer in this wait (arming one costs a wake-up of the timer
        // thread each time): when the worker finishes it empties this
        // channel, and the room that makes wakes us to see it is done.
        if !spinner.spin_until(|| actor.vacant_units(&mut tx) >= wake) {
            wait::vacant(&mut tx, wake).await;
        }
        let n = actor.vacant_units(&mut tx) / batch * batch;
        if n == 0 {
            wait::back_off_if_stopping(actor.is_liveliness_stop_requested());
            continue;
        }
        if cfg.single_item {
            // The bench's yardstick: one value per channel operation.
            let mut sent = 0;
            while sent < n && actor.try_send(&mut tx, state.next_value).is_sent() {
                state.next_value += 1;
                sent += 1;
            }
            live.note_batch(Stage::Generator, sent);
            continue;
        }
        let first = state.next_value;
        ring::fill_parts(actor.poke_slice(&mut tx), n, |piece, offset| {
            let base = first + offset as u64;
            for (i, slot) in piece.iter_mut().enumerate() {
                slot.write(base + i as u64);
            }
        });
        if state.fault.due(first + n as u64) {
            // Written but not yet published: the restarted generator writes
            // the same values again.
            fault::inject(NAME, first);
        }
        let sent = actor.advance_send_index(&mut tx, n).item_count();
        state.next_value += sent as u64;
        live.note_batch(Stage::Generator, sent);
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::config::StartPoint;
    use crate::pipeline::stats::LoggerStats;
    use std::time::Duration;

    #[test]
    fn generates_consecutive_values_in_whole_batches_from_the_start_point() {
        let mut graph = GraphBuilder::for_testing().build(());
        let (tx, rx) = graph.channel_builder().with_capacity(1000).build_channel();
        let cfg = Arc::new(PipelineConfig {
            generator_batch: 300,
            start: StartPoint {
                beats: 0,
                logger: LoggerStats::starting_at(42),
            },
            ..Default::default()
        });
        let state = new_state();
        let live = Arc::new(Live::default());
        let worker = live.clone();
        graph.actor_builder().with_name("UnitTest").build(
            move |context| {
                internal_behavior(
                    context,
                    tx.clone(),
                    state.clone(),
                    cfg.clone(),
                    live.clone(),
                )
            },
            SoloAct,
        );
        // The generator only agrees to stop once the worker no longer needs it.
        crate::pipeline::testing::run_for_then(graph, Duration::from_millis(200), || {
            worker.set_worker_done()
        });
        let got: Vec<u64> = rx.testing_take_all();
        // 1000 slots hold three whole batches of 300.
        assert_eq!(got, (42..42 + 900).collect::<Vec<u64>>());
    }
}
