//! The flags of `fizzflow run` (also what `fizzflow` alone takes).

use crate::cli::state_dir::StateDirArg;
use crate::cli::values;
use crate::durable::store::AbortAt;
use crate::observe::status::ProgressMode;
use crate::pipeline::config::{DelaySpec, PanicSpec};
use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory};
use std::net::SocketAddr;

/// Which flags were given on the command line (not left at their default):
/// only those can conflict with a stored run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Given {
    pub beats: bool,
    pub generator_batch: bool,
    pub worker_batch: bool,
    pub logger_batch: bool,
    pub channel_capacity: bool,
}

#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    /// Milliseconds between beats, or a time with its unit (1s, 250ms); 0 runs
    /// unpaced, as fast as the machine allows
    #[arg(long, value_name = "MS", default_value_t = 2, value_parser = values::millis, allow_negative_numbers = true)]
    pub rate: u64,

    /// Number of beats to run (one beat = 32 × worker-batch messages)
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = values::positive, allow_negative_numbers = true)]
    pub beats: u64,

    /// Values the generator writes per batch
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = values::positive, allow_negative_numbers = true)]
    pub generator_batch: u64,

    /// Messages the worker moves per beat signal (one credit)
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = values::positive, allow_negative_numbers = true)]
    pub worker_batch: u64,

    /// Messages the logger verifies per batch
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = values::positive, allow_negative_numbers = true)]
    pub logger_batch: u64,

    /// Slots in each channel (every batch must fit)
    #[arg(long, value_name = "N", default_value_t = 8192, value_parser = values::capacity, allow_negative_numbers = true)]
    pub channel_capacity: u64,

    #[command(flatten)]
    pub state: StateDirArg,

    /// Milliseconds between checkpoints, or a time with its unit (5s, 1m); 0 =
    /// only at the start and the end
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = values::millis, allow_negative_numbers = true)]
    pub checkpoint_interval: u64,

    /// Checkpoints kept in the history table
    #[arg(long, value_name = "K", default_value_t = 64, value_parser = values::history, allow_negative_numbers = true)]
    pub checkpoint_history: u64,

    /// How much to log on stderr [default: RUST_LOG, else warn]
    #[arg(long, value_name = "LEVEL", value_parser = ["off", "error", "warn", "info", "debug", "trace"])]
    pub log_level: Option<String>,

    /// Turn off steady_state's telemetry server (/metrics, /graph.dot)
    #[arg(long)]
    pub no_telemetry: bool,

    /// Where the telemetry server listens (loopback unless you say otherwise)
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:9900", value_parser = crate::cli::words::socket_addr)]
    pub telemetry_addr: SocketAddr,

    /// Print the final summary as one JSON object on stdout
    #[arg(long)]
    pub json: bool,

    /// Progress on stderr: on a terminal a bar (percentage, ETA, rate) and
    /// a line of details; otherwise one plain line a second, for logs
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ProgressMode::One)]
    pub progress: ProgressMode,

    /// Same as --progress off
    #[arg(long, hide = true)]
    pub no_progress: bool,

    /// Where fizzflow's own Prometheus metrics (/metrics) and the live
    /// graph page (/) are served: IP:PORT or HOST:PORT; port 0 picks a free
    /// port (printed at start). Named here, it must be free
    #[arg(long, value_name = "IP:PORT", default_value = "127.0.0.1:9901", value_parser = crate::cli::words::socket_addr)]
    pub metrics_addr: SocketAddr,

    /// Do not serve fizzflow's metrics
    #[arg(long)]
    pub no_metrics: bool,

    /// Keep serving metrics this long after the run ends (for a last scrape)
    #[arg(long, value_name = "MS", default_value_t = 0, hide = true)]
    pub metrics_linger: u64,

    /// Fault injection for tests: panic in ACTOR once every N units it handles
    #[arg(long, value_name = "ACTOR:N", hide = true, value_parser = crate::cli::values::panic_spec)]
    pub inject_panic: Vec<PanicSpec>,

    /// Fault injection for tests: ACTOR (or checkpoint) sleeps MICROS per batch
    #[arg(long, value_name = "ACTOR:MICROS", hide = true, value_parser = crate::cli::values::delay_spec)]
    pub inject_delay: Vec<DelaySpec>,

    /// Seconds between the backups a long run keeps (tests use less)
    #[arg(long, value_name = "SECS", default_value_t = 60, hide = true, value_parser = crate::cli::words::positive)]
    pub backup_every: u64,

    /// Bench only: every stage moves one message per channel operation
    #[arg(long, hide = true)]
    pub single_item: bool,

    /// Fault injection for tests: abort inside this launch's N-th checkpoint
    /// commit (1 = the launch record), after the data is written
    #[arg(long, value_name = "checkpoint:N|upgrade", hide = true, value_parser = parse_abort)]
    pub inject_abort: Option<AbortAt>,

    /// Which flags were given on the command line (filled in after parsing).
    #[arg(skip)]
    pub given: Given,

    /// Whether --metrics-addr was given (filled in after parsing).
    #[arg(skip)]
    pub metrics_addr_given: bool,

    /// Whether --telemetry-addr was given (filled in after parsing).
    #[arg(skip)]
    pub telemetry_addr_given: bool,

    /// Which of the pods' link flags were given (filled in after parsing):
    /// any, and --aeron-dir.
    #[arg(skip)]
    pub link_given: (bool, bool),

    /// The flags given on the command line, as typed (filled in after
    /// parsing), for the launch history.
    #[arg(skip)]
    pub flags: Vec<String>,

    /// Run as two processes over Aeron: a media driver, a source pod and a
    /// sink pod (this one's state dir, flags and summary); needs a build
    /// with --features pods
    #[arg(long)]
    pub pods: bool,

    #[command(flatten)]
    pub link: crate::cli::pod::LinkArgs,
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
    pub(super) fn note_given(&mut self, m: &ArgMatches) {
        let given = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
        self.given = Given {
            beats: given("beats"),
            generator_batch: given("generator_batch"),
            worker_batch: given("worker_batch"),
            logger_batch: given("logger_batch"),
            channel_capacity: given("channel_capacity"),
        };
        self.telemetry_addr_given = given("telemetry_addr");
        self.metrics_addr_given = given("metrics_addr");
        self.link_given = (
            ["channel", "control", "stream_id", "aeron_dir"]
                .into_iter()
                .any(given),
            given("aeron_dir"),
        );
        // The state dir is where the history lives, not part of it.
        let run = crate::cli::Cli::command();
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
