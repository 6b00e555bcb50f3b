//! `fizzflow torture`: its flags, checked, into the torture's plan.

use crate::cli::error::Error;
use crate::cli::values::{at_most, dir_path, positive};
use crate::proving::torture::{MOST_LAUNCH_MS, TorturePlan};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct TortureArgs {
    /// Fault cycles to run
    #[arg(long, value_name = "N", default_value_t = 500, value_parser = positive, allow_negative_numbers = true)]
    pub cycles: u64,

    /// State dir to torture (default: a fresh temporary one, removed after)
    #[arg(long, value_name = "DIR", value_parser = dir_path())]
    pub state_dir: Option<PathBuf>,

    /// Seed for the fault schedule (default: from the clock; printed)
    #[arg(long, env = "FIZZFLOW_TORTURE_SEED")]
    pub seed: Option<u64>,

    /// Beats per launch
    #[arg(long, value_name = "N", default_value_t = 600, value_parser = beats, allow_negative_numbers = true)]
    pub beats: u64,

    /// Milliseconds between beats in the tortured runs
    #[arg(long, value_name = "MS", default_value_t = 1, value_parser = rate, allow_negative_numbers = true)]
    pub rate: u64,

    /// Torture a pair of pods over Aeron instead: the sink (on the state
    /// dir), the source and a media driver of the torture's own, each
    /// killed or stopped at random moments (needs --features pods)
    #[arg(long)]
    pub pods: bool,

    /// With --pods: the data stream's channel, aeron:ipc (default) or
    /// aeron:udp?endpoint=127.0.0.1:PORT
    #[arg(long, value_name = "URI", requires = "pods")]
    pub channel: Option<String>,
}

fn beats(s: &str) -> Result<u64, String> {
    positive(s).and_then(|_| at_most(s, MOST_LAUNCH_MS))
}

fn rate(s: &str) -> Result<u64, String> {
    at_most(s, 1000)
}

pub fn command(args: &TortureArgs) -> Result<(), Error> {
    if args.beats * args.rate.max(1) > MOST_LAUNCH_MS {
        return Err(Error::Usage(format!(
            "--beats {} at --rate {} is a launch of {} s; the torture counts a launch of more than {} s as hung, so lower one of them",
            args.beats,
            args.rate,
            args.beats * args.rate.max(1) / 1000,
            MOST_LAUNCH_MS / 1000
        )));
    }
    let pods = if args.pods {
        if !cfg!(feature = "pods") {
            return Err(Error::NotBuilt {
                what: "torture --pods",
            });
        }
        let channel = args
            .channel
            .as_deref()
            .unwrap_or(crate::pods::uri::DEFAULT_CHANNEL);
        crate::pods::uri::Channels::new(channel, None, crate::pods::uri::DEFAULT_STREAM as i64)
            .map_err(crate::cli::pod::link_usage)?;
        Some(vec!["--channel".into(), channel.into()])
    } else {
        None
    };
    let plan = TorturePlan {
        cycles: args.cycles,
        state_dir: args.state_dir.clone(),
        seed: args.seed,
        beats: args.beats,
        rate: args.rate,
        pods,
    };
    Ok(crate::proving::torture::torture(&plan)?)
}
