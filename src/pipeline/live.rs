//! Values shared between the actors, the progress reporter, the metrics
//! endpoint and the signal handler. Everything here is advisory or
//! monotonic (relaxed atomics, written once per batch, never per message);
//! the exact totals live in the logger's steady state.

use crate::pipeline::error::SinkError;
use crate::pipeline::graph::{ALL, Shape};
use crate::pipeline::latency::{BUCKETS_US, BeatClock};
use crate::pipeline::link::LinkGauges;
use crate::pipeline::names::{ActorName, Channel, Stage};
use crate::pipeline::over::Over;
use crate::pipeline::stats::{LoggerStats, Restarts};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub struct Live {
    stop: AtomicBool,
    worker_done: AtomicBool,
    logger: [AtomicU64; 8],
    /// Which graph runs: its actors are the ones counted.
    shape: Shape,
    restarts: [AtomicU64; ALL.len()],
    /// Which actors have run at all (see pipeline::until_over).
    started: [AtomicBool; ALL.len()],
    /// A sink's link to the source pod.
    link: LinkGauges,
    committed: AtomicU64,
    /// Why the launch ends at its last durable cut, if it does.
    abandoned: std::sync::OnceLock<Abandon>,
    /// When a stop was first requested.
    stop_at: std::sync::OnceLock<Instant>,
    fill: [AtomicU64; 3],
    /// (operations, items) per batching stage.
    batches: [[AtomicU64; 2]; 2],
    checkpoints: AtomicU64,
    last_checkpoint_unix_ms: AtomicU64,
    last_commit_micros: AtomicU64,
    msgs_per_sec: AtomicU64,
    checkpoint_error: Mutex<Option<SinkError>>,
    /// The heartbeat, if it is waiting for its next beat: a stop wakes it.
    stop_waker: Mutex<Option<Waker>>,
    /// The heartbeat sleeping to its next beat: a stop wakes it.
    pace: (Mutex<()>, Condvar),
    /// The pipeline's actors share the heartbeat's thread (paced runs).
    one_thread: AtomicBool,
    beat_clock: BeatClock,
    /// Beats per latency bucket (`latency::BUCKETS_US`, then +Inf), and
    /// the sum of their latencies, for the Prometheus histogram.
    latency_buckets: [AtomicU64; BUCKETS_US.len() + 1],
    latency_sum_us: AtomicU64,
    over: Over,
}

/// Why a launch gives up on the values still owed and ends at its last
/// durable cut (a sink pod whose source is not there to drain).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Abandon {
    /// The transport under the link is gone (the media driver).
    LinkLost(String),
    /// A stop was asked for and the source sent nothing to drain.
    NothingToDrain,
}

impl Live {
    /// The live values of a graph of the given shape.
    pub fn new(shape: Shape) -> Live {
        Live {
            shape,
            ..Live::default()
        }
    }

    /// The actors of this launch's graph.
    pub fn actors(&self) -> &'static [ActorName] {
        self.shape.actors()
    }

    pub fn link(&self) -> &LinkGauges {
        &self.link
    }

    /// The logger's statistics with the values a sink's link dropped as
    /// duplicates this launch (the logger's own start from the record,
    /// which holds earlier launches').
    pub fn with_link_duplicates(&self, mut stats: LoggerStats) -> LoggerStats {
        stats.duplicates_dropped = stats
            .duplicates_dropped
            .saturating_add(self.link.read().duplicates);
        stats
    }

    /// The position of the newest durable cut (a sink tells its source).
    pub fn note_committed(&self, position: u64) {
        self.committed.fetch_max(position, Ordering::Relaxed);
    }

    pub fn committed(&self) -> u64 {
        self.committed.load(Ordering::Relaxed)
    }

    /// Ends the launch at its last durable cut: the worker stops waiting
    /// for values, the rest drains. The first reason stands.
    pub fn abandon(&self, why: Abandon) {
        let _ = self.abandoned.set(why);
        self.request_stop();
    }

    pub fn abandoned(&self) -> Option<&Abandon> {
        self.abandoned.get()
    }

    /// Asks the heartbeat to stop beating, at once, however long its beat
    /// gap; the beats already sent drain.
    pub fn request_stop(&self) {
        let _ = self.stop_at.set(Instant::now());
        self.stop.store(true, Ordering::SeqCst);
        let waiting = self
            .stop_waker
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(waker) = waiting {
            waker.wake();
        }
        let _held = self.pace.0.lock().unwrap_or_else(|p| p.into_inner());
        self.pace.1.notify_all();
    }

    /// The heartbeat is about to send beat number `beat` (lifetime, from 0).
    pub fn beat_sent(&self, beat: u64, at: Instant) {
        self.beat_clock.sent(beat, at);
    }

    /// The logger has counted the last message of `beat`: its latency, if
    /// its stamp was found, now also in the Prometheus buckets.
    pub fn beat_done(&self, beat: u64, now: Instant) -> Option<Duration> {
        let latency = self.beat_clock.since_sent(beat, now)?;
        let us = latency.as_micros() as u64;
        let bucket = BUCKETS_US
            .iter()
            .position(|&le| us <= le)
            .unwrap_or(BUCKETS_US.len());
        self.latency_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        Some(latency)
    }

    /// Beats per latency bucket (not cumulative) and the sum in µs.
    pub fn latency_buckets(&self) -> ([u64; BUCKETS_US.len() + 1], u64) {
        (
            std::array::from_fn(|i| self.latency_buckets[i].load(Ordering::Relaxed)),
            self.latency_sum_us.load(Ordering::Relaxed),
        )
    }

    /// Which actors have returned, and the graph's verdict (over.rs).
    pub fn over(&self) -> &Over {
        &self.over
    }

    /// The graph put the pipeline's actors on one thread (see graph.rs).
    pub fn set_one_thread(&self) {
        self.one_thread.store(true, Ordering::Relaxed);
    }

    pub fn one_thread(&self) -> bool {
        self.one_thread.load(Ordering::Relaxed)
    }

    /// Blocks this thread until `deadline` or a stop, whichever is first;
    /// true if the deadline came. The kernel wakes the thread itself at the
    /// deadline: no timer thread, one wake-up per beat.
    pub fn sleep_until(&self, deadline: Instant) -> bool {
        let mut held = self.pace.0.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if self.stop_requested() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            held = match self.pace.1.wait_timeout(held, deadline - now) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }

    pub fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Completes once a stop is requested; for the heartbeat's waits.
    pub fn stop_wait(&self) -> StopWait<'_> {
        StopWait { live: self }
    }

    /// The worker has spent its last credit: the generator may stop.
    pub fn set_worker_done(&self) {
        self.worker_done.store(true, Ordering::Release);
    }

    pub fn worker_done(&self) -> bool {
        self.worker_done.load(Ordering::Acquire)
    }

    /// The logger's statistics, once per batch run.
    pub fn publish(&self, s: &LoggerStats) {
        let values = [
            s.messages,
            s.batches,
            s.counts.fizz,
            s.counts.buzz,
            s.counts.fizzbuzz,
            s.counts.value,
            s.sequence_errors,
            s.duplicates_dropped,
        ];
        for (slot, v) in self.logger.iter().zip(values) {
            slot.store(v, Ordering::Relaxed);
        }
    }

    /// The logger's statistics as last published (not a consistent cut:
    /// each field is read on its own).
    pub fn logger(&self) -> LoggerStats {
        let v: Vec<u64> = self
            .logger
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .collect();
        let mut s = LoggerStats {
            messages: v[0],
            batches: v[1],
            ..Default::default()
        };
        s.counts.fizz = v[2];
        s.counts.buzz = v[3];
        s.counts.fizzbuzz = v[4];
        s.counts.value = v[5];
        s.sequence_errors = v[6];
        s.duplicates_dropped = v[7];
        s
    }

    /// (messages, batches) as last published by the logger.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.logger[0].load(Ordering::Relaxed),
            self.logger[1].load(Ordering::Relaxed),
        )
    }

    /// An actor (re)starts: its restarts so far.
    pub fn record_restarts(&self, actor: ActorName, regeneration: u32) {
        self.started[actor.index()].store(true, Ordering::Relaxed);
        self.restarts[actor.index()].store(u64::from(regeneration), Ordering::Relaxed);
    }

    /// The actors that have not run at all yet.
    pub fn not_started(&self) -> Vec<ActorName> {
        self.actors()
            .iter()
            .copied()
            .filter(|a| !self.started[a.index()].load(Ordering::Relaxed))
            .collect()
    }

    /// How long ago a stop was requested, if one was.
    pub fn since_stop(&self) -> Option<Duration> {
        self.stop_at.get().map(Instant::elapsed)
    }

    /// This launch's restarts, per actor of its graph; a sink also counts
    /// its source's (see receiver.rs).
    pub fn restarts(&self) -> Restarts {
        let mut r: Restarts = self
            .actors()
            .iter()
            .map(|a| (a.as_str(), self.restarts[a.index()].load(Ordering::Relaxed)))
            .collect();
        if self.shape == Shape::Sink {
            r.set(
                crate::pipeline::actor::receiver::SOURCE.as_str(),
                self.link.read().resumes,
            );
        }
        r
    }

    /// How many items a channel holds, as its consumer last saw it.
    pub fn set_fill(&self, channel: Channel, items: usize) {
        self.fill[channel as usize].store(items as u64, Ordering::Relaxed);
    }

    pub fn fill(&self, channel: Channel) -> u64 {
        self.fill[channel as usize].load(Ordering::Relaxed)
    }

    /// One write of `items` by a batching stage.
    pub fn note_batch(&self, stage: Stage, items: usize) {
        let [ops, total] = &self.batches[stage as usize];
        ops.fetch_add(1, Ordering::Relaxed);
        total.fetch_add(items as u64, Ordering::Relaxed);
    }

    /// (writes, items) by a batching stage so far.
    pub fn batches(&self, stage: Stage) -> (u64, u64) {
        let [ops, total] = &self.batches[stage as usize];
        (ops.load(Ordering::Relaxed), total.load(Ordering::Relaxed))
    }

    /// A checkpoint was committed at `unix_ms`, taking `took`.
    pub fn note_checkpoint(&self, unix_ms: u64, took: Duration) {
        let micros = took.as_micros() as u64;
        self.checkpoints.fetch_add(1, Ordering::Relaxed);
        self.last_checkpoint_unix_ms
            .store(unix_ms, Ordering::Relaxed);
        self.last_commit_micros.store(micros, Ordering::Relaxed);
    }

    /// Checkpoints committed in this launch.
    pub fn checkpoints(&self) -> u64 {
        self.checkpoints.load(Ordering::Relaxed)
    }

    /// (unix ms of the last commit, its duration in µs); (0, 0) before any.
    pub fn last_checkpoint(&self) -> (u64, u64) {
        (
            self.last_checkpoint_unix_ms.load(Ordering::Relaxed),
            self.last_commit_micros.load(Ordering::Relaxed),
        )
    }

    pub fn set_msgs_per_sec(&self, rate: f64) {
        self.msgs_per_sec.store(rate.to_bits(), Ordering::Relaxed);
    }

    pub fn msgs_per_sec(&self) -> f64 {
        f64::from_bits(self.msgs_per_sec.load(Ordering::Relaxed))
    }

    /// A checkpoint could not be written: remember why and stop the run,
    /// since going on would pile up work that can never be made durable.
    pub fn fail_checkpoint(&self, why: SinkError) {
        let mut slot = self
            .checkpoint_error
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        slot.get_or_insert(why);
        self.request_stop();
    }

    pub fn checkpoint_error(&self) -> Option<SinkError> {
        self.checkpoint_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// See [`Live::stop_wait`].
pub struct StopWait<'a> {
    live: &'a Live,
}

impl Future for StopWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.live.stop_requested() {
            return Poll::Ready(());
        }
        {
            let mut slot = self
                .live
                .stop_waker
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *slot = Some(cx.waker().clone());
            }
        }
        // Checked again: a stop between the first check and the waker
        // being stored would otherwise go unseen until the next beat.
        if self.live.stop_requested() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_stop_wakes_a_waiter_at_once() {
        let live = Arc::new(Live::default());
        let waiter = {
            let live = live.clone();
            std::thread::spawn(move || futures::executor::block_on(live.stop_wait()))
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        live.request_stop();
        crate::pipeline::testing::within(std::time::Duration::from_secs(10), move || {
            waiter.join().unwrap()
        });
        // Already stopped: ready at the first poll.
        futures::executor::block_on(live.stop_wait());
    }

    #[test]
    fn a_stop_wakes_a_sleeping_heartbeat_at_once() {
        let live = Arc::new(Live::default());
        let start = std::time::Instant::now();
        assert!(live.sleep_until(start + std::time::Duration::from_millis(20)));
        assert!(start.elapsed() >= std::time::Duration::from_millis(20));
        let sleeper = {
            let live = live.clone();
            std::thread::spawn(move || {
                live.sleep_until(std::time::Instant::now() + std::time::Duration::from_secs(60))
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(50));
        live.request_stop();
        let woke_by_deadline =
            crate::pipeline::testing::within(std::time::Duration::from_secs(5), move || {
                sleeper.join().unwrap()
            });
        assert!(!woke_by_deadline);
    }
}
