//! What the progress display says, computed once a second: where the run
//! is (beats, percentage, ETA, messages, rate) and how it is doing (CPU per
//! thread, channel fill, batch efficiency, checkpoint age, memory), as
//! fields that can be dropped, least useful first, to fit a line.

use crate::observe::reading::Reading;
use crate::pipeline::config::PipelineConfig;
use crate::pipeline::live::Live;
use crate::pipeline::names::Channel;
use crate::util::time::unix_ms_now;
use crate::util::units::{grouped, mebibytes, scaled, short_duration};
use std::time::Instant;

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

/// One piece of a line; on a narrow terminal the lowest `keep` goes first.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Field {
    pub text: String,
    pub keep: u8,
}

fn field(keep: u8, text: String) -> Field {
    Field { text, keep }
}

/// Joins as many fields as fit in `width` columns, in their order,
/// dropping the least important first.
pub(crate) fn fit(fields: &[Field], sep: &str, width: usize) -> String {
    let mut kept: Vec<&Field> = fields.iter().collect();
    loop {
        let line = kept
            .iter()
            .map(|f| f.text.as_str())
            .collect::<Vec<_>>()
            .join(sep);
        if line.chars().count() <= width || kept.is_empty() {
            return line;
        }
        let weakest = kept
            .iter()
            .enumerate()
            .min_by_key(|(i, f)| (f.keep, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        kept.remove(weakest);
    }
}

/// A count as it reads best: whole up to 9,999, scaled above.
fn few(n: u64) -> String {
    if n < 10_000 {
        grouped(n)
    } else {
        scaled(n as f64)
    }
}

/// The beat rate the ETA is computed from: an exponentially weighted
/// average of each second's rate (as indicatif's own estimate is), not
/// shown until it has settled (three seconds in, and moved by under a
/// fifth in the last one), and then kept: an ETA that comes and goes, or
/// one from the first second of a loaded machine, misleads.
#[derive(Debug, Default)]
pub(crate) struct BeatRate {
    rate: Option<f64>,
    samples: u32,
    settled: bool,
}

impl BeatRate {
    const WEIGHT: f64 = 0.3;

    /// Takes one second's beats per second; the rate, once settled.
    pub fn update(&mut self, per_sec: f64) -> Option<f64> {
        if !per_sec.is_finite() {
            return self.settled.then_some(self.rate).flatten();
        }
        let next = self
            .rate
            .map_or(per_sec, |r| r + Self::WEIGHT * (per_sec - r));
        let moved = self
            .rate
            .map_or(f64::INFINITY, |r| ((next - r) / r.max(1e-9)).abs());
        self.rate = Some(next);
        self.samples += 1;
        self.settled |= self.samples >= 3 && moved < 0.2;
        self.settled.then_some(next)
    }
}

pub(crate) struct Status {
    pub elapsed_secs: f64,
    /// This launch: beats done of beats to run.
    pub done: u64,
    pub total: u64,
    /// The lifetime: beats counted, of the run's target.
    pub target: u64,
    pub beats: u64,
    /// Whether the run started part-way (resumed or continued): then the
    /// lifetime is shown beside this launch's progress.
    pub continued: bool,
    /// Messages this launch counted.
    pub messages: u64,
    pub rate: f64,
    pub eta_secs: Option<f64>,
    details: Vec<Field>,
    wide: Vec<Field>,
}

impl Status {
    pub fn new(
        live: &Live,
        cfg: &PipelineConfig,
        started: Instant,
        before: &Reading,
        now: &Reading,
        beat_rate: Option<f64>,
    ) -> Status {
        let beat = cfg.beat_size();
        let beats = now.messages / beat;
        let start = cfg.start.beats;
        let done = beats.saturating_sub(start);
        let total = cfg.beats_target.saturating_sub(start);
        let eta_secs = beat_rate
            .filter(|r| *r > 0.0)
            .map(|r| (total - done.min(total)) as f64 / r);
        let mut status = Status {
            elapsed_secs: now.at.duration_since(started).as_secs_f64(),
            done,
            total,
            target: cfg.beats_target,
            beats,
            continued: start > 0,
            messages: now.messages.saturating_sub(cfg.start.logger.messages),
            rate: now.rate_since(before),
            eta_secs,
            details: Vec::new(),
            wide: Vec::new(),
        };
        status.describe(live, cfg, before, now);
        status
    }

    fn describe(&mut self, live: &Live, cfg: &PipelineConfig, before: &Reading, now: &Reading) {
        let cpu = now.cpu_since(before);
        let threads: Vec<String> = cpu
            .iter()
            .filter(|(label, _)| *label != "checkpoint")
            .map(|(label, share)| {
                // Paced, the whole pipeline runs on the troupe's thread.
                let label = if *label == "hb+gen" && live.one_thread() {
                    "pipeline"
                } else {
                    label
                };
                format!("{label} {share:.0}%")
            })
            .collect();
        self.details
            .push(field(5, format!("cpu {}", threads.join(" "))));
        let sink = live
            .actors()
            .contains(&crate::pipeline::actor::receiver::NAME);
        if sink {
            let l = live.link().read();
            let committed = live.committed();
            let text = if l.serving {
                format!(
                    "sink: received {} · durable {} · lag {}",
                    scaled(l.next as f64),
                    scaled(committed as f64),
                    scaled(l.next.saturating_sub(committed) as f64)
                )
            } else {
                "sink: waiting for a source".to_string()
            };
            self.details.insert(0, field(6, text));
        }
        // What each consumer found waiting when it last took: a paced
        // beat's whole burst arrives at once, so "all of it" is normal
        // there, not a full channel; the capacity is beside it.
        let queued: Vec<String> = Channel::ALL
            .iter()
            .map(|c| {
                let name = match c {
                    Channel::Beats => "beats",
                    Channel::Values => "values",
                    Channel::Messages => "msgs",
                };
                format!("{name} {}", few(live.fill(*c)))
            })
            .collect();
        let cap = match sink {
            // A sink's values channel holds the link's window.
            true => format!(
                "of {}/{}",
                few(cfg.channel_capacity as u64),
                few(crate::pipeline::link::WINDOW as u64)
            ),
            false => format!("of {}", few(cfg.channel_capacity as u64)),
        };
        self.details.push(field(
            3,
            format!("queued at take {} {cap}", queued.join(" ")),
        ));
        let d_msgs = now.messages.saturating_sub(before.messages);
        let d_batches = now.logger_batches.saturating_sub(before.logger_batches);
        if d_batches > 0 {
            let avg = d_msgs as f64 / d_batches as f64;
            self.details.push(field(
                2,
                format!("batch {}", pct(avg, cfg.logger_batch as f64)),
            ));
        }
        let (at_ms, micros) = live.last_checkpoint();
        if at_ms > 0 {
            let age = unix_ms_now().saturating_sub(at_ms) as f64 / 1000.0;
            self.details.push(field(
                4,
                format!(
                    "last checkpoint {age:.1}s ago ({:.1} ms)",
                    micros as f64 / 1000.0
                ),
            ));
        }
        if let Some(p) = now.process {
            self.details
                .push(field(1, format!("rss {}", mebibytes(p.rss_bytes))));
            if let Some(a) = before.process {
                let dt = now.at.duration_since(before.at).as_secs_f64().max(1e-9);
                self.wide.push(field(
                    2,
                    format!("process cpu {:.0}%", 100.0 * (p.cpu_secs - a.cpu_secs) / dt),
                ));
            }
        }
        if let Some((_, share)) = cpu.iter().find(|(label, _)| *label == "checkpoint") {
            self.wide
                .push(field(1, format!("checkpoint thread cpu {share:.0}%")));
        }
        let avg = |(ops0, items0): (u64, u64), (ops1, items1): (u64, u64)| {
            (items1 - items0)
                .checked_div(ops1.saturating_sub(ops0))
                .map_or_else(|| "-".to_string(), |avg| avg.to_string())
        };
        self.wide.push(field(
            3,
            format!(
                "avg batch gen {}/{} worker {}/{} logger {}/{}",
                avg(before.stages[0], now.stages[0]),
                cfg.generator_batch,
                avg(before.stages[1], now.stages[1]),
                cfg.worker_batch,
                d_msgs
                    .checked_div(d_batches)
                    .map_or_else(|| "-".to_string(), |avg| avg.to_string()),
                cfg.logger_batch,
            ),
        ));
    }

    /// Percentage of this launch's beats, 0 to 100.
    pub fn percent(&self) -> u64 {
        (100 * self.done)
            .checked_div(self.total)
            .unwrap_or(100)
            .min(100)
    }

    /// Where this launch is: its beats, messages, rate and ETA, one frame
    /// of reference with the percentage and elapsed time the bar shows;
    /// on a resumed or continued run, the lifetime beside it.
    pub fn headline(&self) -> Vec<Field> {
        let mut fields = vec![
            field(6, format!("{}%", self.percent())),
            field(
                3,
                format!("{}/{} beats", grouped(self.done), grouped(self.total)),
            ),
            field(1, format!("{} msgs", scaled(self.messages as f64))),
            field(4, format!("{} msgs/s", scaled(self.rate))),
        ];
        fields.push(field(
            5,
            match self.eta_secs {
                Some(eta) => format!("ETA {}", short_duration(eta)),
                None => "ETA …".into(),
            },
        ));
        if self.continued {
            fields.push(field(
                2,
                format!(
                    "lifetime {}/{} beats",
                    grouped(self.beats),
                    grouped(self.target)
                ),
            ));
        }
        fields
    }

    pub fn details(&self) -> &[Field] {
        &self.details
    }

    pub fn wide(&self) -> &[Field] {
        &self.wide
    }

    /// The one line a second for logs: every field, no width to fit.
    pub fn plain_line(&self, mode: ProgressMode) -> String {
        let mut fields = self.headline();
        fields.extend(self.details.iter().cloned());
        if mode == ProgressMode::Wide {
            fields.extend(self.wide.iter().cloned());
        }
        let texts: Vec<&str> = fields.iter().map(|f| f.text.as_str()).collect();
        format!(
            "[{:>7}] {}",
            short_duration(self.elapsed_secs),
            texts.join(" · ")
        )
    }
}

fn pct(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format!("{:.0}%", 100.0 * part / whole)
    } else {
        "-".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::procfs::ProcSample;
    use std::time::Duration;

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
    fn the_status_shows_progress_rate_eta_and_resources() {
        let live = Live::default();
        live.set_fill(Channel::Values, 4096);
        live.note_checkpoint(unix_ms_now(), Duration::from_micros(1500));
        let cfg = PipelineConfig {
            beats_target: 100,
            ..Default::default()
        };
        let t0 = Instant::now();
        let before = reading(t0 + Duration::from_secs(1), 8192 * 10, 40, 0);
        let mut now = reading(
            t0 + Duration::from_secs(2),
            8192 * 25,
            100,
            10 * 1024 * 1024,
        );
        now.threads = vec![("worker", 7, 0.5), ("logger", 8, 9.0)];
        let s = Status::new(&live, &cfg, t0, &before, &now, Some(12.5));
        assert_eq!((s.done, s.total, s.percent()), (25, 100, 25));
        // 75 to go at 12.5 a second.
        assert_eq!(s.eta_secs, Some(6.0));
        assert!(!s.plain_line(ProgressMode::One).contains("lifetime"));
        let line = s.plain_line(ProgressMode::One);
        // The logger thread is new since `before`: no share yet, not 900%.
        for part in [
            "25%",
            "25/100 beats",
            "205 k msgs",
            "123 k msgs/s",
            "ETA 6s",
            "worker 50%",
            "logger 0%",
            "queued at take beats 0 values 4,096 msgs 0 of 8,192",
            "batch 200%",
            "(1.5 ms)",
            "rss 10.0 MiB",
        ] {
            assert!(line.contains(part), "'{part}' in {line}");
        }
        let wide = s.plain_line(ProgressMode::Wide);
        assert!(wide.contains("logger 2048/1024"), "{wide}");
    }

    #[test]
    fn a_continued_run_shows_this_launch_with_the_lifetime_beside() {
        let live = Live::default();
        let mut cfg = PipelineConfig {
            beats_target: 1300,
            ..Default::default()
        };
        cfg.start.beats = 1000;
        cfg.start.logger.messages = 1000 * 8192;
        let t0 = Instant::now();
        let before = reading(t0, 8192 * 1000, 0, 0);
        let now = reading(t0 + Duration::from_secs(1), 8192 * 1075, 0, 0);
        let s = Status::new(&live, &cfg, t0, &before, &now, None);
        let line = s.plain_line(ProgressMode::One);
        for part in [
            "25%",
            "75/300 beats",
            "614 k msgs",
            "ETA …",
            "lifetime 1,075/1,300 beats",
        ] {
            assert!(line.contains(part), "'{part}' in {line}");
        }
    }

    #[test]
    fn the_eta_rate_shows_once_settled_and_stays() {
        let mut r = BeatRate::default();
        assert_eq!(r.update(100.0), None, "one second is not a rate");
        assert_eq!(r.update(100.0), None);
        let settled = r.update(100.0).expect("three steady seconds");
        assert!((settled - 100.0).abs() < 1e-9);
        // A slow second moves it by a weight, not to the slow rate.
        let after = r.update(10.0).expect("kept once shown");
        assert!((after - 73.0).abs() < 1e-9, "{after}");
        let mut jumpy = BeatRate::default();
        for x in [10.0, 100.0, 10.0, 100.0] {
            assert_eq!(jumpy.update(x), None, "not settled while it jumps");
        }
    }

    #[test]
    fn fields_are_dropped_least_useful_first_to_fit() {
        let fields = vec![
            field(5, "42%".into()),
            field(1, "7.2 MiB".into()),
            field(3, "ETA 6s".into()),
        ];
        assert_eq!(fit(&fields, " · ", 80), "42% · 7.2 MiB · ETA 6s");
        assert_eq!(fit(&fields, " · ", 14), "42% · ETA 6s");
        assert_eq!(fit(&fields, " · ", 5), "42%");
        assert_eq!(fit(&fields, " · ", 1), "");
    }
}
