//! The once-a-second sampler: it computes the rate the metrics endpoint
//! shows and, unless progress is off, shows the run's progress on stderr:
//! a progress bar and a line of details on a terminal (see bar.rs), one
//! plain line a second otherwise, for logs.

use crate::observe::bar::Bars;
use crate::observe::reading::Reading;
use crate::observe::status::{BeatRate, ProgressMode, Status};
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::live::Live;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

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
                let mut last = first;
                let mut beat_rate = BeatRate::default();
                let bars = (showing && std::io::IsTerminal::is_terminal(&std::io::stderr()))
                    .then(|| Bars::show(mode));
                while let Err(RecvTimeoutError::Timeout) =
                    ticks.recv_timeout(Duration::from_secs(1))
                {
                    let now = Reading::take(&live, showing);
                    live.set_msgs_per_sec(now.rate_since(&last));
                    let secs = now.at.duration_since(last.at).as_secs_f64();
                    let beats = now.messages.saturating_sub(last.messages) / cfg.beat_size();
                    let rate = beat_rate.update(beats as f64 / secs);
                    if showing {
                        let status = Status::new(&live, &cfg, started, &last, &now, rate);
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
