//! The once-a-second sampler: it computes the rates the progress line and
//! the metrics endpoint show, and prints the progress line on stderr. Process
//! and per-thread readings come from /proc.

use crate::observe::procfs::{ProcSample, thread_cpu, thread_shares};
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::live::Live;
use crate::pipeline::names::{Channel, Stage};
use crate::util::time::unix_ms_now;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How much progress to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// One short line a second
    One,
    /// Every field: per-stage batches, beats, process CPU
    Wide,
    /// Nothing until the summary
    Off,
}

/// One reading, a second apart from the next.
#[derive(Clone, Debug)]
struct Reading {
    at: Instant,
    messages: u64,
    logger_batches: u64,
    stages: [(u64, u64); 2],
    process: Option<ProcSample>,
    threads: Vec<(&'static str, u64, f64)>,
}

impl Reading {
    /// `with_proc`: also read /proc (only the printed line needs it).
    fn take(live: &Live, with_proc: bool) -> Reading {
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
}

/// The sampler thread; [`Reporter::finish`] ends it.
pub struct Reporter {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl Reporter {
    pub fn spawn(
        live: Arc<Live>,
        cfg: Arc<PipelineConfig>,
        mode: ProgressMode,
        started: Instant,
    ) -> Reporter {
        let (stop, ticks) = mpsc::channel::<()>();
        let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let handle = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || {
                let printing = mode != ProgressMode::Off;
                let mut last = Reading::take(&live, printing);
                let mut printed = false;
                while let Err(RecvTimeoutError::Timeout) =
                    ticks.recv_timeout(Duration::from_secs(1))
                {
                    let now = Reading::take(&live, printing);
                    if !printing {
                        // Only the metrics endpoint's rate gauge is wanted.
                        live.set_msgs_per_sec(rate(&last, &now));
                    } else {
                        let line = progress_line(&live, &cfg, mode, started, &last, &now);
                        if tty {
                            // Rewrite one status line in place on a terminal.
                            crate::util::output::stderr_text(&format!("\r\x1b[2K{line}"));
                        } else {
                            let _ = crate::util::output::stderr_line(&line);
                        }
                        printed = true;
                    }
                    last = now;
                }
                if tty && printed {
                    crate::util::output::stderr_text("\n");
                }
            })
            .expect("spawn the progress thread");
        Reporter { stop, handle }
    }

    pub fn finish(self) {
        drop(self.stop);
        let _ = self.handle.join();
    }
}

/// Messages per second between two readings.
fn rate(before: &Reading, now: &Reading) -> f64 {
    let dt = now.at.duration_since(before.at).as_secs_f64().max(1e-9);
    now.messages.saturating_sub(before.messages) as f64 / dt
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0}%", 100.0 * part / whole)
    } else {
        "-".into()
    }
}

/// Builds the line, and stores the rate for the metrics endpoint.
fn progress_line(
    live: &Live,
    cfg: &PipelineConfig,
    mode: ProgressMode,
    started: Instant,
    before: &Reading,
    now: &Reading,
) -> String {
    let dt = now.at.duration_since(before.at).as_secs_f64().max(1e-9);
    let d_msgs = now.messages.saturating_sub(before.messages);
    let rate = rate(before, now);
    live.set_msgs_per_sec(rate);
    let d_batches = now.logger_batches.saturating_sub(before.logger_batches);
    let mut line = format!(
        "[{:>6.1}s] {} msgs  {:.1} M msgs/s",
        now.at.duration_since(started).as_secs_f64(),
        now.messages,
        rate / 1e6
    );
    let cpu: Vec<String> = thread_shares(&before.threads, &now.threads, dt)
        .into_iter()
        .filter(|(label, _)| mode == ProgressMode::Wide || *label != "ckpt")
        .map(|(label, share)| format!("{label} {share:.0}%"))
        .collect();
    line.push_str(&format!("  cpu {}", cpu.join(" ")));
    let cap = cfg.channel_capacity as f64;
    let fills: Vec<String> = Channel::ALL
        .iter()
        .map(|c| pct(live.fill(*c) as f64, cap))
        .collect();
    line.push_str(&format!("  fill {}", fills.join("/")));
    line.push_str(&format!(
        "  batch {}",
        if d_batches > 0 {
            pct(d_msgs as f64 / d_batches as f64, cfg.logger_batch as f64)
        } else {
            "-".into()
        }
    ));
    let (at_ms, micros) = live.last_checkpoint();
    if at_ms > 0 {
        let age = unix_ms_now().saturating_sub(at_ms) as f64 / 1000.0;
        line.push_str(&format!(
            "  ckpt {age:.1}s ago ({:.1} ms)",
            micros as f64 / 1000.0
        ));
    }
    if let Some(p) = now.process {
        line.push_str(&format!("  rss {:.1} MiB", p.rss_bytes as f64 / 1048576.0));
        if let (ProgressMode::Wide, Some(a)) = (mode, before.process) {
            line.push_str(&format!(
                "  process cpu {:.0}%",
                100.0 * (p.cpu_secs - a.cpu_secs) / dt
            ));
        }
    }
    if mode == ProgressMode::Wide {
        let avg = |(ops0, items0): (u64, u64), (ops1, items1): (u64, u64)| {
            (items1 - items0)
                .checked_div(ops1.saturating_sub(ops0))
                .map_or_else(|| "-".to_string(), |avg| avg.to_string())
        };
        line.push_str(&format!(
            "  avg batch gen {}/{} worker {}/{} logger {}/{}  beats {}/{}",
            avg(before.stages[0], now.stages[0]),
            cfg.generator_batch,
            avg(before.stages[1], now.stages[1]),
            cfg.worker_batch,
            d_msgs
                .checked_div(d_batches)
                .map_or_else(|| "-".to_string(), |avg| avg.to_string()),
            cfg.logger_batch,
            now.messages / cfg.beat_size(),
            cfg.beats_target,
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(at: Instant, messages: u64, batches: u64, rss: u64) -> Reading {
        Reading {
            at,
            messages,
            logger_batches: batches,
            stages: [(0, 0), (0, 0)],
            process: Some(ProcSample {
                rss_bytes: rss,
                cpu_secs: 0.0,
            }),
            threads: vec![("worker", 7, 0.0)],
        }
    }

    #[test]
    fn line_shows_rate_fill_batches_and_resources() {
        let live = Live::default();
        live.set_fill(Channel::Values, 4096);
        live.note_checkpoint(unix_ms_now(), Duration::from_micros(1500));
        let cfg = PipelineConfig::default();
        let t0 = Instant::now();
        let before = reading(t0, 0, 0, 0);
        let mut now = reading(t0 + Duration::from_secs(1), 2048, 4, 10 * 1024 * 1024);
        now.threads = vec![("worker", 7, 0.5), ("logger", 8, 9.0)];
        let line = progress_line(&live, &cfg, ProgressMode::One, t0, &before, &now);
        // The logger thread is new since `before`: no share yet, not 900%.
        for part in [
            "2048 msgs",
            "batch 50%",
            "rss 10.0 MiB",
            "worker 50%",
            "logger 0%",
            "fill 0%/50%/0%",
            "(1.5 ms)",
        ] {
            assert!(line.contains(part), "'{part}' in {line}");
        }
        assert_eq!(live.msgs_per_sec(), 2048.0);
        let wide = progress_line(&live, &cfg, ProgressMode::Wide, t0, &before, &now);
        assert!(wide.contains("logger 512/1024"), "{wide}");
        assert!(wide.contains("beats 0/5000"), "{wide}");
    }
}
