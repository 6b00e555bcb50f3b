//! Helpers for the actors' unit tests: a graph that is waited on gets its own
//! deadline, because steady_state's own test waits can hang forever.

use std::sync::mpsc;
use std::time::Duration;
use steady_state::Graph;

/// Runs `f` on its own thread and fails the test if it takes longer than
/// `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?}"),
    }
}

/// Starts the graph, lets it work for `work`, then asks it to stop and
/// waits (bounded) until it has.
pub fn run_for(graph: Graph, work: Duration) {
    run_for_then(graph, work, || {});
}

/// As [`run_for`], calling `before_stop` just before the shutdown request.
pub fn run_for_then(mut graph: Graph, work: Duration, before_stop: impl FnOnce()) {
    graph.start();
    std::thread::sleep(work);
    before_stop();
    graph.request_shutdown();
    within(Duration::from_secs(10), move || {
        graph
            .block_until_stopped(Duration::from_secs(5))
            .expect("graph stops cleanly")
    });
}

/// Starts the graph and waits (bounded) for an actor to end it by itself.
pub fn run_to_completion(mut graph: Graph, limit: Duration) {
    graph.start();
    within(limit, move || {
        graph
            .block_until_stopped(Duration::from_secs(5))
            .expect("graph stops cleanly")
    });
}
