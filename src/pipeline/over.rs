//! When a launch's graph is over, without waiting on steady_state's
//! shutdown poll.
//!
//! `Graph::block_until_stopped` counts the actors' stop votes the moment a
//! stop is requested, before any actor can have voted, and then once per
//! telemetry frame (100 ms with telemetry on): every launch waited up to
//! 100 ms after its actors had all returned (not in its reported rate,
//! which ends at its last counted message, but in the process's time: a
//! one-beat run took 0.11 s). The totals depend on this pipeline's actors
//! only, and each of them returns without a panic exactly once (steady_state
//! never restarts an actor that returned): once all have returned, the
//! launch is over. The graph's verdict still decides whenever one does not
//! return (an error, a panic while stopping, a hang past the timeout).

use crate::pipeline::error::Error;
use std::sync::{Condvar, Mutex};

#[derive(Debug, Default)]
pub struct Over {
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug, Default)]
struct State {
    returned: usize,
    verdict: Option<Result<(), Error>>,
}

impl Over {
    /// One of the pipeline's actors returned Ok: it is done for good.
    pub fn actor_returned(&self) {
        self.update(|s| s.returned += 1);
    }

    /// What `block_until_stopped` said.
    pub fn graph_stopped(&self, verdict: Result<(), Error>) {
        self.update(|s| s.verdict = Some(verdict));
    }

    pub fn returned(&self) -> usize {
        self.lock().returned
    }

    /// Blocks until all `actors` have returned (Ok) or the graph has given
    /// its verdict, whichever comes first; or until `give_up`, asked every
    /// tenth of a second, says why waiting longer is pointless.
    pub fn wait(&self, actors: usize, give_up: impl Fn() -> Option<Error>) -> Result<(), Error> {
        let mut s = self.lock();
        loop {
            if let Some(verdict) = &s.verdict {
                return verdict.clone();
            }
            if s.returned >= actors {
                return Ok(());
            }
            if let Some(why) = give_up() {
                return Err(why);
            }
            s = self
                .changed
                .wait_timeout(s, std::time::Duration::from_millis(100))
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// Blocks until the graph has given its verdict, at most `limit`:
    /// steady_state's telemetry actors write their last report (and
    /// `logs/graph.dot`) only as the graph stops, which the launch does not
    /// otherwise wait for. Whether the verdict came.
    pub fn wait_for_graph(&self, limit: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + limit;
        let mut s = self.lock();
        while s.verdict.is_none() {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self
                .changed
                .wait_timeout(s, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.lock());
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::within;
    use std::sync::Arc;
    use std::time::Duration;

    fn waiting(over: &Arc<Over>, actors: usize) -> std::thread::JoinHandle<Result<(), Error>> {
        let over = over.clone();
        std::thread::spawn(move || over.wait(actors, || None))
    }

    #[test]
    fn the_launch_is_over_once_every_actor_has_returned() {
        let over = Arc::new(Over::default());
        let waiter = waiting(&over, 3);
        over.actor_returned();
        over.actor_returned();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!waiter.is_finished(), "two of three actors is not the end");
        over.actor_returned();
        let r = within(Duration::from_secs(10), move || waiter.join().unwrap());
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn the_graphs_verdict_ends_the_wait_when_an_actor_never_returns() {
        let over = Arc::new(Over::default());
        let waiter = waiting(&over, 2);
        over.actor_returned();
        over.graph_stopped(Err(Error::Stop("stopped uncleanly".into())));
        let r = within(Duration::from_secs(10), move || waiter.join().unwrap());
        assert_eq!(r, Err(Error::Stop("stopped uncleanly".into())));
        // A verdict given, it stands, even after the rest return.
        over.actor_returned();
        assert!(over.wait(2, || None).is_err());
    }
}
