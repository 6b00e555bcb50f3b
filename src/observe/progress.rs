//! The once-a-second sampler: it computes the rate the metrics endpoint
//! shows and, unless progress is off, shows the run's progress on stderr:
//! a progress bar and a line of details on a terminal (see bar.rs), one
//! plain line a second otherwise, for logs.

use crate::observe::bar::Bars;
use crate::observe::procfs::{ProcSample, thread_cpu, thread_shares};
use crate::observe::status::Status;
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::live::Live;
use crate::pipeline::names::Stage;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How much progress to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar with percentage and ETA, and a line of details (on a terminal;
    /// one plain line a second otherwise)
    One,
    /// Also per-stage batch sizes, process CPU and the checkpoint thread
    Wide,
    /// Nothing until the summary
    Off,
}

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

/// The sampler thread; [`Reporter::finish`] ends it and clears the bar.
pub struct Reporter {
    stop: mpsc::Sender<()>,
    handle: Option<JoinHandle<()>>,
}

impl Reporter {
    pub fn spawn(
        live: Arc<Live>,
        cfg: Arc<PipelineConfig>,
        mode: ProgressMode,
        started: Instant,
    ) -> Reporter {
        let (stop, ticks) = mpsc::channel::<()>();
        let showing = mode != ProgressMode::Off;
        let handle = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let first = Reading::take(&live, showing);
                let mut last = first.clone();
                let bars = (showing && std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .then(|| Bars::show(mode));
                while let Err(RecvTimeoutError::Timeout) =
                    ticks.recv_timeout(Duration::from_secs(1))
                {
                    let now = Reading::take(&live, showing);
                    live.set_msgs_per_sec(now.rate_since(&last));
                    if showing {
                        let status = Status::new(&live, &cfg, started, &first, &last, &now);
                        match &bars {
                            Some(bars) => bars.draw(&status),
                            None => {
                                let _ = crate::util::output::stderr_line(&status.plain_line(mode));
                            }
                        }
                    }
                    last = now;
                }
                if let Some(bars) = bars {
                    bars.clear();
                }
            })
            // A machine out of threads still runs the pipeline; only the
            // display and the msgs/s gauge go.
            .map_err(|e| {
                crate::util::output::note(&format!(
                    "warning: no progress display or msgs/s gauge: cannot start their thread: {e}"
                ))
            })
            .ok();
        Reporter { stop, handle }
    }

    pub fn finish(self) {
        drop(self.stop);
        if let Some(handle) = self.handle {
            let _ = handle.join();
        }
    }
}
