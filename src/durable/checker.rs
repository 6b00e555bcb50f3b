//! The checker process: the one child a command that locks a state dir
//! starts, before it takes the lock, and through which it starts every
//! probe child afterwards.
//!
//! Why: the lock is an flock on the state dir's descriptor, and a forked
//! child shares that descriptor until it execs. A fizzflow SIGKILLed in
//! that window left the child holding the lock for as long as it took to
//! reach its exec (on a loaded machine, a large fraction of a second), and
//! the next start was refused with exit 3 naming a dead PID. A process
//! started before the lock never had the descriptor, so neither do the
//! probes it forks. It dies with its parent (PR_SET_PDEATHSIG), and so does
//! each probe (see probe.rs).
//!
//! The protocol, over the checker's stdin and stdout: a request is a path
//! (u32 length, little-endian, then its bytes); the answer is what became
//! of the probe of that path (one tag byte, then the exit status and both
//! outputs, or a message). End of input ends the checker.

use crate::durable::probe::{Checked, check_in_child};
use crate::util::child::Finished;
use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The hidden subcommand the checker runs: `probe-checker PARENT_PID`.
pub const SUBCOMMAND: &str = "probe-checker";
/// Beyond the probe's own limit, which the checker enforces.
const ANSWER_LIMIT: Duration = Duration::from_secs(90);

const ENDED: u8 = 0;
const TIMED_OUT: u8 = 1;
const FAILED: u8 = 2;

/// The parent's side of a running checker.
pub struct Checker {
    link: Mutex<Option<Link>>,
}

struct Link {
    child: Child,
    to: ChildStdin,
    from: ChildStdout,
}

static STARTED: OnceLock<Checker> = OnceLock::new();

/// Starts the checker; call before taking a state dir's lock. Without a
/// fizzflow executable (the library's unit tests) probes run in-process
/// and there is nothing to start.
pub fn start() -> std::io::Result<()> {
    let Some(exe) = crate::durable::probe::exe() else {
        return Ok(());
    };
    if STARTED.get().is_some() {
        return Ok(());
    }
    let mut child = Command::new(exe)
        .arg(SUBCOMMAND)
        .arg(std::process::id().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        // Not in our process group: a Ctrl-C for us must not end it.
        .process_group(0)
        .spawn()?;
    let (to, from) = (child.stdin.take(), child.stdout.take());
    let (Some(to), Some(from)) = (to, from) else {
        let _ = child.kill();
        return Err(std::io::Error::other("the checker's pipes are missing"));
    };
    let _ = STARTED.set(Checker {
        link: Mutex::new(Some(Link { child, to, from })),
    });
    Ok(())
}

/// The checker, if this process started one.
pub fn started() -> Option<&'static Checker> {
    STARTED.get()
}

impl Checker {
    /// Has the checker probe `copy` and says what became of the probe. A
    /// checker that is gone or does not answer is not started again (it
    /// would fork from a lock holder): every later check fails.
    pub fn check(&self, copy: &Path) -> Checked {
        let mut link = match self.link.lock() {
            Ok(link) => link,
            Err(poisoned) => poisoned.into_inner(),
        };
        let Some(l) = link.as_mut() else {
            return Checked::Failed("the checker process is gone".into());
        };
        match ask(l, copy) {
            Ok(answer) => answer,
            Err(e) => {
                if let Some(mut gone) = link.take() {
                    let _ = gone.child.kill();
                    let _ = gone.child.wait();
                }
                Checked::Failed(format!("the checker process failed ({e})"))
            }
        }
    }
}

fn ask(link: &mut Link, copy: &Path) -> std::io::Result<Checked> {
    let path = copy.as_os_str().as_bytes();
    let len = u32::try_from(path.len()).map_err(|_| ErrorKind::InvalidInput)?;
    let mut request = len.to_le_bytes().to_vec();
    request.extend_from_slice(path);
    link.to.write_all(&request)?;
    link.to.flush()?;
    let deadline = Instant::now() + ANSWER_LIMIT;
    let mut reader = Bounded {
        from: &mut link.from,
        deadline,
    };
    read_answer(&mut reader)
}

/// Reads from the checker's stdout, giving up at a deadline.
struct Bounded<'a> {
    from: &'a mut ChildStdout,
    deadline: Instant,
}

impl Read for Bounded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd {
            fd: self.from.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let millis = left.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one pollfd that lives across the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, millis) };
        match ready {
            0 => Err(std::io::Error::new(
                ErrorKind::TimedOut,
                "no answer within the time limit",
            )),
            r if r < 0 => Err(std::io::Error::last_os_error()),
            _ => self.from.read(buf),
        }
    }
}

fn read_answer(from: &mut impl Read) -> std::io::Result<Checked> {
    let mut tag = [0u8; 1];
    from.read_exact(&mut tag)?;
    match tag[0] {
        ENDED => {
            let mut raw = [0u8; 4];
            from.read_exact(&mut raw)?;
            let status = ExitStatus::from_raw(i32::from_le_bytes(raw));
            let stdout = read_text(from)?;
            let stderr = read_text(from)?;
            Ok(Checked::Ended(Finished {
                status,
                stdout,
                stderr,
            }))
        }
        TIMED_OUT => Ok(Checked::TimedOut),
        FAILED => Ok(Checked::Failed(read_text(from)?)),
        other => Err(std::io::Error::new(
            ErrorKind::InvalidData,
            format!("unknown answer {other}"),
        )),
    }
}

fn read_text(from: &mut impl Read) -> std::io::Result<String> {
    let mut len = [0u8; 4];
    from.read_exact(&mut len)?;
    let mut bytes = vec![0u8; u32::from_le_bytes(len) as usize];
    from.read_exact(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn write_text(to: &mut impl Write, text: &str) -> std::io::Result<()> {
    // Probe output is a report of a few hundred KB at most; longer is cut.
    let bytes = &text.as_bytes()[..text.len().min(u32::MAX as usize)];
    to.write_all(&(bytes.len() as u32).to_le_bytes())?;
    to.write_all(bytes)
}

fn write_answer(to: &mut impl Write, checked: &Checked) -> std::io::Result<()> {
    match checked {
        Checked::Ended(done) => {
            to.write_all(&[ENDED])?;
            to.write_all(&done.status.into_raw().to_le_bytes())?;
            write_text(to, &done.stdout)?;
            write_text(to, &done.stderr)?;
        }
        Checked::TimedOut => to.write_all(&[TIMED_OUT])?,
        Checked::Failed(why) => {
            to.write_all(&[FAILED])?;
            write_text(to, why)?;
        }
    }
    to.flush()
}

/// The checker's side (`fizzflow probe-checker PARENT_PID`): probes each
/// path it is sent until its input ends; returns the exit code.
pub fn run_checker(parent: Option<&std::ffi::OsStr>) -> i32 {
    // First: die with the parent, and make sure the parent is still the
    // one that started us (it may have died before the line above).
    // SAFETY: prctl and getppid have no memory-safety preconditions.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    let expected = parent
        .and_then(|p| p.to_str())
        .and_then(|p| p.parse::<i32>().ok());
    if expected != Some(unsafe { libc::getppid() }) {
        return 2;
    }
    let Some(exe) = crate::durable::probe::exe() else {
        return 2;
    };
    let (mut input, mut output) = (std::io::stdin().lock(), std::io::stdout().lock());
    loop {
        let mut len = [0u8; 4];
        match input.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return 0,
            Err(_) => return 1,
        }
        let mut path = vec![0u8; u32::from_le_bytes(len) as usize];
        if input.read_exact(&mut path).is_err() {
            return 1;
        }
        let path = Path::new(std::ffi::OsStr::from_bytes(&path));
        let checked = check_in_child(exe, path);
        if write_answer(&mut output, &checked).is_err() {
            return 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_cross_the_pipe_as_they_were() {
        let cases = [
            Checked::Ended(Finished {
                status: ExitStatus::from_raw(4 << 8),
                stdout: "{\"a\":1}".into(),
                stderr: "is damaged: ünïcode".into(),
            }),
            Checked::Ended(Finished {
                status: ExitStatus::from_raw(libc::SIGKILL),
                stdout: String::new(),
                stderr: String::new(),
            }),
            Checked::TimedOut,
            Checked::Failed("no processes left".into()),
        ];
        for case in cases {
            let mut wire = Vec::new();
            write_answer(&mut wire, &case).unwrap();
            let back = read_answer(&mut wire.as_slice()).unwrap();
            assert_eq!(format!("{back:?}"), format!("{case:?}"));
        }
        assert!(read_answer(&mut [9u8][..].as_ref()).is_err());
        assert!(
            read_answer(&mut [ENDED, 0][..].as_ref()).is_err(),
            "cut short"
        );
    }
}
