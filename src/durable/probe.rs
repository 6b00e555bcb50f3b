//! Reading a checkpoint file safely. redb answers most damage with an error,
//! but some with a panic, and a destructor that panics again while unwinding
//! aborts the whole process. So the fizzflow binary reads (a copy of) the
//! file in a child process of itself — `fizzflow probe-checkpoint COPY`,
//! hidden — and treats a child that crashed as a damaged file. A child that
//! was killed (Ctrl-C, the OOM killer, a timeout) says nothing about the
//! file: that is "could not check", never "damaged". Without a known
//! fizzflow binary (the library's own unit tests), it reads in-process.
//!
//! The probe bounds what it may use, first thing: an address-space and a
//! CPU-time limit sized from the copy's length (`Limits`). redb sizes some
//! buffers from numbers in the file (a page reference's order: one
//! damaged byte asks for a 4 GiB page), so a damaged file can make a check
//! use more than any healthy file of its size needs; a probe that runs
//! into its own limits gives the verdict "damaged". A wall-clock timeout
//! stays "could not check": a loaded machine is not damage.

use crate::durable::probe_limits::{Limits, impose};
use crate::durable::read::{Inspection, Problem, read_and_exercise};
use crate::util::child::{Finished, WaitError, wait_bounded};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "probe-checkpoint";
/// Exit codes of a probe that could not read the file (message on stderr).
const DAMAGED: i32 = 4;
const IO_FAILED: i32 = 5;
const NEWER: i32 = 6;
/// The probe used the CPU time it allowed itself (its SIGXCPU handler).
pub(crate) const OVER_CPU: i32 = 7;
/// What a Rust panic that escapes `main` exits with.
const PANICKED: i32 = 101;
/// The probe's panic hook writes this line first: an abort that follows it
/// is redb's double panic on a damaged file, an abort without it came from
/// outside (`kill -ABRT`) and says nothing about the file.
const PANIC_MARKER: &str = "fizzflow-probe: redb panicked";
/// A probe of a file of a few hundred KB takes milliseconds; this only
/// guards against a child that hangs.
const LIMIT: Duration = Duration::from_secs(60);
/// Tests only: the probe sleeps this many milliseconds first, so that a
/// test can kill it while it runs.
pub const TEST_DELAY_ENV: &str = "FIZZFLOW_TEST_PROBE_DELAY_MS";
/// Tests only: the probe's CPU-time limit is this many seconds, and it
/// spins until it runs into it, so that a test can see that verdict
/// without a file that makes redb loop.
pub const TEST_SPIN_ENV: &str = "FIZZFLOW_TEST_PROBE_SPIN_SECS";

static PROBE_EXE: OnceLock<PathBuf> = OnceLock::new();

/// Called by the binary's `main`: probes run in children of this executable.
pub fn use_child_processes(exe: PathBuf) {
    let _ = PROBE_EXE.set(exe);
}

/// The executable probes run in, once `main` has named it.
pub fn exe() -> Option<&'static Path> {
    PROBE_EXE.get().map(PathBuf::as_path)
}

pub fn probe(copy: &Path) -> Result<Inspection, Problem> {
    match PROBE_EXE.get() {
        Some(exe) => judge(
            copy,
            match crate::durable::checker::started() {
                // A lock holder never forks: its checker child, started
                // before the lock, does (see checker.rs).
                Some(checker) => checker.check(copy),
                None => check_in_child(exe, copy),
            },
        ),
        None => std::panic::catch_unwind(|| read_and_exercise(copy)).unwrap_or_else(|_| {
            Err(Problem::Damaged(
                "is damaged (redb gave up reading it)".into(),
            ))
        }),
    }
}

/// What became of one probe child.
#[derive(Debug)]
pub enum Checked {
    Ended(Finished),
    /// Still running at the deadline, and killed.
    TimedOut,
    /// It could not be started or waited for.
    Failed(String),
}

/// Starts `exe probe-checkpoint copy` and waits for it, bounded.
pub fn check_in_child(exe: &Path, copy: &Path) -> Checked {
    let mut cmd = Command::new(exe);
    cmd.arg(SUBCOMMAND)
        .arg(copy)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a Ctrl-C meant for fizzflow must not kill
        // the check half-way and make it look like a verdict.
        .process_group(0)
        .env(PARENT_ENV, std::process::id().to_string());
    fork_delay_for_tests(&mut cmd);
    let child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => return Checked::Failed(format!("the checker could not be started ({e})")),
    };
    match wait_bounded(child, LIMIT) {
        Ok(done) => Checked::Ended(done),
        Err(WaitError::TimedOut(_)) => Checked::TimedOut,
        Err(WaitError::Io(e)) => Checked::Failed(format!("the checker failed ({e})")),
    }
}

/// The verdict on a file from what its probe child did.
fn judge(copy: &Path, checked: Checked) -> Result<Inspection, Problem> {
    let done = match checked {
        Checked::Ended(done) => done,
        Checked::TimedOut => {
            return Err(Problem::Io(format!(
                "the check did not finish within {} s (an overloaded machine?)",
                LIMIT.as_secs()
            )));
        }
        Checked::Failed(why) => return Err(Problem::Io(why)),
    };
    let limits = Limits::for_len(std::fs::metadata(copy).map_or(0, |m| m.len()));
    match verdict(done.status, &done.stderr) {
        Verdict::Read => serde_json::from_str(&done.stdout)
            .map_err(|e| Problem::Io(format!("the checker's report is unreadable ({e})"))),
        Verdict::Damaged => Err(Problem::Damaged(done.stderr.trim().to_string())),
        Verdict::Crashed => Err(Problem::Damaged(
            "is damaged (redb crashed reading it)".into(),
        )),
        Verdict::OverMemory => Err(Problem::Damaged(format!(
            "is damaged: checking it needed more memory than a check of a file this size may use ({} MiB; redb sizes some reads from numbers in the file)",
            limits.address_space >> 20
        ))),
        Verdict::OverCpu => Err(Problem::Damaged(format!(
            "is damaged: checking it took more CPU time than a check of a file this size may use ({} s)",
            limits.cpu_secs
        ))),
        Verdict::Machine => Err(Problem::Io(done.stderr.trim().to_string())),
        Verdict::Newer => Err(Problem::Newer(done.stderr.trim().to_string())),
        Verdict::Killed(why) => Err(Problem::Io(format!("the checker {why}"))),
    }
}

/// The PID of the process that started a probe, so that the probe can
/// tell it was orphaned before it could ask to die with its parent.
const PARENT_ENV: &str = "FIZZFLOW_PROBE_PARENT";

/// Tests only: `MILLIS:PATH` makes a new checker child, between fork and
/// exec, create PATH and sleep MILLIS, so that a test can kill its parent
/// in the window where the child is a copy of it.
pub const TEST_FORK_DELAY_ENV: &str = "FIZZFLOW_TEST_FORK_DELAY";

fn fork_delay_for_tests(cmd: &mut Command) {
    let Some((millis, marker)) = std::env::var(TEST_FORK_DELAY_ENV).ok().and_then(|v| {
        let (ms, path) = v.split_once(':')?;
        Some((ms.parse::<u64>().ok()?, std::ffi::CString::new(path).ok()?))
    }) else {
        return;
    };
    // SAFETY: the closure runs in the forked child and calls only open,
    // close and nanosleep, which are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(marker.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o600);
            if fd >= 0 {
                libc::close(fd);
            }
            let pause = libc::timespec {
                tv_sec: (millis / 1000) as libc::time_t,
                tv_nsec: ((millis % 1000) * 1_000_000) as libc::c_long,
            };
            libc::nanosleep(&pause, std::ptr::null_mut());
            Ok(())
        });
    }
}

#[derive(Debug, PartialEq)]
enum Verdict {
    Read,
    Damaged,
    /// A panic or a crash while reading: the file made redb give up.
    Crashed,
    /// It ran out of the memory it allowed itself: the file made redb ask
    /// for more than any healthy file of its size needs.
    OverMemory,
    /// It used the CPU time it allowed itself.
    OverCpu,
    Machine,
    Newer,
    /// Stopped from outside, or it ended in a way that says nothing.
    Killed(String),
}

fn verdict(status: ExitStatus, stderr: &str) -> Verdict {
    use crate::util::alloc::{INHERITED_LIMIT_MARKER, OWN_LIMIT_MARKER};
    let panicked = stderr.contains(PANIC_MARKER);
    match (status.code(), status.signal()) {
        (Some(0), _) => Verdict::Read,
        (Some(DAMAGED), _) => Verdict::Damaged,
        (Some(IO_FAILED), _) => Verdict::Machine,
        (Some(NEWER), _) => Verdict::Newer,
        (Some(PANICKED), _) => Verdict::Crashed,
        (Some(OVER_CPU), _) => Verdict::OverCpu,
        (None, Some(libc::SIGABRT)) if panicked => Verdict::Crashed,
        // A failed allocation aborts; the allocator said first whose limit
        // it failed under.
        (None, Some(libc::SIGABRT)) if stderr.contains(OWN_LIMIT_MARKER) => Verdict::OverMemory,
        (None, Some(libc::SIGABRT)) if stderr.contains(INHERITED_LIMIT_MARKER) => {
            Verdict::Killed(
                "ran out of memory under the address-space limit fizzflow was started with (ulimit -v), which is below what a check of this file may need".into(),
            )
        }
        (None, Some(libc::SIGSEGV | libc::SIGBUS | libc::SIGILL | libc::SIGFPE)) => {
            Verdict::Crashed
        }
        (None, Some(libc::SIGKILL)) => {
            Verdict::Killed("was killed (SIGKILL: out of memory?)".into())
        }
        (None, Some(sig)) => Verdict::Killed(format!("was stopped by signal {sig}")),
        (Some(code), _) => Verdict::Killed(format!("exited with an unexpected code {code}")),
        (None, None) => Verdict::Killed("ended without a status".into()),
    }
}

/// The child's side: read `copy`, print the inspection as JSON.
pub fn run_probe(copy: &Path) -> i32 {
    // First of all: an orphaned probe dies with its parent (the thread
    // that started it, which waits for it), and the check is bounded.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    // A parent that died before that line sent no signal: the probe has
    // been handed to another process, and nobody waits for its verdict.
    let parent = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok());
    // SAFETY: getppid has no preconditions.
    if parent.is_some_and(|p| p != unsafe { libc::getppid() }) {
        return IO_FAILED;
    }
    let spin = std::env::var(TEST_SPIN_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok());
    let mut limits = Limits::for_len(std::fs::metadata(copy).map_or(0, |m| m.len()));
    if let Some(secs) = spin {
        limits.cpu_secs = secs;
    }
    impose(limits);
    // A panic here is the answer "damaged"; the parent says so, not us.
    // The marker is written before any unwinding, so it is there even when
    // a second panic aborts the process.
    std::panic::set_hook(Box::new(|_| {
        let _ = crate::util::output::stderr_now(PANIC_MARKER);
    }));
    if let Some(ms) = std::env::var(TEST_DELAY_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
    {
        std::thread::sleep(Duration::from_millis(ms));
    }
    if spin.is_some() {
        let mut n = 0u64;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }
    let (code, text, to_stdout) = match read_and_exercise(copy) {
        Ok(seen) => match serde_json::to_string(&seen) {
            Ok(json) => (0, json, true),
            Err(e) => (
                IO_FAILED,
                format!("cannot report what was read: {e}"),
                false,
            ),
        },
        Err(Problem::Damaged(why)) => (DAMAGED, why, false),
        Err(Problem::Io(why)) => (IO_FAILED, why, false),
        Err(Problem::Newer(why)) => (NEWER, why, false),
    };
    let written = if to_stdout {
        crate::util::output::stdout_line(&text)
    } else {
        crate::util::output::stderr_now(&text)
    };
    if written.is_err() { IO_FAILED } else { code }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_crash_is_damage_and_a_kill_is_not() {
        let by_signal = |sig: i32| ExitStatus::from_raw(sig);
        let by_code = |code: i32| ExitStatus::from_raw(code << 8);
        assert_eq!(verdict(by_code(0), ""), Verdict::Read);
        assert_eq!(verdict(by_code(DAMAGED), ""), Verdict::Damaged);
        assert_eq!(verdict(by_code(PANICKED), ""), Verdict::Crashed);
        assert_eq!(
            verdict(by_signal(libc::SIGABRT), &format!("{PANIC_MARKER}\n")),
            Verdict::Crashed
        );
        assert_eq!(verdict(by_signal(libc::SIGSEGV), ""), Verdict::Crashed);
        // `kill -ABRT` from outside, with no panic before it.
        assert!(matches!(
            verdict(by_signal(libc::SIGABRT), ""),
            Verdict::Killed(_)
        ));
        for sig in [libc::SIGKILL, libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
            assert!(
                matches!(verdict(by_signal(sig), ""), Verdict::Killed(_)),
                "signal {sig}"
            );
        }
        assert!(matches!(verdict(by_code(137), ""), Verdict::Killed(_)));
    }

    #[test]
    fn only_the_probes_own_limits_are_damage() {
        use crate::util::alloc::{INHERITED_LIMIT_MARKER, OWN_LIMIT_MARKER};
        let by_signal = |sig: i32| ExitStatus::from_raw(sig);
        let abort = by_signal(libc::SIGABRT);
        let line = |m: &str| format!("\n{m}\nmemory allocation of 4294967296 bytes failed\n");
        assert_eq!(verdict(abort, &line(OWN_LIMIT_MARKER)), Verdict::OverMemory);
        assert!(matches!(
            verdict(abort, &line(INHERITED_LIMIT_MARKER)),
            Verdict::Killed(_)
        ));
        assert_eq!(
            verdict(ExitStatus::from_raw(OVER_CPU << 8), ""),
            Verdict::OverCpu
        );
        // SIGXCPU as a signal: sent from outside, or a limit the probe was
        // started with (its handler only answers its own).
        assert!(matches!(
            verdict(by_signal(libc::SIGXCPU), ""),
            Verdict::Killed(_)
        ));
    }
}
