//! One reading of the run a second: messages, batches, and (when shown)
//! the process's and each pipeline thread's CPU from /proc; the progress
//! display and the msgs/s gauge are differences of two readings.

use crate::observe::procfs::{ProcSample, thread_cpu, thread_shares};
use crate::pipeline::live::Live;
use crate::pipeline::names::Stage;
use std::time::Instant;

/// One reading, a second apart from the next.
#[derive(Clone, Debug)]
pub(crate) struct Reading {
    pub at: Instant,
    pub messages: u64,
    pub logger_batches: u64,
    pub stages: [(u64, u64); 2],
    pub process: Option<ProcSample>,
    pub threads: Vec<(&'static str, u64, f64)>,
}

impl Reading {
    /// `with_proc`: also read /proc (only what is shown needs it).
    pub(crate) fn take(live: &Live, with_proc: bool) -> Reading {
        let (messages, logger_batches) = live.progress();
        Reading {
            at: Instant::now(),
            messages,
            logger_batches,
            stages: [live.batches(Stage::Generator), live.batches(Stage::Worker)],
            process: if with_proc { ProcSample::read() } else { None },
            threads: if with_proc { thread_cpu() } else { Vec::new() },
        }
    }

    /// Messages per second since `before`.
    pub(crate) fn rate_since(&self, before: &Reading) -> f64 {
        let dt = self.at.duration_since(before.at).as_secs_f64().max(1e-9);
        self.messages.saturating_sub(before.messages) as f64 / dt
    }

    /// CPU share per pipeline thread since `before`.
    pub(crate) fn cpu_since(&self, before: &Reading) -> Vec<(&'static str, f64)> {
        let dt = self.at.duration_since(before.at).as_secs_f64().max(1e-9);
        thread_shares(&before.threads, &self.threads, dt)
    }
}
