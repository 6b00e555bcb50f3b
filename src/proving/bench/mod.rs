//! `fizzflow bench`: runs configurations of this same binary back to back,
//! interleaved over several rounds, and prints medians and ratios to the
//! default configuration measured in the same invocation (absolute numbers
//! on shared machines drift; ratios from one run are what can be compared).

use crate::pipeline::config::beat_size;
use crate::pipeline::latency::LatencySummary;
use crate::proving::Error;
use crate::proving::baseline::{self, BaselineRun};
use crate::util::units::{counted, micros};
use children::{run_child, soak};

mod children;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchPlan {
    /// Beats per unpaced run of the default configuration (8192 messages
    /// each); configurations with another worker batch run as many messages.
    pub beats: u64,
    /// Beats per paced run (--rate 2), for CPU per message; 0 skips them.
    pub paced_beats: u64,
    /// Rounds; each runs every configuration once, in turn.
    pub rounds: u64,
    /// Only these configurations (the default always runs too).
    pub only: Vec<String>,
    /// Afterwards, the default paced for this many seconds, for RSS (0: none).
    pub soak_secs: u64,
}

/// Beats per run are counted in messages (× 8192, × 256 paced), which must
/// fit in a u64 with room to spare; 2^40 beats is days of running anyway.
pub const MOST_BEATS: u64 = 1 << 40;

/// What one configuration is.
enum Kind {
    /// This binary with extra flags; `worker_batch` sets the beat size.
    Run {
        flags: &'static [&'static str],
        worker_batch: u64,
        paced: bool,
        messages_scale: f64,
    },
    PlainThreads,
    Fused,
    /// `run --pods`: a media driver and the two pods, over shared memory
    /// or UDP loopback (a build with the feature `pods` only).
    Pods {
        udp: bool,
    },
}

struct Config {
    name: &'static str,
    kind: Kind,
}

/// The names `--only` accepts, in the order of [`CONFIGS`].
pub const CONFIG_NAMES: [&str; 13] = [
    "default",
    "checkpoints-off",
    "telemetry-off",
    "batch-1",
    "single-item",
    "channel-1M",
    "worker-batch-64",
    "worker-batch-1024",
    "worker-batch-4096",
    "plain-threads",
    "fused-loop",
    "pods-ipc",
    "pods-udp",
];

const fn run(
    flags: &'static [&'static str],
    worker_batch: u64,
    paced: bool,
    messages_scale: f64,
) -> Kind {
    Kind::Run {
        flags,
        worker_batch,
        paced,
        messages_scale,
    }
}

const CONFIGS: &[Config] = &[
    Config {
        name: "default",
        kind: run(&[], 256, true, 1.0),
    },
    Config {
        name: "checkpoints-off",
        kind: run(&["--checkpoint-interval", "0"], 256, true, 1.0),
    },
    Config {
        name: "telemetry-off",
        kind: run(&["--no-telemetry"], 256, true, 1.0),
    },
    // Batch 1 is slow: it moves a sixteenth of the messages so a round stays
    // short (still long enough that start-up does not count); msgs/s is
    // comparable.
    Config {
        name: "batch-1",
        kind: run(
            &[
                "--generator-batch",
                "1",
                "--worker-batch",
                "1",
                "--logger-batch",
                "1",
            ],
            1,
            false,
            1.0 / 16.0,
        ),
    },
    // Batch 1 still moves whole slices per channel operation; this moves
    // one message per operation (try_send / try_take) at every stage.
    Config {
        name: "single-item",
        kind: run(&["--single-item"], 256, false, 1.0 / 16.0),
    },
    Config {
        name: "channel-1M",
        kind: run(&["--channel-capacity", "1048576"], 256, true, 1.0),
    },
    Config {
        name: "worker-batch-64",
        kind: run(&["--worker-batch", "64"], 64, true, 1.0),
    },
    Config {
        name: "worker-batch-1024",
        kind: run(&["--worker-batch", "1024"], 1024, true, 1.0),
    },
    Config {
        name: "worker-batch-4096",
        kind: run(&["--worker-batch", "4096"], 4096, true, 1.0),
    },
    Config {
        name: "plain-threads",
        kind: Kind::PlainThreads,
    },
    Config {
        name: "fused-loop",
        kind: Kind::Fused,
    },
    Config {
        name: "pods-ipc",
        kind: Kind::Pods { udp: false },
    },
    Config {
        name: "pods-udp",
        kind: Kind::Pods { udp: true },
    },
];

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    msgs_per_sec: f64,
    cpu_secs: f64,
    messages: u64,
    latency: Option<LatencySummary>,
}

/// What the rounds of one configuration measured.
#[derive(Default)]
struct Measured {
    unpaced: Vec<f64>,
    unpaced_p99: Vec<f64>,
    paced_cpu: Vec<f64>,
    /// p50, p99, p99.9, max (µs) of each paced run.
    paced_latency: [Vec<f64>; 4],
}

pub fn bench(args: &BenchPlan) -> Result<(), Error> {
    let me = std::env::current_exe().map_err(|source| Error::Setup {
        action: "find this binary",
        source,
    })?;
    let pods_built = cfg!(feature = "pods");
    if !pods_built && args.only.iter().any(|o| o.starts_with("pods-")) {
        return Err(Error::Bench(
            "the pods rows need a build with the feature pods (cargo build --release --features pods)".into(),
        ));
    }
    let configs: Vec<&Config> = CONFIGS
        .iter()
        .filter(|c| pods_built || !matches!(c.kind, Kind::Pods { .. }))
        .filter(|c| {
            args.only.is_empty() || c.name == "default" || args.only.iter().any(|o| o == c.name)
        })
        .collect();
    let default_messages = args.beats * 8192;
    let mut measured: Vec<Measured> = configs.iter().map(|_| Measured::default()).collect();
    for round in 1..=args.rounds {
        for (i, c) in configs.iter().enumerate() {
            let m = &mut measured[i];
            let rate = match &c.kind {
                Kind::Run {
                    flags,
                    worker_batch,
                    paced: pace,
                    messages_scale,
                } => {
                    let messages = (default_messages as f64 * messages_scale) as u64;
                    let beats = (messages / beat_size(*worker_batch)).max(1);
                    let s = run_child(&me, c.name, flags, 0, beats)?;
                    if let Some(l) = s.latency {
                        m.unpaced_p99.push(l.p99 as f64);
                    }
                    if *pace && args.paced_beats > 0 {
                        let beats = (args.paced_beats * 256 / worker_batch).max(1);
                        let p = run_child(&me, c.name, flags, 2, beats)?;
                        let cpu = p.cpu_secs / (p.messages as f64 / 1e9);
                        let l = p.latency.unwrap_or_default();
                        note(&format!(
                            "round {round}: {:<18} paced   {cpu:>8.2} CPU s per G msgs, beat latency p50 {} p99 {} p99.9 {} max {}",
                            c.name,
                            micros(l.p50),
                            micros(l.p99),
                            micros(l.p99_9),
                            micros(l.max)
                        ));
                        m.paced_cpu.push(cpu);
                        for (v, x) in m
                            .paced_latency
                            .iter_mut()
                            .zip([l.p50, l.p99, l.p99_9, l.max])
                        {
                            v.push(x as f64);
                        }
                    }
                    s.msgs_per_sec
                }
                Kind::PlainThreads => {
                    checked(baseline::plain_threads(default_messages, 8192, 256))?
                }
                Kind::Fused => checked(baseline::fused(default_messages))?,
                Kind::Pods { udp } => {
                    let channel = if *udp {
                        format!(
                            "aeron:udp?endpoint=127.0.0.1:{}",
                            children::free_udp_pair()?
                        )
                    } else {
                        "aeron:ipc".to_string()
                    };
                    let flags = ["--pods", "--channel", &channel];
                    let s = run_child(&me, c.name, &flags, 0, args.beats)?;
                    if let Some(l) = s.latency {
                        m.unpaced_p99.push(l.p99 as f64);
                    }
                    s.msgs_per_sec
                }
            };
            note(&format!(
                "round {round}: {:<18} unpaced {:>8.1} M msgs/s",
                c.name,
                rate / 1e6
            ));
            m.unpaced.push(rate);
        }
    }
    let table = table(args, &configs, &measured);
    crate::util::output::stdout_text(&table).map_err(|source| Error::Output {
        what: "bench table",
        source,
    })?;
    if args.soak_secs > 0 {
        let line = soak(&me, args.soak_secs)?;
        crate::util::output::stdout_line(&line).map_err(|source| Error::Output {
            what: "soak result",
            source,
        })?;
    }
    Ok(())
}

fn checked(run: BaselineRun) -> Result<f64, Error> {
    if run.counts != crate::pipeline::message::KindCounts::closed_form(run.messages) {
        return Err(Error::Bench(format!("a baseline counted wrong: {run:?}")));
    }
    Ok(run.msgs_per_sec())
}

/// Progress of the bench on stderr.
fn note(line: &str) {
    let _ = crate::util::output::stderr_line(line);
}

fn table(args: &BenchPlan, configs: &[&Config], measured: &[Measured]) -> String {
    use std::fmt::Write as _;
    let base_rate = median(&measured[0].unpaced);
    let base_cpu = median(&measured[0].paced_cpu);
    let cell = |x: f64, fmt: fn(f64) -> String| if x.is_nan() { "-".to_string() } else { fmt(x) };
    let us = |x: f64| micros(x as u64);
    let mut out = String::new();
    out.push_str(
        "| configuration | unpaced M msgs/s | ratio to default | unpaced beat latency p99 | paced CPU s per G msgs | ratio to default | paced beat latency p50 / p99 / p99.9 / max |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (c, m) in configs.iter().zip(measured) {
        let rate = median(&m.unpaced);
        let cpu = median(&m.paced_cpu);
        let lat: Vec<String> = m
            .paced_latency
            .iter()
            .map(|v| cell(median(v), us))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.name,
            cell(rate / 1e6, |x| format!("{x:.1}")),
            cell(rate / base_rate, |x| format!("{x:.3}")),
            cell(median(&m.unpaced_p99), us),
            cell(cpu, |x| format!("{x:.2}")),
            cell(cpu / base_cpu, |x| format!("{x:.3}")),
            if lat.iter().all(|l| l == "-") {
                "-".to_string()
            } else {
                lat.join(" / ")
            },
        );
    }
    let _ = writeln!(
        out,
        "medians of {}; unpaced: --rate 0, {} per run (batch-1 and single-item: 1/16 of that); paced: --rate 2, {} of 256-message credits; pods: run --pods, a media driver and two processes, the sink's own rate; telemetry and metrics on unless named; CPU from the kernel's accounting of each child; beat latency from the heartbeat's send to the logger's count of the beat's last message",
        counted(args.rounds, "round"),
        counted(args.beats * 8192, "message"),
        counted(args.paced_beats, "beat")
    );
    out
}

fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_accepts_the_configuration_names() {
        let names: Vec<&str> = CONFIGS.iter().map(|c| c.name).collect();
        assert_eq!(names, CONFIG_NAMES);
    }
}
