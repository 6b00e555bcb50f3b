//! How the actors wait: spin a moment or park, and back off while a
//! graph-wide stop drains.

use std::time::Duration;
use steady_state::{Rx, RxCore, TxCore};

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

/// True once `rx` is closed and everything sent before the close is taken.
///
/// steady_state's `Rx::is_closed_and_empty` looks at the items first and at
/// the close second. A producer that sends its last items and closes in
/// between makes it answer "closed and empty" with those items still in the
/// channel: a worker that was told so when it looked just before the
/// heartbeat's one beat went out dropped the beat and ended the launch at
/// "0 of 1 beats" (about one launch in a few thousand, under a test suite).
/// The close comes after the last send, so once the close is seen every
/// send before it is seen too (the oneshot's flag is stored after the write
/// index and loaded before it is read).
pub(crate) fn closed_and_empty<T>(rx: &mut Rx<T>) -> bool {
    rx.is_closed() && rx.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::testing::within;
    use std::sync::{Arc, Barrier};
    use std::time::Duration;
    use steady_state::GraphBuilder;

    /// A producer sends one item and closes while the consumer keeps
    /// asking whether the channel is closed and empty: it never is, since
    /// the item is never taken. Against steady_state's own check this
    /// failed in about one trial of a thousand (20 or so of these).
    #[test]
    fn a_close_right_after_the_last_send_never_reads_as_empty() {
        const TRIALS: usize = 20_000;
        let wrong = within(Duration::from_secs(60), || {
            let mut graph = GraphBuilder::for_testing().build(());
            let mut wrong = 0;
            for _ in 0..TRIALS {
                let (tx, rx) = graph
                    .channel_builder()
                    .with_capacity(8)
                    .build_channel::<u64>();
                let (tx, rx) = (tx.clone(), rx.clone());
                let start = Arc::new(Barrier::new(2));
                let producer = {
                    let start = start.clone();
                    std::thread::spawn(move || {
                        let mut tx = tx.try_lock().expect("only this thread sends");
                        start.wait();
                        assert!(tx.shared_try_send(7).is_ok());
                        tx.mark_closed();
                    })
                };
                let mut rx = rx.try_lock().expect("only this thread reads");
                start.wait();
                loop {
                    if closed_and_empty(&mut rx) {
                        wrong += 1;
                        break;
                    }
                    if rx.is_closed() {
                        break;
                    }
                }
                assert_eq!(rx.avail_units(), 1, "the item is still there");
                producer.join().unwrap();
            }
            wrong
        });
        assert_eq!(
            wrong, 0,
            "{wrong} of {TRIALS} trials read a channel with an item as closed and empty"
        );
    }
}
