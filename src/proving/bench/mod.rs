//! `fizzflow bench`: runs configurations of this same binary back to back,
//! interleaved over several rounds, and prints medians and ratios to the
//! default configuration measured in the same invocation (absolute numbers
//! on shared machines drift; ratios from one run are what can be compared).

use crate::pipeline::config::beat_size;
use crate::pipeline::latency::LatencySummary;
use crate::proving::Error;
use crate::proving::baseline::{self, BaselineRun};
use crate::util::units::micros;
use children::{run_child, soak};

mod children;
mod report;

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
    /// A built reference lesson (steady-state-performant) to run in every
    /// round, alternating with the rest.
    pub reference: Option<std::path::PathBuf>,
}

/// Paced runs take seconds each (a beat every 2 ms): they run in the first
/// rounds only, which keeps the default bench within about three minutes.
pub const PACED_ROUNDS: u64 = 3;

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
        kind: run(&["--channel-capacity", "1048576"], 256, false, 1.0),
    },
    Config {
        name: "worker-batch-64",
        kind: run(&["--worker-batch", "64"], 64, false, 1.0),
    },
    Config {
        name: "worker-batch-1024",
        kind: run(&["--worker-batch", "1024"], 1024, false, 1.0),
    },
    Config {
        name: "worker-batch-4096",
        kind: run(&["--worker-batch", "4096"], 4096, false, 1.0),
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
    /// Messages per second of the whole process, start-up included (how
    /// the reference lesson can be measured).
    wall_msgs_per_sec: f64,
    cpu_secs: f64,
    messages: u64,
    latency: Option<LatencySummary>,
}

/// What the rounds of one configuration measured.
#[derive(Default)]
struct Measured {
    unpaced: Vec<f64>,
    /// Messages per CPU-second of each unpaced run.
    per_cpu: Vec<f64>,
    /// Messages per second of process wall time (what the reference is
    /// compared with; the report uses the default's).
    wall: Vec<f64>,
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
    let mut reference = args.reference.as_ref().map(|_| Measured::default());
    for round in 1..=args.rounds {
        for (i, c) in configs.iter().enumerate() {
            let m = &mut measured[i];
            let paced_round = round <= PACED_ROUNDS && args.paced_beats > 0;
            let s = match &c.kind {
                Kind::Run {
                    flags,
                    worker_batch,
                    paced: pace,
                    messages_scale,
                } => {
                    let messages = (default_messages as f64 * messages_scale) as u64;
                    let beats = (messages / beat_size(*worker_batch)).max(1);
                    let s = run_child(&me, c.name, flags, 0, beats)?;
                    if *pace && paced_round {
                        let beats = (args.paced_beats * 256 / worker_batch).max(1);
                        paced(m, round, c.name, &run_child(&me, c.name, flags, 2, beats)?);
                    }
                    s
                }
                Kind::PlainThreads => {
                    in_process(|| baseline::plain_threads(default_messages, 8192, 256))?
                }
                Kind::Fused => in_process(|| baseline::fused(default_messages))?,
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
                    run_child(&me, c.name, &flags, 0, args.beats)?
                }
            };
            m.add_unpaced(&s);
            note(&format!(
                "round {round}: {:<18} unpaced {:>8.1} M msgs/s",
                c.name,
                s.msgs_per_sec / 1e6
            ));
        }
        if let (Some(path), Some(m)) = (&args.reference, reference.as_mut()) {
            let s = children::run_reference(path)?;
            m.add_unpaced(&s);
            note(&format!(
                "round {round}: {:<18} {:>8.1} M msgs/s (process wall time)",
                "reference",
                s.msgs_per_sec / 1e6
            ));
        }
    }
    let rows: Vec<(&str, &Measured)> = configs
        .iter()
        .map(|c| c.name)
        .zip(measured.iter())
        .collect();
    let table = report::report(args, &rows, reference.as_ref());
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

impl Measured {
    fn add_unpaced(&mut self, s: &Sample) {
        self.unpaced.push(s.msgs_per_sec);
        self.wall.push(s.wall_msgs_per_sec);
        if let Some(l) = s.latency {
            self.unpaced_p99.push(l.p99 as f64);
        }
        if s.cpu_secs > 0.0 {
            self.per_cpu.push(s.messages as f64 / s.cpu_secs);
        }
    }
}

/// One paced run: its CPU per G messages and its beat latency.
fn paced(m: &mut Measured, round: u64, name: &str, p: &Sample) {
    let cpu = p.cpu_secs / (p.messages as f64 / 1e9);
    let l = p.latency.unwrap_or_default();
    note(&format!(
        "round {round}: {name:<18} paced   {cpu:>8.2} CPU s per G msgs, beat latency p50 {} p99 {} p99.9 {} max {}",
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

/// A yardstick run in this process, its CPU from this process's accounting.
fn in_process(run: impl FnOnce() -> BaselineRun) -> Result<Sample, Error> {
    let cpu_before = children::own_cpu_secs();
    let r = checked(run())?;
    Ok(Sample {
        msgs_per_sec: r.msgs_per_sec(),
        wall_msgs_per_sec: r.msgs_per_sec(),
        cpu_secs: children::own_cpu_secs() - cpu_before,
        messages: r.messages,
        latency: None,
    })
}

fn checked(run: BaselineRun) -> Result<BaselineRun, Error> {
    if run.counts != crate::pipeline::message::KindCounts::closed_form(run.messages) {
        return Err(Error::Bench(format!("a baseline counted wrong: {run:?}")));
    }
    Ok(run)
}

/// Progress of the bench on stderr.
fn note(line: &str) {
    let _ = crate::util::output::stderr_line(line);
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
