//! `run --pods`: a media driver in a private dir and both pods as child
//! processes of this one, watched. A pod that dies abnormally is started
//! again (a bounded number of times, saying so); the sink's exit code is
//! the run's; a stop goes to the sink first, which commits, then to the
//! source, then to the driver. The children have process groups of their
//! own, so a Ctrl-C reaches this process only, and it stops them in that
//! order; each also gets SIGTERM if this process dies. A pod starts only
//! once the driver serves: a killed driver leaves its CnC file behind, and
//! a pod that maps that one waits on a heartbeat that never moves.

use crate::util::output::note;
use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A pod that dies more often than this in one run is not coming right.
pub const MAX_RESTARTS: u32 = 10;

/// How long a stopped child may take before it is killed: the sink drains
/// and commits first.
const STOP_LIMIT: Duration = Duration::from_secs(60);

/// How long the source may take to hear that the run is done.
const SOURCE_DONE_LIMIT: Duration = Duration::from_secs(3);

/// The exit code of a pod whose driver went away (cli/error.rs).
const DRIVER_LOST: i32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Driver,
    Sink,
    Source,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Driver => "media driver",
            Role::Sink => "sink pod",
            Role::Source => "source pod",
        }
    }
}

/// What to start: this executable, and each child's arguments (the
/// driver dir is added to each).
pub struct Crew {
    pub exe: PathBuf,
    pub aeron_dir: PathBuf,
    /// The sink's state dir: read (never locked) to tell a sink killed
    /// after its run was done from one that still has work.
    pub state_dir: PathBuf,
    pub sink_args: Vec<OsString>,
    pub source_args: Vec<OsString>,
}

#[derive(Debug, thiserror::Error)]
pub enum SuperviseError {
    #[error("cannot start the {what}: {source}")]
    Spawn {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the {what} died {times} times; giving up (the sink's state dir holds every cut it committed)"
    )]
    TooManyRestarts { what: &'static str, times: u32 },
    #[error(
        "the source pod was turned away by its sink (exit 3): another source serves that stream"
    )]
    SourceRefused,
}

struct Kid {
    role: Role,
    child: Option<Child>,
    restarts: u32,
    /// To be started once the driver serves (and not before `not_before`).
    due: bool,
    not_before: Option<Instant>,
}

/// A source that exited 0 heard that the run is done, and its sink exits
/// within this (it says so for 500 ms, then ends); a sink still running
/// after it needs a source: that one was stopped by someone else.
const SOURCE_DONE_GRACE: Duration = Duration::from_secs(5);

/// How long a driver may take to serve before the pods start anyway (they
/// wait for a driver themselves, and say so if none comes).
const DRIVER_START_LIMIT: Duration = Duration::from_secs(10);

impl Crew {
    fn start(&self, role: Role) -> Result<Child, SuperviseError> {
        let mut cmd = Command::new(&self.exe);
        let dir = self.aeron_dir.as_os_str().to_owned();
        match role {
            Role::Driver => cmd.arg("driver").arg("--aeron-dir").arg(&dir),
            Role::Sink => cmd
                .args(["pod", "sink"])
                .args(&self.sink_args)
                .arg("--aeron-dir")
                .arg(&dir),
            Role::Source => cmd
                .args(["pod", "source"])
                .args(&self.source_args)
                .arg("--aeron-dir")
                .arg(&dir),
        };
        if role != Role::Sink {
            cmd.stdout(Stdio::null());
        }
        cmd.stdin(Stdio::null()).process_group(0);
        // SAFETY: prctl is async-signal-safe; the child asks for SIGTERM
        // when this process dies, so no pod outlives its supervisor.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        cmd.spawn().map_err(|source| SuperviseError::Spawn {
            what: role.name(),
            source,
        })
    }

    /// Runs the crew until the sink ends; returns the sink's exit code.
    pub fn run(&self, stop: &AtomicBool) -> Result<i32, SuperviseError> {
        let mut kids = [Role::Driver, Role::Sink, Role::Source].map(|role| Kid {
            role,
            child: None,
            restarts: 0,
            due: role != Role::Driver,
            not_before: None,
        });
        let launches_before = run_state(&self.state_dir).map(|(launches, _)| launches);
        kids[0].child = Some(self.start(Role::Driver)?);
        let result = self.watch(&mut kids, stop, launches_before);
        // Whatever happened: the sink first (it commits), then the source,
        // then the driver.
        for i in [1, 2, 0] {
            if let Some(child) = kids[i].child.take() {
                end(child, kids[i].role);
            }
        }
        result
    }

    fn watch(
        &self,
        kids: &mut [Kid; 3],
        stop: &AtomicBool,
        launches_before: Option<u64>,
    ) -> Result<i32, SuperviseError> {
        let mut stopping = false;
        let mut driver_since = Instant::now();
        loop {
            if !stopping && kids[1..].iter().any(|k| k.due) {
                let serving = kids[0]
                    .child
                    .as_ref()
                    .is_some_and(|d| serves(&self.aeron_dir, d.id()));
                if serving || driver_since.elapsed() > DRIVER_START_LIMIT {
                    for kid in &mut kids[1..] {
                        if kid.due && kid.not_before.is_none_or(|t| Instant::now() >= t) {
                            kid.due = false;
                            if kid.not_before.take().is_some() {
                                note(&format!(
                                    "the {} exited while the sink still runs; starting it again",
                                    kid.role.name()
                                ));
                            }
                            kid.child = Some(self.start(kid.role)?);
                        }
                    }
                }
            }
            if stop.load(Ordering::SeqCst) && !stopping {
                stopping = true;
                if let Some(sink) = &kids[1].child {
                    signal(sink, libc::SIGTERM);
                }
            }
            for i in 0..3 {
                let Some(status) = exited(&mut kids[i].child) else {
                    continue;
                };
                let role = kids[i].role;
                match (role, status.code()) {
                    (Role::Sink, Some(code)) if code != DRIVER_LOST || stopping => {
                        if code == 0 {
                            await_source(&mut kids[2]);
                        }
                        return Ok(code);
                    }
                    (Role::Source, Some(3)) => return Err(SuperviseError::SourceRefused),
                    // A source that heard the run is done waits for the sink's exit.
                    (Role::Source, Some(0)) if kids[1].child.is_some() || kids[1].due => {
                        let kid = &mut kids[2];
                        kid.due = true;
                        kid.not_before = Some(Instant::now() + SOURCE_DONE_GRACE);
                    }
                    _ if stopping && role != Role::Sink => {}
                    // Killed after its final commit (while it told the source
                    // the run is done): started again, it would add --beats
                    // more to a finished run.
                    (Role::Sink, _)
                        if run_state(&self.state_dir).is_some_and(|(launches, done)| {
                            done && launches_before.is_none_or(|before| launches > before)
                        }) =>
                    {
                        note(&format!(
                            "the sink pod {} after its run was done and durable; not starting it again",
                            describe(status)
                        ));
                        return Ok(0);
                    }
                    _ => {
                        let kid = &mut kids[i];
                        kid.restarts += 1;
                        if kid.restarts > MAX_RESTARTS {
                            return Err(SuperviseError::TooManyRestarts {
                                what: role.name(),
                                times: kid.restarts,
                            });
                        }
                        note(&format!(
                            "the {} {}; starting it again ({} of at most {MAX_RESTARTS})",
                            role.name(),
                            describe(status),
                            kid.restarts
                        ));
                        if role == Role::Driver {
                            kid.child = Some(self.start(role)?);
                            driver_since = Instant::now();
                        } else {
                            kid.due = true;
                        }
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A state dir's launch count and whether its last run is done, when it
/// has a checkpoint file that reads (without its lock: a sink may hold it).
fn run_state(dir: &Path) -> Option<(u64, bool)> {
    let path = crate::durable::inspect::checkpoint_path(dir);
    let vetted = crate::durable::inspect::existing(&path).ok()??;
    let latest = vetted.seen.latest()?;
    Some((latest.launches, !latest.unfinished()))
}

/// Whether the driver with this pid serves `dir` (its CnC file names it).
#[cfg(feature = "pods")]
fn serves(dir: &Path, pid: u32) -> bool {
    crate::pods::driver::serving_pid(dir) == Some(i64::from(pid))
}

/// A build without the feature never gets here (run --pods needs it).
#[cfg(not(feature = "pods"))]
fn serves(_dir: &Path, _pid: u32) -> bool {
    true
}

/// Its status, if the child has exited (and is then gone from `slot`).
fn exited(slot: &mut Option<Child>) -> Option<ExitStatus> {
    let status = slot.as_mut()?.try_wait().ok().flatten()?;
    *slot = None;
    Some(status)
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(DRIVER_LOST), _) => "lost its media driver (exit 5)".into(),
        (Some(code), _) => format!("exited with {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "ended".into(),
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: a signal to our own child, which has not been reaped.
    unsafe { libc::kill(child.id() as i32, sig) };
}

/// After a finished run the source hears that it is done and exits on its
/// own; one that does not is stopped.
fn await_source(kid: &mut Kid) {
    let deadline = Instant::now() + SOURCE_DONE_LIMIT;
    while Instant::now() < deadline {
        if exited(&mut kid.child).is_some() || kid.child.is_none() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Stops a child with SIGTERM, killing it if it takes too long.
fn end(mut child: Child, role: Role) {
    signal(&child, libc::SIGTERM);
    let deadline = Instant::now() + STOP_LIMIT;
    loop {
        if child.try_wait().ok().flatten().is_some() {
            return;
        }
        if Instant::now() > deadline {
            note(&format!("the {} did not stop; killing it", role.name()));
            let _ = child.kill();
            let _ = child.wait();
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A private dir for the driver: in /dev/shm if there is one (where Aeron
/// keeps its buffers), removed with everything in it when dropped.
pub fn private_dir() -> std::io::Result<tempfile::TempDir> {
    let base = Path::new("/dev/shm");
    let builder = {
        let mut b = tempfile::Builder::new();
        b.prefix("fizzflow-aeron-");
        b
    };
    if base.is_dir() {
        builder.tempdir_in(base)
    } else {
        builder.tempdir()
    }
}
