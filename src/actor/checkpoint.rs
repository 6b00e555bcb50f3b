//! Checkpoint: every `--checkpoint-interval` ms it asks the logger for a
//! cut, and commits the cut the logger sends back to redb in one durable
//! transaction. Only this actor touches the disk; the others never wait on
//! it (requests and cuts travel over channels and are sent with try_send).

use crate::live::Live;
use crate::record::{CheckpointRecord, Ledger};
use crate::stats::LoggerStats;
use crate::store::Store;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use steady_state::*;

pub struct CheckpointState {
    pub store: Store,
    /// The newest record committed to the file.
    pub last: CheckpointRecord,
    /// A cut was asked for and has not arrived. Kept here, not in a local,
    /// so that a restarted actor does not ask a second time: the logger
    /// would then hold a second request and spin on it until a beat boundary.
    awaiting: bool,
    asked_at: Instant,
}

impl CheckpointState {
    pub fn new(store: Store, last: CheckpointRecord) -> Self {
        CheckpointState {
            store,
            last,
            awaiting: false,
            asked_at: Instant::now(),
        }
    }
}

/// How the actor is set up for one launch.
pub struct CheckpointPlan {
    /// The open store, handed to the actor's state when it first starts.
    pub handoff: Mutex<Option<CheckpointState>>,
    pub ledger: Ledger,
    /// Zero: no periodic checkpoints (the final one is still written).
    pub interval: Duration,
    /// Fault injection: a slow disk, this much longer per commit.
    pub delay: Option<Duration>,
}

pub async fn run(
    actor: SteadyActorShadow,
    cuts_tx: SteadyTx<u64>,
    snapshots_rx: SteadyRx<LoggerStats>,
    state: SteadyState<CheckpointState>,
    plan: Arc<CheckpointPlan>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let actor = actor.into_spotlight([&snapshots_rx], [&cuts_tx]);
    internal_behavior(actor, cuts_tx, snapshots_rx, state, plan, live).await
}

pub(crate) async fn internal_behavior<A: SteadyActor>(
    mut actor: A,
    cuts_tx: SteadyTx<u64>,
    snapshots_rx: SteadyRx<LoggerStats>,
    state: SteadyState<CheckpointState>,
    plan: Arc<CheckpointPlan>,
    live: Arc<Live>,
) -> Result<(), Box<dyn Error>> {
    let mut cuts = cuts_tx.lock().await;
    let mut snapshots = snapshots_rx.lock().await;
    let mut state = state
        .lock(|| {
            plan.handoff
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .expect("the store is handed over before the graph starts")
        })
        .await;
    if actor.regeneration() > 0 {
        // We died mid-commit, perhaps: redb wants a fresh handle then.
        if let Err(e) = state.store.reopen() {
            live.fail_checkpoint(e.to_string());
        }
    }
    let interval = plan.interval;

    while actor.is_running(|| cuts.mark_closed()) {
        if interval.is_zero() || live.checkpoint_error().is_some() {
            actor.wait_shutdown().await;
            continue;
        }
        if actor.avail_units(&mut snapshots) == 0 {
            let until_due = interval
                .saturating_sub(state.asked_at.elapsed())
                .max(Duration::from_millis(1));
            let wait = if state.awaiting {
                super::POLL
            } else {
                until_due
            };
            // A plain wait, not wait_periodic: that one warns whenever a
            // commit (an fsync) takes longer than a short interval.
            await_for_any!(actor.wait(wait), async {
                let _ = actor.wait_avail(&mut snapshots, 1).await;
            });
        }
        if let Some(cut) = actor.try_take(&mut snapshots) {
            state.awaiting = false;
            let rec = plan.ledger.cut(&state.last, &cut, live.restarts());
            if let Some(d) = plan.delay {
                std::thread::sleep(d);
            }
            match state.store.commit(&rec) {
                Ok(took) => {
                    live.note_checkpoint(rec.unix_ms, took);
                    state.last = rec;
                }
                Err(crate::error::Error::CheckpointWrite { problem, .. }) => {
                    live.fail_checkpoint(problem)
                }
                Err(e) => live.fail_checkpoint(e.to_string()),
            }
        }
        if !state.awaiting
            && state.asked_at.elapsed() >= interval
            && actor.try_send(&mut cuts, state.last.seq).is_sent()
        {
            state.awaiting = true;
            state.asked_at = Instant::now();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PipelineConfig;
    use crate::store::StoreOptions;

    /// Runs the actor on `state` until it has had `work` to ask for cuts
    /// that nobody answers; returns the requests it sent.
    fn ask(
        state: &SteadyState<CheckpointState>,
        plan: &Arc<CheckpointPlan>,
        work: Duration,
    ) -> usize {
        let mut graph = GraphBuilder::for_testing().build(());
        let (cuts_tx, cuts_rx) = graph.channel_builder().with_capacity(4).build_channel();
        let (_snaps_tx, snaps_rx) = graph
            .channel_builder()
            .with_capacity(4)
            .build_channel::<LoggerStats>();
        let live = Arc::new(Live::default());
        let (state, plan) = (state.clone(), plan.clone());
        graph.actor_builder().with_name("UnitTest").build(
            move |context| {
                internal_behavior(
                    context,
                    cuts_tx.clone(),
                    snaps_rx.clone(),
                    state.clone(),
                    plan.clone(),
                    live.clone(),
                )
            },
            SoloAct,
        );
        crate::testing::run_for(graph, work);
        cuts_rx.testing_take_all().len()
    }

    #[test]
    fn a_restarted_actor_does_not_ask_for_a_second_cut() {
        let dir = tempfile::tempdir().unwrap();
        let first = Ledger::launch(None, &PipelineConfig::default());
        let opts = StoreOptions {
            keep: 4,
            abort_at: None,
        };
        let row = crate::launch_log::LaunchRow::opening(&first, Vec::new(), None);
        let (store, _) = Store::create(dir.path(), opts, &first, &row).unwrap();
        let plan = Arc::new(CheckpointPlan {
            handoff: Mutex::new(Some(CheckpointState::new(store, first.clone()))),
            ledger: Ledger {
                base: first,
                started: Instant::now(),
            },
            interval: Duration::from_millis(1),
            delay: None,
        });
        let state = new_state();
        assert_eq!(ask(&state, &plan, Duration::from_millis(200)), 1);
        // The same state, as steady_state hands it to a restarted actor: the
        // request is still outstanding, so there is nothing to ask.
        assert_eq!(ask(&state, &plan, Duration::from_millis(200)), 0);
    }
}
