//! How the actors wait: spin a moment or park, and back off while a
//! graph-wide stop drains.

use std::time::Duration;
use steady_state::{RxCore, TxCore};

/// How often the checkpoint actor looks again for the cut it asked for.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// Once a graph-wide shutdown is under way every steady_state wait returns
/// at once, so an actor still draining would spin; this backs it off.
pub(crate) fn back_off_if_stopping(stopping: bool) {
    if stopping {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// How long a waiting actor keeps yielding its core before it parks: a few
/// times what a neighbour takes to fill or drain half a channel at speed.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// Spin-then-park waiting. With three busy threads on two cores, parking on
/// a futex and being woken costs far more than yielding the core to the
/// other runnable thread for a moment, so when unpaced a waiting actor
/// first yields (sched_yield) for up to [`SPIN`]. Paced, the pipeline is
/// idle most of the time (a beat every millisecond or more is at most 8 M
/// msgs/s by default, a few percent of what it can do) and its actors share
/// one thread (graph.rs), where a spinning actor would only keep the others
/// from running: it never spins.
pub(crate) struct Spinner {
    spin: bool,
}

impl Spinner {
    pub(crate) fn new(cfg: &crate::pipeline::config::PipelineConfig) -> Self {
        Spinner {
            spin: cfg.rate_ms == 0,
        }
    }

    /// True once `ready()` holds; false if the caller should park.
    pub(crate) fn spin_until(&self, mut ready: impl FnMut() -> bool) -> bool {
        if ready() {
            return true;
        }
        if !self.spin {
            return false;
        }
        let start = std::time::Instant::now();
        loop {
            std::thread::yield_now();
            if ready() {
                return true;
            }
            if start.elapsed() > SPIN {
                return false;
            }
        }
    }
}

/// Waits for `count` items in `rx`, or its closing, with no timer.
///
/// steady_state's own `wait_avail` arms a timer for the next telemetry
/// frame whenever the actor has telemetry to send (always, once it has
/// done any work): each wait then wakes the futures-timer thread to
/// register it, and that thread wakes us again; paced, that was two of the
/// five wake-ups of every beat. Telemetry still goes out from `is_running`
/// at its frame rate, since every actor here loops at least once a beat.
/// Every wait in the pipeline ends on data or on its channel closing, and
/// every channel closes at the end of a run, so none needs the graph's
/// shutdown signal to end.
pub(crate) async fn avail<R: RxCore>(rx: &mut R, count: usize) -> bool {
    rx.shared_wait_closed_or_avail_units(count).await
}

/// Waits for room for `count` items in `tx`, with no timer (see [`avail`]).
pub(crate) async fn vacant<T: TxCore<MsgSize = usize>>(tx: &mut T, count: usize) -> bool {
    tx.shared_wait_shutdown_or_vacant_units(count).await
}
