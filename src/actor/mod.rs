//! One actor per file; each has a thin `run` that wires it into the graph
//! and an `internal_behavior` that unit tests drive directly.

pub mod checkpoint;
pub mod generator;
pub mod heartbeat;
pub mod logger;
pub mod worker;

use std::time::Duration;

/// How often an actor that is waiting on something re-checks flags it cannot
/// be woken for (the stop request, the worker finishing).
pub(crate) const POLL: Duration = Duration::from_millis(20);

/// Once a graph-wide shutdown is under way every steady_state wait returns
/// at once, so an actor still draining would spin; this backs it off.
pub(crate) fn back_off_if_stopping(stopping: bool) {
    if stopping {
        std::thread::sleep(Duration::from_micros(200));
    }
}
