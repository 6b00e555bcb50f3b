//! `fizzflow bench`: its flags, checked, into the bench's plan.

use crate::cli::error::Error;
use crate::cli::values::{at_most, positive};
use crate::proving::bench::{BenchPlan, CONFIG_NAMES, MOST_BEATS};
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Beats per unpaced run of the default configuration (8192 messages
    /// each); configurations with another worker batch run the same number
    /// of messages
    #[arg(long, value_name = "N", default_value_t = 25_000, value_parser = beats, allow_negative_numbers = true)]
    pub beats: u64,

    /// Beats per paced run (--rate 2), for CPU per message, in the first 3
    /// rounds; 0 skips them
    #[arg(long, value_name = "N", default_value_t = 2_500, value_parser = paced_beats, allow_negative_numbers = true)]
    pub paced_beats: u64,

    /// Rounds; each round runs every configuration once, in turn, so a
    /// slow minute of a shared machine falls on all of them (the spread
    /// against plain-threads is judged from 9 rounds on)
    #[arg(long, value_name = "R", default_value_t = 9, value_parser = positive, allow_negative_numbers = true)]
    pub rounds: u64,

    /// Only these configurations, comma-separated (the default always runs
    /// too), e.g. --only checkpoints-off,telemetry-off
    #[arg(long, value_name = "NAMES", value_delimiter = ',', value_parser = clap::builder::PossibleValuesParser::new(CONFIG_NAMES))]
    pub only: Vec<String>,

    /// Afterwards, run the default configuration paced for this many
    /// seconds and report its RSS at 10 s and at the end (0 = skip)
    #[arg(long, value_name = "SECS", default_value_t = 0, value_parser = soak_secs, allow_negative_numbers = true)]
    pub soak_secs: u64,

    /// A built reference lesson (steady-state-performant's `performant`
    /// binary) to run in every round too (`--rate 2 --beats 2500`), timed by
    /// its process's wall time against the default timed the same way
    #[arg(long, value_name = "PATH", value_parser = executable)]
    pub reference: Option<std::path::PathBuf>,
}

/// A file that can be run, checked before an hour of benchmarking.
fn executable(s: &str) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::path::PathBuf::from(s);
    match std::fs::metadata(&path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Ok(path),
        Ok(_) => Err(format!("{s} is not an executable file")),
        Err(e) => Err(format!("cannot use {s}: {e}")),
    }
}

fn beats(s: &str) -> Result<u64, String> {
    positive(s).and_then(|_| at_most(s, MOST_BEATS))
}

fn paced_beats(s: &str) -> Result<u64, String> {
    at_most(s, MOST_BEATS)
}

/// A week.
fn soak_secs(s: &str) -> Result<u64, String> {
    at_most(s, 7 * 24 * 3600)
}

pub fn command(args: &BenchArgs) -> Result<(), Error> {
    let plan = BenchPlan {
        beats: args.beats,
        paced_beats: args.paced_beats,
        rounds: args.rounds,
        only: args.only.clone(),
        soak_secs: args.soak_secs,
        reference: args.reference.clone(),
    };
    Ok(crate::proving::bench::bench(&plan)?)
}
