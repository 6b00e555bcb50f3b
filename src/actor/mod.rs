//! One actor per file; each has a thin `run` that wires it into the graph
//! and an `internal_behavior` that unit tests drive directly.

pub mod checkpoint;
pub mod generator;
pub mod heartbeat;
pub mod logger;
pub mod worker;

use std::time::Duration;

/// How often the checkpoint actor looks again for the cut it asked for.
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// Once a graph-wide shutdown is under way every steady_state wait returns
/// at once, so an actor still draining would spin; this backs it off.
pub(crate) fn back_off_if_stopping(stopping: bool) {
    if stopping {
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// How long a waiting actor keeps yielding its core before it parks.
pub(crate) const SPIN: Duration = Duration::from_micros(50);

/// Waits for `ready` by yielding the core (sched_yield) for at most
/// [`SPIN`]. With three busy threads on two cores, parking on a futex and
/// being woken costs far more than letting the other runnable thread have
/// the core for a moment; the caller parks (an async wait) only if this
/// fails, so an idle pipeline still sleeps.
pub(crate) fn spin_until(mut ready: impl FnMut() -> bool) -> bool {
    if ready() {
        return true;
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
