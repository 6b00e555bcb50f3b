//! Reading a checkpoint file safely. redb answers most damage with an error,
//! but some with a panic, and a destructor that panics again while unwinding
//! aborts the whole process. So the fizzflow binary reads (a copy of) the
//! file in a child process of itself — `fizzflow probe-checkpoint COPY`,
//! hidden — and treats a crashed child as a damaged file. Without a known
//! fizzflow binary (the library's own unit tests), it reads in-process.

use crate::child::{WaitError, wait_bounded};
use crate::store::{Inspection, Problem, read_and_exercise};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "probe-checkpoint";
/// Exit codes of a probe that could not read the file (message on stderr).
const DAMAGED: i32 = 4;
const IO_FAILED: i32 = 5;
/// A probe of a file of a few hundred KB takes milliseconds; this only
/// guards against a child that hangs on a damaged file.
const LIMIT: Duration = Duration::from_secs(60);

static PROBE_EXE: OnceLock<PathBuf> = OnceLock::new();

/// Called by the binary's `main`: probes run in children of this executable.
pub fn use_child_processes(exe: PathBuf) {
    let _ = PROBE_EXE.set(exe);
}

pub fn probe(copy: &Path) -> Result<Inspection, Problem> {
    match PROBE_EXE.get() {
        Some(exe) => probe_in_child(exe, copy),
        None => std::panic::catch_unwind(|| read_and_exercise(copy)).unwrap_or_else(|_| {
            Err(Problem::Damaged(
                "is damaged (redb gave up reading it)".into(),
            ))
        }),
    }
}

fn probe_in_child(exe: &Path, copy: &Path) -> Result<Inspection, Problem> {
    let child = Command::new(exe)
        .arg(SUBCOMMAND)
        .arg(copy)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            Problem::Io(format!(
                "cannot be checked (cannot start {}: {e})",
                exe.display()
            ))
        })?;
    let done = match wait_bounded(child, LIMIT) {
        Ok(done) => done,
        Err(WaitError::TimedOut(_)) => {
            return Err(Problem::Damaged(format!(
                "is damaged (reading it did not finish within {LIMIT:?})"
            )));
        }
        Err(WaitError::Io(e)) => return Err(Problem::Io(format!("cannot be checked: {e}"))),
    };
    let (status, out, err) = (done.status, done.stdout, done.stderr);
    match status.code() {
        Some(0) => serde_json::from_str(&out)
            .map_err(|e| Problem::Io(format!("cannot be checked (probe output: {e})"))),
        Some(DAMAGED) => Err(Problem::Damaged(err.trim().to_string())),
        Some(IO_FAILED) => Err(Problem::Io(err.trim().to_string())),
        _ => Err(Problem::Damaged(
            "is damaged (redb crashed reading it)".into(),
        )),
    }
}

/// The child's side: read `copy`, print the inspection as JSON.
pub fn run_probe(copy: &Path) -> i32 {
    // A panic here is the answer "damaged"; the parent says so, not us.
    std::panic::set_hook(Box::new(|_| {}));
    match read_and_exercise(copy) {
        Ok(seen) => {
            println!(
                "{}",
                serde_json::to_string(&seen).expect("inspection serializes")
            );
            0
        }
        Err(Problem::Damaged(why)) => {
            eprintln!("{why}");
            DAMAGED
        }
        Err(Problem::Io(why)) => {
            eprintln!("{why}");
            IO_FAILED
        }
    }
}
