//! Reading a checkpoint file safely. redb answers most damage with an error,
//! but some with a panic, and a destructor that panics again while unwinding
//! aborts the whole process. So the fizzflow binary reads (a copy of) the
//! file in a child process of itself — `fizzflow probe-checkpoint COPY`,
//! hidden — and treats a crashed child as a damaged file. Without a known
//! fizzflow binary (the library's own unit tests), it reads in-process.

use crate::store::{Inspection, Problem, read_and_exercise};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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
    let mut child = Command::new(exe)
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
    let mut out = child.stdout.take().expect("piped stdout");
    let mut err = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + LIMIT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                let why = format!("is damaged (reading it did not finish within {LIMIT:?})");
                return Err(Problem::Damaged(why));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(e) => return Err(Problem::Io(format!("cannot be checked: {e}"))),
        }
    };
    let (out, err) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    match status.code() {
        Some(0) => serde_json::from_slice(&out)
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
