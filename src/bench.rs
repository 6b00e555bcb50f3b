//! `fizzflow bench`: runs configurations of this same binary back to back,
//! interleaved over several rounds, and prints medians and ratios to the
//! default configuration measured in the same invocation (absolute numbers
//! on shared machines drift; ratios from one run are what can be compared).

use crate::error::Error;
use clap::Args;
use std::process::{Command, Stdio};
use std::time::Instant;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Beats per unpaced run (8192 messages each with the default worker batch)
    #[arg(long, value_name = "N", default_value_t = 50_000)]
    pub beats: u64,

    /// Beats per paced run (--rate 2), for CPU per message; 0 skips them
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub paced_beats: u64,

    /// Rounds; each round runs every configuration once, in turn
    #[arg(long, value_name = "R", default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..))]
    pub rounds: u64,

    /// Only these configurations (comma-separated names; default and the
    /// ones named), e.g. --only checkpoints-off
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub only: Vec<String>,
}

/// One configuration: a name and the flags it adds to the default run.
struct Config {
    name: &'static str,
    flags: &'static [&'static str],
}

const CONFIGS: &[Config] = &[
    Config {
        name: "default",
        flags: &[],
    },
    Config {
        name: "checkpoints-off",
        flags: &["--checkpoint-interval", "0"],
    },
    Config {
        name: "telemetry-off",
        flags: &["--no-telemetry"],
    },
];

#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    msgs_per_sec: f64,
    cpu_secs: f64,
    messages: u64,
}

pub fn bench(args: &BenchArgs) -> Result<(), Error> {
    let me = std::env::current_exe()
        .map_err(|e| Error::Pipeline(format!("cannot find this binary: {e}")))?;
    let configs: Vec<&Config> = CONFIGS
        .iter()
        .filter(|c| {
            args.only.is_empty() || c.name == "default" || args.only.iter().any(|o| o == c.name)
        })
        .collect();
    let mut unpaced: Vec<Vec<Sample>> = vec![Vec::new(); configs.len()];
    let mut paced: Vec<Vec<Sample>> = vec![Vec::new(); configs.len()];
    for round in 1..=args.rounds {
        for (i, c) in configs.iter().enumerate() {
            let s = run_child(&me, c, 0, args.beats)?;
            eprintln!(
                "round {round}: {:<18} unpaced {:>8.1} M msgs/s",
                c.name,
                s.msgs_per_sec / 1e6
            );
            unpaced[i].push(s);
            if args.paced_beats > 0 {
                let s = run_child(&me, c, 2, args.paced_beats)?;
                eprintln!(
                    "round {round}: {:<18} paced   {:>8.2} CPU s per G msgs",
                    c.name,
                    cpu_per_billion(&s)
                );
                paced[i].push(s);
            }
        }
    }
    let base_rate = median(unpaced[0].iter().map(|s| s.msgs_per_sec));
    let base_cpu = median(paced[0].iter().map(cpu_per_billion));
    println!(
        "{:<18} {:>14} {:>9} {:>22} {:>9}",
        "configuration", "M msgs/s", "ratio", "paced CPU s / G msgs", "ratio"
    );
    for (i, c) in configs.iter().enumerate() {
        let rate = median(unpaced[i].iter().map(|s| s.msgs_per_sec));
        let cpu = median(paced[i].iter().map(cpu_per_billion));
        println!(
            "{:<18} {:>14.1} {:>9.3} {:>22} {:>9}",
            c.name,
            rate / 1e6,
            rate / base_rate,
            if cpu.is_nan() {
                "-".to_string()
            } else {
                format!("{cpu:.2}")
            },
            if cpu.is_nan() {
                "-".to_string()
            } else {
                format!("{:.3}", cpu / base_cpu)
            },
        );
    }
    println!(
        "(medians of {} rounds; unpaced: --rate 0 --beats {}; paced: --rate 2 --beats {})",
        args.rounds, args.beats, args.paced_beats
    );
    Ok(())
}

fn cpu_per_billion(s: &Sample) -> f64 {
    s.cpu_secs / (s.messages as f64 / 1e9)
}

fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Runs one child in a fresh state dir; its CPU time comes from the kernel's
/// accounting of waited-for children.
fn run_child(me: &std::path::Path, c: &Config, rate: u64, beats: u64) -> Result<Sample, Error> {
    let dir = tempfile::Builder::new()
        .prefix("fizzflow-bench")
        .tempdir()
        .map_err(|e| Error::Pipeline(format!("cannot make a scratch state dir: {e}")))?;
    let cpu_before = children_cpu_secs();
    let started = Instant::now();
    let out = Command::new(me)
        .args([
            "run",
            "--json",
            "--no-progress",
            "--rate",
            &rate.to_string(),
            "--beats",
            &beats.to_string(),
        ])
        .arg("--state-dir")
        .arg(dir.path())
        .args(c.flags)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::Pipeline(format!("cannot run {}: {e}", me.display())))?;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(Error::Pipeline(format!(
            "configuration {} failed ({}):\n{}",
            c.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::Pipeline(format!("configuration {} printed no summary: {e}", c.name))
    })?;
    let messages = v["messages"].as_u64().unwrap_or(0);
    let elapsed = v["elapsed_secs"].as_f64().unwrap_or(wall);
    Ok(Sample {
        msgs_per_sec: messages as f64 / elapsed,
        cpu_secs: children_cpu_secs() - cpu_before,
        messages,
    })
}

fn children_cpu_secs() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}
