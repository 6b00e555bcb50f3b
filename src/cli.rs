//! The command line: parsing (clap derive), checks that span flags, and the
//! glue from flags to a pipeline run.

use crate::config::{DelaySpec, PanicSpec};
use crate::error::Error;
use crate::launch::{self, Given};
use crate::live::Live;
use crate::progress::ProgressMode;
use crate::report;
use crate::store::AbortAt;
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

const ABOUT: &str = "A fast, exact FizzBuzz actor pipeline on steady_state, with crash-safe totals";

const LONG_ABOUT: &str = "\
A fast, exact FizzBuzz actor pipeline on steady_state, with crash-safe totals.

Heartbeat and Generator share one thread; Worker, Logger and Checkpoint have
one each. Every beat is 32 signals, each a credit for one worker batch, so a
run moves exactly beats × 32 × worker-batch messages. The logger verifies
every one (value in sequence, kind correct). The checkpoint actor commits
consistent cuts to <state-dir>/checkpoints.redb, and the next run resumes
them exactly: nothing lost, nothing counted twice (`fizzflow stats` shows
them).

Ctrl-C or SIGTERM stops the heartbeat; beats already sent drain, a final
checkpoint is written, the summary is printed and the exit code is 0. A
second signal exits at once.

Exit codes: 0 done; 1 failed (the reason is printed); 2 bad flags; 3 the
state dir is in use by another fizzflow; 4 the state dir or its checkpoint
file cannot be used (a checkpoint file is then left exactly as it was).";

#[derive(Parser, Debug)]
#[command(name = "fizzflow", version, about = ABOUT, long_about = LONG_ABOUT)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the pipeline (also what `fizzflow` alone does)
    Run(Box<RunArgs>),
    /// Show the totals in a state dir's checkpoint file without running anything
    Stats(StatsArgs),
    /// Measure configurations side by side (ratios from one invocation)
    Bench(crate::bench::BenchArgs),
    /// Inject hundreds of faults into runs on one state dir and check that
    /// no total is ever lost or counted twice
    Torture(crate::torture::TortureArgs),
}

/// `--state-dir`, shared by the commands that use one.
#[derive(Args, Debug, Clone)]
pub struct StateDirArg {
    /// State directory: its checkpoints.redb holds the lifetime totals, and a
    /// relaunch resumes from it
    #[arg(
        long = "state-dir",
        value_name = "DIR",
        env = "FIZZFLOW_STATE_DIR",
        default_value = "fizzflow-state",
        value_parser = parse_state_dir
    )]
    pub dir: PathBuf,
}

fn parse_state_dir(s: &str) -> Result<PathBuf, String> {
    if s.trim().is_empty() {
        return Err("the state dir must not be empty".into());
    }
    Ok(PathBuf::from(s))
}

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    #[command(flatten)]
    pub state: StateDirArg,

    /// Print one JSON object instead of the table
    #[arg(long)]
    pub json: bool,

    /// One row per retained checkpoint, with a sparkline of msgs/s (with
    /// --json: every retained record as a JSON array)
    #[arg(long, conflicts_with = "launches")]
    pub history: bool,

    /// One row per launch: when, how it ended, what it added (with --json:
    /// a JSON array, newest last)
    #[arg(long)]
    pub launches: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Milliseconds between beats; 0 runs unpaced, as fast as the machine allows
    #[arg(long, value_name = "MS", default_value_t = 2)]
    pub rate: u64,

    /// Number of beats to run (one beat = 32 × worker-batch messages)
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    pub beats: u64,

    /// Values the generator writes per batch
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub generator_batch: u64,

    /// Messages the worker moves per beat signal (one credit)
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub worker_batch: u64,

    /// Messages the logger verifies per batch
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..))]
    pub logger_batch: u64,

    /// Slots in each channel (every batch must fit)
    #[arg(long, value_name = "N", default_value_t = 8192, value_parser = clap::value_parser!(u64).range(1..=1 << 28))]
    pub channel_capacity: u64,

    #[command(flatten)]
    pub state: StateDirArg,

    /// Milliseconds between checkpoints; 0 = only at the start and the end
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub checkpoint_interval: u64,

    /// Checkpoints kept in the history table
    #[arg(long, value_name = "K", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    pub checkpoint_history: u64,

    /// Log level: off, error, warn, info, debug, trace [default: RUST_LOG, else warn]
    #[arg(long, value_name = "LEVEL", value_parser = ["off", "error", "warn", "info", "debug", "trace"])]
    pub log_level: Option<String>,

    /// Turn off steady_state's telemetry server (/metrics, /graph.dot)
    #[arg(long)]
    pub no_telemetry: bool,

    /// Where the telemetry server listens (loopback unless you say otherwise)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:9900")]
    pub telemetry_addr: SocketAddr,

    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,

    /// Progress on stderr once a second: one line, wide (every field), or off.
    /// On a terminal the line is rewritten in place; otherwise one line each
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ProgressMode::One)]
    pub progress: ProgressMode,

    /// Same as --progress off
    #[arg(long, hide = true)]
    pub no_progress: bool,

    /// Where fizzflow's own Prometheus metrics are served (/metrics); port 0
    /// picks a free port (printed at start)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:9901")]
    pub metrics_addr: SocketAddr,

    /// Do not serve fizzflow's metrics
    #[arg(long)]
    pub no_metrics: bool,

    /// Keep serving metrics this long after the run ends (for a last scrape)
    #[arg(long, value_name = "MS", default_value_t = 0, hide = true)]
    pub metrics_linger: u64,

    /// Fault injection for tests: panic in ACTOR once every N units it handles
    #[arg(long, value_name = "ACTOR:N", hide = true)]
    pub inject_panic: Vec<PanicSpec>,

    /// Fault injection for tests: ACTOR (or checkpoint) sleeps MICROS per batch
    #[arg(long, value_name = "ACTOR:MICROS", hide = true)]
    pub inject_delay: Vec<DelaySpec>,

    /// Fault injection for tests: abort inside this launch's N-th checkpoint
    /// commit (1 = the launch record), after the data is written
    #[arg(long, value_name = "checkpoint:N|upgrade", hide = true, value_parser = parse_abort)]
    pub inject_abort: Option<AbortAt>,

    /// Which flags were given on the command line (filled in after parsing).
    #[arg(skip)]
    pub given: Given,

    /// Whether --telemetry-addr was given (filled in after parsing).
    #[arg(skip)]
    pub telemetry_addr_given: bool,

    /// The flags given on the command line, as typed (filled in after
    /// parsing), for the launch history.
    #[arg(skip)]
    pub flags: Vec<String>,
}

fn parse_abort(s: &str) -> Result<AbortAt, String> {
    if s == "upgrade" {
        return Ok(AbortAt::Upgrade);
    }
    let n = s
        .strip_prefix("checkpoint:")
        .ok_or_else(|| format!("'{s}' is not checkpoint:N or upgrade"))?;
    match n.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(AbortAt::Commit(n)),
        _ => Err(format!(
            "'{n}' in '{s}' is not a whole number of at least 1"
        )),
    }
}

impl RunArgs {
    pub fn progress_mode(&self) -> ProgressMode {
        if self.no_progress {
            ProgressMode::Off
        } else {
            self.progress
        }
    }

    /// Notes which flags came from the command line rather than defaults.
    fn note_given(&mut self, m: &ArgMatches) {
        let given = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
        self.given = Given {
            beats: given("beats"),
            generator_batch: given("generator_batch"),
            worker_batch: given("worker_batch"),
            logger_batch: given("logger_batch"),
            channel_capacity: given("channel_capacity"),
        };
        self.telemetry_addr_given = given("telemetry_addr");
        // The state dir is where the history lives, not part of it.
        let run = Cli::command();
        self.flags = m
            .ids()
            .filter(|id| given(id.as_str()))
            .filter_map(|id| run.get_arguments().find(|a| a.get_id() == id))
            .filter(|arg| arg.get_long().is_some_and(|long| long != "state-dir"))
            .map(|arg| {
                let long = arg.get_long().unwrap_or_default();
                if !arg.get_action().takes_values() {
                    return format!("--{long}");
                }
                let values: Vec<String> = m
                    .get_raw(arg.get_id().as_str())
                    .into_iter()
                    .flatten()
                    .map(|v| v.to_string_lossy().into_owned())
                    .collect();
                format!("--{long} {}", values.join(","))
            })
            .collect();
    }
}

/// Parses the command line (exit 2 on bad flags), noting which run flags
/// were given explicitly.
fn parse() -> Cli {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match &mut cli.command {
        Some(Command::Run(args)) => {
            if let Some(m) = matches.subcommand_matches("run") {
                args.note_given(m);
            }
        }
        None => cli.run.note_given(&matches),
        _ => {}
    }
    cli
}

/// Everything `main` does; returns the process exit code.
pub fn main() -> i32 {
    // Past a file-size limit the kernel would kill us with SIGXFSZ; ignored,
    // the write fails with EFBIG instead and we can say what happened.
    // SAFETY: setting a signal to SIG_IGN before any thread exists.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == crate::probe::SUBCOMMAND) {
        // Internal: not part of the command line people use.
        return match args.get(2) {
            Some(copy) => crate::probe::run_probe(std::path::Path::new(copy)),
            None => 2,
        };
    }
    if let Ok(exe) = std::env::current_exe() {
        crate::probe::use_child_processes(exe);
    }
    let cli = parse();
    let result = match cli.command {
        Some(Command::Run(args)) => run(&args),
        Some(Command::Stats(args)) => report::stats(&args),
        Some(Command::Bench(args)) => crate::bench::bench(&args),
        Some(Command::Torture(args)) => crate::torture::torture(&args),
        None => run(&cli.run),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            if let Error::Usage(msg) = &e {
                // Same look and exit code (2) as clap's own errors.
                Cli::command()
                    .error(clap::error::ErrorKind::ValueValidation, msg)
                    .exit();
            }
            crate::output::note(&format!("error: {e}"));
            e.exit_code()
        }
    }
}

/// `fizzflow run`: the stop handler first, so that a signal at any moment
/// after this is a clean stop.
fn run(args: &RunArgs) -> Result<(), Error> {
    // steady_state reads these when its telemetry server starts; no other
    // thread exists yet, which is what makes set_var sound here. Its port
    // scan (the default port taken → the next free one) runs only when the
    // port is left unset, so an explicit port is passed and the default not.
    unsafe {
        std::env::set_var("TELEMETRY_SERVER_IP", args.telemetry_addr.ip().to_string());
        if args.telemetry_addr_given {
            std::env::set_var(
                "TELEMETRY_SERVER_PORT",
                args.telemetry_addr.port().to_string(),
            );
        }
    }
    let live = Arc::new(Live::default());
    launch::install_stop_handler(&live);
    crate::logging::init(crate::logging::level(
        args.log_level.as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    ));
    launch::run(args, live)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_args_become_a_config() {
        let cli = Cli::try_parse_from([
            "fizzflow",
            "run",
            "--rate",
            "0",
            "--beats",
            "7",
            "--inject-panic",
            "worker:9",
        ])
        .expect("parses");
        let Some(Command::Run(args)) = cli.command else {
            panic!("run subcommand")
        };
        let start = crate::config::StartPoint::default();
        let cfg = args.pipeline_config(start, 256, args.target(&start, 256).unwrap());
        assert_eq!(
            (cfg.rate_ms, cfg.beats_target, cfg.worker_batch),
            (0, 7, 256)
        );
        assert_eq!(cfg.panic_every(crate::config::ActorName::Worker), Some(9));
    }

    #[test]
    fn zero_sizes_and_unknown_actors_are_rejected() {
        assert!(Cli::try_parse_from(["fizzflow", "--worker-batch", "0"]).is_err());
        assert!(Cli::try_parse_from(["fizzflow", "--beats", "x"]).is_err());
        assert!(Cli::try_parse_from(["fizzflow", "--inject-panic", "chef:3"]).is_err());
    }
}
