//! Heartbeat: one beat every `--rate` ms (or as fast as the worker takes
//! them at rate 0), each beat a burst of 32 signals sent with one slice send.
//! It closes its channel after the target beat, or early on a stop request.

use crate::pipeline::config::{PipelineConfig, SIGNALS_PER_BEAT};
use crate::pipeline::fault::{self, FaultPoint};
use crate::pipeline::live::Live;
use crate::pipeline::names::ActorName;
use crate::pipeline::wait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use steady_state::*;

/// This actor's name (see pipeline/names.rs).
pub const NAME: ActorName = ActorName::new("heartbeat");

/// The longest the heartbeat blocks its thread at once.
const LONGEST_SLEEP: Duration = Duration::from_millis(50);

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
    internal_behavior(actor, beats_tx, state, cfg, live).await
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    beats_tx: SteadyTx<u64>,
    state: SteadyState<HeartbeatState>,
    cfg: Arc<PipelineConfig>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    live.record_restarts(NAME, actor.regeneration());
    let mut tx = beats_tx.lock().await;
    let mut state = state
        .lock(|| HeartbeatState {
            beats_sent: cfg.start.beats,
            fault: FaultPoint::new(cfg.panic_every(NAME), cfg.start.beats),
        })
        .await;
    let gap = Duration::from_millis(cfg.rate_ms);
    let mut burst = [0u64; SIGNALS_PER_BEAT];
    let delay = cfg.delay_for(NAME);
    let mut closed = false;
    // The first beat goes out at once; each later one a gap after the last.
    let mut next_beat = Instant::now();

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
        // Every wait also ends on a stop request, whatever the gap: a stop
        // must not wait for the next beat (at --rate 10^11, never).
        if actor.vacant_units(&mut tx) < SIGNALS_PER_BEAT {
            await_for_any!(
                async {
                    let _ = wait::vacant(&mut tx, SIGNALS_PER_BEAT).await;
                },
                live.stop_wait()
            );
            continue;
        }
        let now = Instant::now();
        if cfg.rate_ms > 0 && now < next_beat {
            // Paced, the pipeline shares this thread: let it finish the
            // beat, then sleep the thread itself to the next one. The
            // kernel wakes it at the deadline (a timer future would wake a
            // timer thread to arm it and again to fire it), and nothing
            // else needs the thread meanwhile: every other actor's work
            // starts with a beat. A stop wakes the sleep at once; a long gap
            // is slept in slices, so that the graph's own shutdown is seen.
            let beat = cfg.beat_size();
            if live.one_thread() && live.progress().0 < state.beats_sent.saturating_mul(beat) {
                actor.yield_now().await;
            } else {
                live.sleep_until(next_beat.min(now + LONGEST_SLEEP));
            }
            continue;
        }
        // Paced: one beat per gap. Unpaced: as many as there is room for.
        let room = actor.vacant_units(&mut tx) / SIGNALS_PER_BEAT;
        let beats = if cfg.rate_ms > 0 { room.min(1) } else { room };
        for _ in 0..beats {
            if state.beats_sent >= cfg.beats_target || live.stop_requested() {
                break;
            }
            let beat = state.beats_sent + 1;
            if state.fault.due(beat) {
                // Before the send: the restarted heartbeat sends this beat.
                fault::inject(NAME, state.beats_sent);
            }
            burst.fill(state.beats_sent);
            live.beat_sent(state.beats_sent, now);
            let sent = actor.send_slice(&mut tx, &burst[..]).item_count();
            debug_assert_eq!(sent, SIGNALS_PER_BEAT, "room was checked");
            state.beats_sent += 1;
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
        }
        // Keep the cadence through small delays; after a long stall start
        // afresh rather than send a burst of overdue beats.
        next_beat = if now > next_beat + gap {
            now + gap
        } else {
            next_beat + gap
        };
        wait::back_off_if_stopping(actor.is_liveliness_stop_requested() && beats == 0);
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
        crate::pipeline::testing::run_for(graph, wait);
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
    fn the_first_beat_goes_out_at_once() {
        // One beat a minute: the first still goes out at the start.
        let cfg = PipelineConfig {
            rate_ms: 60_000,
            beats_target: 3,
            ..Default::default()
        };
        let got = run_heartbeat(cfg, Duration::from_millis(300));
        assert_eq!(got.len(), SIGNALS_PER_BEAT, "one beat, not zero");
    }

    #[test]
    fn a_stop_request_ends_a_long_beat_gap_at_once() {
        let mut graph = GraphBuilder::for_testing().build(());
        let (tx, rx) = graph.channel_builder().with_capacity(8192).build_channel();
        let cfg = Arc::new(PipelineConfig {
            rate_ms: 100_000_000_000,
            beats_target: 10,
            ..Default::default()
        });
        let live = Arc::new(Live::default());
        let stopper = live.clone();
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
        graph.start();
        std::thread::sleep(Duration::from_millis(200));
        stopper.request_stop();
        // The heartbeat closes its channel on the stop, long before its next
        // beat would be due.
        let rx = rx.clone();
        crate::pipeline::testing::within(Duration::from_secs(10), move || {
            while !futures::executor::block_on(async { rx.lock().await.is_closed() }) {
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        graph.request_shutdown();
        crate::pipeline::testing::within(Duration::from_secs(10), move || {
            graph
                .block_until_stopped(Duration::from_secs(5))
                .expect("graph stops cleanly")
        });
    }

    #[test]
    fn paced_beats_never_outrun_the_rate() {
        let cfg = PipelineConfig {
            rate_ms: 200,
            beats_target: 1000,
            ..Default::default()
        };
        let got = run_heartbeat(cfg, Duration::from_millis(500));
        // A loaded machine may send fewer, never more: at 0, 200 and 400 ms.
        let beats = got.len() / SIGNALS_PER_BEAT;
        assert!(beats <= 3, "{beats} beats in 500 ms at one per 200 ms");
        assert_eq!(got.len() % SIGNALS_PER_BEAT, 0, "only whole bursts");
    }
}
