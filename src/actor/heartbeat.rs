//! Heartbeat: one beat every `--rate` ms (or as fast as the worker takes
//! them at rate 0), each beat a burst of 32 signals sent with one slice send.
//! It closes its channel after the target beat, or early on a stop request.

use crate::config::{ActorName, PipelineConfig, SIGNALS_PER_BEAT};
use crate::fault::{self, FaultPoint};
use crate::live::Live;
use std::sync::Arc;
use steady_state::*;

pub struct HeartbeatState {
    pub beats_sent: u64,
    pub fault: FaultPoint,
}

pub async fn run(
    actor: SteadyActorShadow,
    beats_tx: SteadyTx<u64>,
    state: SteadyState<HeartbeatState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let actor = actor.into_spotlight([], [&beats_tx]);
    if actor.use_internal_behavior {
        internal_behavior(actor, beats_tx, state, cfg, live).await
    } else {
        actor.simulated_behavior(vec![&beats_tx]).await
    }
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    beats_tx: SteadyTx<u64>,
    state: SteadyState<HeartbeatState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    live.record_restarts(ActorName::Heartbeat, actor.regeneration());
    let mut tx = beats_tx.lock().await;
    let mut state = state
        .lock(|| HeartbeatState {
            beats_sent: cfg.start.beats,
            fault: FaultPoint::new(cfg.panic_every(ActorName::Heartbeat), cfg.start.beats),
        })
        .await;
    let rate = std::time::Duration::from_millis(cfg.rate_ms);
    let mut burst = [0u64; SIGNALS_PER_BEAT];
    let delay = cfg.delay_for(ActorName::Heartbeat.as_str());
    let mut closed = false;

    while actor.is_running(|| tx.mark_closed()) {
        if !closed && (state.beats_sent >= cfg.beats_target || live.stop_requested()) {
            tx.mark_closed();
            closed = true;
        }
        if closed {
            // Our part is done; the logger ends the graph once it has drained.
            actor.wait_shutdown().await;
            continue;
        }
        if cfg.rate_ms > 0 {
            await_for_all!(
                actor.wait_periodic(rate),
                actor.wait_vacant(&mut tx, SIGNALS_PER_BEAT)
            );
        } else if actor.vacant_units(&mut tx) < SIGNALS_PER_BEAT {
            // A stop request is seen as soon as the worker takes a beat.
            actor.wait_vacant(&mut tx, SIGNALS_PER_BEAT).await;
        }
        // Paced: one beat per period. Unpaced: as many as there is room for.
        let room = actor.vacant_units(&mut tx) / SIGNALS_PER_BEAT;
        let beats = if cfg.rate_ms > 0 { room.min(1) } else { room };
        for _ in 0..beats {
            if state.beats_sent >= cfg.beats_target || live.stop_requested() {
                break;
            }
            let beat = state.beats_sent + 1;
            if state.fault.due(beat) {
                // Before the send: the restarted heartbeat sends this beat.
                fault::inject(ActorName::Heartbeat, state.beats_sent);
            }
            burst.fill(state.beats_sent);
            let sent = actor.send_slice(&mut tx, &burst[..]).item_count();
            debug_assert_eq!(sent, SIGNALS_PER_BEAT, "room was checked");
            state.beats_sent += 1;
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
        }
        super::back_off_if_stopping(actor.is_liveliness_stop_requested() && beats == 0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run_heartbeat(cfg: PipelineConfig, wait: Duration) -> Vec<u64> {
        let mut graph = GraphBuilder::for_testing().build(());
        let (tx, rx) = graph
            .channel_builder()
            .with_capacity(cfg.channel_capacity)
            .build_channel();
        let cfg = Arc::new(cfg);
        let live = Arc::new(Live::default());
        let state = new_state();
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
        crate::testing::run_for(graph, wait);
        rx.testing_take_all()
    }

    #[test]
    fn sends_bursts_of_32_up_to_the_target() {
        let cfg = PipelineConfig {
            rate_ms: 0,
            beats_target: 5,
            ..Default::default()
        };
        let got = run_heartbeat(cfg, Duration::from_millis(300));
        assert_eq!(got.len(), 5 * SIGNALS_PER_BEAT);
        for (beat, burst) in got.chunks(SIGNALS_PER_BEAT).enumerate() {
            assert!(
                burst.iter().all(|&b| b == beat as u64),
                "beat {beat}: {burst:?}"
            );
        }
    }

    #[test]
    fn paced_beats_never_outrun_the_rate() {
        let cfg = PipelineConfig {
            rate_ms: 200,
            beats_target: 1000,
            ..Default::default()
        };
        let got = run_heartbeat(cfg, Duration::from_millis(500));
        // A loaded machine may send fewer, never more: one per 200 ms period
        // (plus the one at the start of the first period).
        let beats = got.len() / SIGNALS_PER_BEAT;
        assert!(beats <= 4, "{beats} beats in 500 ms at one per 200 ms");
        assert_eq!(got.len() % SIGNALS_PER_BEAT, 0, "only whole bursts");
    }
}
