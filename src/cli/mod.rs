//! The command line: clap's parsing, the dispatch to one file per
//! subcommand (run.rs, stats.rs, recover.rs, torture.rs, bench.rs; the work
//! of torture and bench is in `proving`), and the exit codes, decided in
//! one place (error.rs). Flags become validated values here (values.rs,
//! words.rs), so no layer below knows a flag's name.

mod aeron_dir;
mod bench;
mod crew;
mod docs;
mod driver;
mod error;
mod launches;
mod pod;
mod pods_run;
mod recover;
mod resume;
mod run;
mod run_args;
mod signals;
mod state_dir;
mod stats;
mod summary;
mod telemetry_dir;
mod torture;
mod values;
mod words;

pub(crate) use run_args::RunArgs;
pub(crate) use stats::StatsArgs;

use crate::cli::error::Error;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

const ABOUT: &str = "A fast, exact FizzBuzz actor pipeline on steady_state, with crash-safe totals";

const LONG_ABOUT: &str = "\
A fast, exact FizzBuzz actor pipeline on steady_state, with crash-safe totals.

Heartbeat and Generator share one thread; Worker, Logger and Checkpoint have
one each (paced, Worker and Logger share the first). Every beat is 32
signals, each a credit for one worker batch, so a run moves exactly
beats × 32 × worker-batch messages. The logger verifies
every one (value in sequence, kind correct). The checkpoint actor commits
consistent cuts to <state-dir>/checkpoints.redb, and the next run resumes
them exactly: nothing lost, nothing counted twice (`fizzflow stats` shows
them).

Ctrl-C, SIGTERM or SIGHUP stops the heartbeat; beats already sent
drain, a final checkpoint is written, the summary is printed and the exit
code is 0. A second signal exits at once (exit code 130).

Exit codes: 0 done; 1 failed (the reason is printed); 2 bad flags; 3 the
state dir is in use by another fizzflow; 4 the state dir or its checkpoint
file cannot be used (a checkpoint file is then left exactly as it was; if
it is damaged, `fizzflow recover` restores a verified backup); 5 a pod
found no media driver or lost it (start the driver and the pod again).";

/// Examples under `fizzflow --help` and `fizzflow run --help`.
pub(crate) const RUN_EXAMPLES: &str = "\
Examples:
  fizzflow                                 5,000 beats at 2 ms (about 10 s), or resume the last run
  fizzflow --rate 0 --beats 250000         unpaced, as fast as it goes: about 2 G messages
  fizzflow --beats 100 --json              100 more beats; the summary as JSON on stdout
  fizzflow --state-dir /tmp/demo           another state dir (or set FIZZFLOW_STATE_DIR)
  fizzflow stats                           what the state dir holds

Resume and continue:
  A state dir keeps its run. If the last run did not finish (killed, out of
  disk, stopped by a signal), `fizzflow` resumes it toward its stored target
  with its stored batch settings. Flags left at their defaults resume
  silently; a batch flag or --beats that contradicts the stored run is
  refused (exit 2) with what to do, and the command that started the run is
  accepted as it is. If the last run finished, `fizzflow --beats N` runs N
  more beats on top. The worker batch is fixed for the life of a state dir.
  Lifetime totals always accumulate, exactly: nothing lost, nothing counted
  twice.";

const STATS_EXAMPLES: &str = "\
Examples:
  fizzflow stats                           the totals, as a table
  fizzflow stats --json | jq .messages     the same as one JSON object
  fizzflow stats --history                 the kept checkpoints, with msgs/s
  fizzflow stats --launches                every launch: when, how it ended, what it added
  fizzflow stats --state-dir /tmp/demo     another state dir

stats reads a private copy of the file: it works while a run holds the dir,
and never changes anything.";

const RECOVER_EXAMPLES: &str = "\
Examples:
  fizzflow recover --list                  the verified backups, each checked again
  fizzflow recover                         restore the newest backup that passes its check
  fizzflow recover --from 12               restore the backup of launch 12
  fizzflow recover --state-dir /tmp/demo   another state dir

Each launch that opens an existing checkpoint file keeps the bytes it just
checked as a backup (the newest 3, in <state-dir>/backups). recover takes the
state dir's lock, checks the backup again, keeps the damaged file (renamed,
never deleted) and puts the backup in its place in one atomic rename. The
next run redoes the work since the backup, exactly.";

const TORTURE_EXAMPLES: &str = "\
Examples:
  fizzflow torture                         500 cycles of faults on a scratch state dir
  fizzflow torture --cycles 50 --seed 7    a short one, on a schedule you can replay
  fizzflow torture --state-dir /tmp/t      keep the tortured state dir to inspect after

Exit 0 only if every invariant held after every fault.";

const BENCH_EXAMPLES: &str = "\
Examples:
  fizzflow bench                           every configuration, 9 rounds (about 3 min)
  fizzflow bench --only plain-threads --paced-beats 0    the required targets only
  fizzflow bench --reference ../shared/reference/target/release/performant

Run it on a quiet machine: ratios from one invocation are what compare.";

const DRIVER_ABOUT: &str = "\
Run an Aeron media driver in the foreground, for the pods to talk through.

The driver is Aeron's own C media driver, compiled into fizzflow by the
cargo feature `pods` (cargo build --release --features pods); without it
this command says how to build it and exits 2.

It serves one directory (its CnC file and log buffers, in memory under
/dev/shm) until Ctrl-C or SIGTERM, then stops and removes that directory
(exit 0). A directory where a live driver runs is refused (exit 3): a
driver counts as live while the heartbeat in its CnC file moves. A dead
driver's files are cleared; a directory holding anything a driver does not
write, a symlink or a file is refused (exit 4).

Settings: a dead driver's dir is taken over, and a dead client's streams
released, after 3 s of silence (Aeron's default: 10 s); UDP socket buffers
and the initial receive window are 4 MiB, IPC terms 4 MiB. An AERON_*
variable set in the environment wins (AERON_DRIVER_TIMEOUT,
AERON_CLIENT_LIVENESS_TIMEOUT, AERON_SOCKET_SO_RCVBUF,
AERON_SOCKET_SO_SNDBUF, AERON_RCV_INITIAL_WINDOW_LENGTH,
AERON_IPC_TERM_BUFFER_LENGTH, and any other the C driver reads).";

const DRIVER_EXAMPLES: &str = "\
Examples:
  fizzflow driver                          serve Aeron's default dir, /dev/shm/aeron-<user>
  fizzflow driver --aeron-dir /dev/shm/ff  another dir (or set AERON_DIR); the pods name the same";

#[derive(Parser, Debug)]
#[command(name = "fizzflow", version, about = ABOUT, long_about = LONG_ABOUT, after_help = RUN_EXAMPLES)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Run the pipeline (also what `fizzflow` alone does)
    #[command(after_help = RUN_EXAMPLES)]
    Run(Box<RunArgs>),
    /// Show the totals in a state dir's checkpoint file without running anything
    #[command(after_help = STATS_EXAMPLES)]
    Stats(StatsArgs),
    /// Restore a damaged checkpoint file from a verified backup
    #[command(after_help = RECOVER_EXAMPLES)]
    Recover(recover::RecoverArgs),
    /// Measure configurations side by side (ratios from one invocation)
    #[command(after_help = BENCH_EXAMPLES)]
    Bench(bench::BenchArgs),
    /// Inject hundreds of faults into runs on one state dir and check that
    /// no total is ever lost or counted twice
    #[command(after_help = TORTURE_EXAMPLES)]
    Torture(torture::TortureArgs),
    /// One of the two processes of a pipeline split over Aeron (the sink
    /// owns the run; the source generates)
    #[command(subcommand)]
    Pod(pod::PodCommand),
    /// Run an Aeron media driver in the foreground, for the pods to talk
    /// through (needs a build with --features pods)
    #[command(long_about = DRIVER_ABOUT, after_help = DRIVER_EXAMPLES)]
    Driver(driver::DriverArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish,
    /// powershell) to stdout
    #[command(after_help = docs::COMPLETIONS_EXAMPLES)]
    Completions(docs::CompletionsArgs),
    /// Print the man page (roff) to stdout
    #[command(after_help = docs::MAN_EXAMPLES)]
    Man,
}

/// Parses the command line, noting which run flags were given explicitly;
/// or the exit code of a command line that asked for help (0, or 1 when
/// the help could not be written) or was wrong (2).
fn parse() -> Result<Cli, i32> {
    let matches = Cli::command().try_get_matches().map_err(answered)?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(answered)?;
    match &mut cli.command {
        Some(Command::Run(args)) => {
            if let Some(m) = matches.subcommand_matches("run") {
                args.note_given(m);
            }
        }
        Some(Command::Pod(pod::PodCommand::Sink(args))) => {
            if let Some(m) = matches
                .subcommand_matches("pod")
                .and_then(|m| m.subcommand_matches("sink"))
            {
                args.note_given(m);
            }
        }
        None => cli.run.note_given(&matches),
        _ => {}
    }
    Ok(cli)
}

/// Prints clap's answer (help, version or a usage error) and gives its exit
/// code; help that cannot be written (a closed pipe, a full disk) is a
/// failure, not a silent success.
fn answered(e: clap::Error) -> i32 {
    use std::io::Write;
    if e.use_stderr() {
        // One error style everywhere: clap's "error: …" as fizzflow's own
        // "fizzflow: error: …", the usage after it as clap gives it.
        let text = e.render().to_string();
        let text = match text.strip_prefix("error: ") {
            Some(rest) => format!("fizzflow: error: {rest}"),
            None => text,
        };
        let _ = crate::util::output::stderr_now(text.trim_end());
        return e.exit_code();
    }
    match e.print().and_then(|()| std::io::stdout().flush()) {
        Ok(()) => e.exit_code(),
        Err(io) => {
            crate::util::output::note(&format!("error: cannot write to stdout: {io}"));
            1
        }
    }
}

/// Everything `main` does; returns the process exit code once everything
/// it said is written.
pub fn main() -> i32 {
    let code = dispatch();
    crate::util::output::flush();
    code
}

fn dispatch() -> i32 {
    // Past a file-size limit the kernel would kill us with SIGXFSZ; ignored,
    // the write fails with EFBIG instead and we can say what happened.
    // SAFETY: setting a signal to SIG_IGN before any thread exists.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args
        .get(1)
        .is_some_and(|a| a == crate::durable::probe::SUBCOMMAND)
    {
        // Internal: not part of the command line people use.
        return match args.get(2) {
            Some(copy) => crate::durable::probe::run_probe(std::path::Path::new(copy)),
            None => 2,
        };
    }
    if let Ok(exe) = std::env::current_exe() {
        crate::durable::probe::use_child_processes(exe);
    }
    if args
        .get(1)
        .is_some_and(|a| a == crate::durable::checker::SUBCOMMAND)
    {
        return crate::durable::checker::run_checker(args.get(2).map(|a| a.as_os_str()));
    }
    let cli = match parse() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match &cli.command {
        Some(Command::Run(args)) => run::telemetry_env(args),
        Some(Command::Pod(pod::PodCommand::Sink(args))) => run::telemetry_env(args),
        None => run::telemetry_env(&cli.run),
        _ => {}
    }
    // Usage errors a command finds itself show that command's usage line.
    let sub: &[&str] = match &cli.command {
        Some(Command::Run(_)) => &["run"],
        Some(Command::Stats(_)) => &["stats"],
        Some(Command::Recover(_)) => &["recover"],
        Some(Command::Bench(_)) => &["bench"],
        Some(Command::Torture(_)) => &["torture"],
        Some(Command::Pod(pod::PodCommand::Sink(_))) => &["pod", "sink"],
        Some(Command::Pod(pod::PodCommand::Source(_))) => &["pod", "source"],
        Some(Command::Driver(_)) => &["driver"],
        Some(Command::Completions(_)) => &["completions"],
        Some(Command::Man) => &["man"],
        None => &[],
    };
    let result = match cli.command {
        Some(Command::Run(args)) => run::command(&args),
        Some(Command::Stats(args)) => stats::command(&args),
        Some(Command::Recover(args)) => recover::command(&args),
        Some(Command::Bench(args)) => bench::command(&args),
        Some(Command::Torture(args)) => torture::command(&args),
        Some(Command::Pod(pod::PodCommand::Sink(args))) => pod::sink(&args),
        Some(Command::Pod(pod::PodCommand::Source(args))) => pod::source(&args),
        Some(Command::Driver(args)) => driver::command(&args),
        Some(Command::Completions(args)) => docs::completions(&args, Cli::command()),
        Some(Command::Man) => docs::man(Cli::command()),
        None => run::command(&cli.run),
    };
    match result {
        Ok(()) => 0,
        Err(Error::Usage(msg)) => {
            // Same look and exit code (2) as clap's own errors, after
            // everything said before it.
            let mut top = Cli::command();
            top.build();
            let mut cmd = top.clone();
            for name in sub {
                match cmd.find_subcommand(name) {
                    Some(found) => cmd = found.clone(),
                    None => break,
                }
            }
            crate::util::output::flush();
            // Printed after "fizzflow: error: ", unwrapped: fitted here.
            let out = crate::util::output::Stream::Stderr;
            let fitted = crate::util::output::fit_to(out, &format!("fizzflow: error: {msg}"));
            let msg = fitted
                .strip_prefix("fizzflow: error: ")
                .unwrap_or(&fitted)
                .to_string();
            answered(cmd.error(clap::error::ErrorKind::ValueValidation, msg))
        }
        Err(e) => {
            crate::util::output::note(&format!("error: {e}"));
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn zero_sizes_and_unknown_actors_are_rejected() {
        assert!(Cli::try_parse_from(["fizzflow", "--worker-batch", "0"]).is_err());
        assert!(Cli::try_parse_from(["fizzflow", "--beats", "x"]).is_err());
        assert!(Cli::try_parse_from(["fizzflow", "--inject-panic", "chef:3"]).is_err());
    }

    #[test]
    fn millisecond_flags_take_a_unit_too() {
        let run = |argv: &[&str]| match Cli::try_parse_from(argv).map(|c| c.command) {
            Ok(Some(Command::Run(a))) => Ok((a.rate, a.checkpoint_interval)),
            Ok(_) => panic!("run subcommand"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(run(&["fizzflow", "run"]), Ok((2, 1000)));
        assert_eq!(
            run(&[
                "fizzflow",
                "run",
                "--rate",
                "5",
                "--checkpoint-interval",
                "250"
            ]),
            Ok((5, 250))
        );
        assert_eq!(
            run(&[
                "fizzflow",
                "run",
                "--rate",
                "1s",
                "--checkpoint-interval",
                "1m 30s"
            ]),
            Ok((1000, 90_000))
        );
        let err = run(&["fizzflow", "run", "--rate", "1500us"]).unwrap_err();
        assert!(err.contains("whole milliseconds"), "{err}");
    }
}
