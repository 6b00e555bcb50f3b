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
    let mut asked_at = Instant::now();
    let mut awaiting = false;

    while actor.is_running(|| cuts.mark_closed()) {
        if interval.is_zero() || live.checkpoint_error().is_some() {
            actor.wait_shutdown().await;
            continue;
        }
        if actor.avail_units(&mut snapshots) == 0 {
            let until_due = interval
                .saturating_sub(asked_at.elapsed())
                .max(Duration::from_millis(1));
            let wait = if awaiting { super::POLL } else { until_due };
            await_for_any!(
                actor.wait_periodic(wait),
                actor.wait_avail(&mut snapshots, 1)
            );
        }
        if let Some(cut) = actor.try_take(&mut snapshots) {
            awaiting = false;
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
        if !awaiting
            && asked_at.elapsed() >= interval
            && actor.try_send(&mut cuts, state.last.seq).is_sent()
        {
            awaiting = true;
            asked_at = Instant::now();
        }
    }
    Ok(())
}
