//! Values shared between the actors, the progress reporter and the signal
//! handler. Everything here is advisory or monotonic; the exact totals live
//! in the logger's steady state.

use crate::config::ActorName;
use crate::stats::{LoggerStats, Restarts};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Live {
    stop: AtomicBool,
    worker_done: AtomicBool,
    messages: AtomicU64,
    batches: AtomicU64,
    restarts: [AtomicU64; 4],
    checkpoints: AtomicU64,
    checkpoint_error: Mutex<Option<String>>,
}

impl Live {
    /// Asks the heartbeat to stop beating; the beats already sent drain.
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// The worker has spent its last credit: the generator may stop.
    pub fn set_worker_done(&self) {
        self.worker_done.store(true, Ordering::Release);
    }

    pub fn worker_done(&self) -> bool {
        self.worker_done.load(Ordering::Acquire)
    }

    pub fn publish(&self, stats: &LoggerStats) {
        self.messages.store(stats.messages, Ordering::Relaxed);
        self.batches.store(stats.batches, Ordering::Relaxed);
    }

    /// (messages, batches) as last published by the logger.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.messages.load(Ordering::Relaxed),
            self.batches.load(Ordering::Relaxed),
        )
    }

    pub fn record_restarts(&self, actor: ActorName, regeneration: u32) {
        self.restarts[actor.index()].store(u64::from(regeneration), Ordering::Relaxed);
    }

    pub fn note_checkpoint(&self) {
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
    }

    /// Checkpoints committed by the checkpoint actor in this launch.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }

    /// A checkpoint could not be written: remember why and stop the run,
    /// since going on would pile up work that can never be made durable.
    pub fn fail_checkpoint(&self, why: String) {
        let mut slot = self
            .checkpoint_error
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(why);
        self.request_stop();
    }

    pub fn checkpoint_error(&self) -> Option<String> {
        self.checkpoint_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn restarts(&self) -> Restarts {
        let mut r = Restarts::default();
        for actor in ActorName::ALL {
            *r.get_mut(actor) = self.restarts[actor.index()].load(Ordering::Relaxed);
        }
        r
    }
}
