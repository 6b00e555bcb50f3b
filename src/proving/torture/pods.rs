//! `fizzflow torture --pods`: the same tortured state dir, as the sink pod
//! of a pair over Aeron, with a media driver and a source of the torture's
//! own. Each cycle runs the sink to its target while one process is hit at
//! a random moment of the run: the sink, the source or the driver, with
//! SIGKILL or SIGTERM; what was hit is started again, and the invariants
//! are checked on the sink's dir after every cycle (invariants.rs).

use super::landing::Landing;
use super::{Engine, Violation, describe, wait};
use crate::util::child::Watched;
use std::ffi::OsString;
use std::time::{Duration, Instant};

/// How long a pod takes to see its driver gone (transport.rs) and a new
/// driver to take over a dead one's dir (driver.rs), with room to spare.
const DRIVER_GONE: Duration = Duration::from_secs(20);

/// The driver and the source, kept from one cycle to the next.
pub(super) struct Crew {
    /// The link flags both pods get.
    pub link: Vec<OsString>,
    aeron: tempfile::TempDir,
    driver: Option<Watched>,
    source: Option<Watched>,
}

impl Crew {
    pub(super) fn new(link: Vec<OsString>) -> Result<Crew, Violation> {
        let base = std::path::Path::new("/dev/shm");
        let mut b = tempfile::Builder::new();
        b.prefix("fizzflow-torture-aeron-");
        let aeron = if base.is_dir() {
            b.tempdir_in(base)
        } else {
            b.tempdir()
        }
        .map_err(|e| violation!("cannot make a dir for the media driver: {e}"))?;
        Ok(Crew {
            link,
            aeron,
            driver: None,
            source: None,
        })
    }

    fn aeron_args(&self) -> Vec<OsString> {
        vec!["--aeron-dir".into(), self.aeron.path().into()]
    }
}

/// Whether a child has ended (and is then taken out of `slot`).
fn ended(slot: &mut Option<Watched>) -> bool {
    if let Some(child) = slot.as_mut()
        && child.running()
    {
        return false;
    }
    if let Some(child) = slot.take() {
        let _ = child.wait(Duration::from_secs(5));
    }
    true
}

impl Engine {
    fn crew(&mut self) -> &mut Crew {
        self.pods.as_mut().expect("a pods torture")
    }

    /// The link flags for a sink of this torture.
    pub(super) fn pod_sink_args(&self) -> Vec<OsString> {
        let crew = self.pods.as_ref().expect("a pods torture");
        let mut args: Vec<OsString> = vec!["pod".into(), "sink".into()];
        args.extend(crew.link.iter().cloned());
        args.extend(crew.aeron_args());
        args
    }

    /// A driver and a source are running (started if they are not).
    pub(super) fn pods_ready(&mut self) -> Result<(), Violation> {
        if ended(&mut self.crew().driver) {
            let args: Vec<OsString> = ["driver".into()]
                .into_iter()
                .chain(self.crew().aeron_args())
                .collect();
            // Not cnc.dat's existence: a killed driver leaves its own behind,
            // and a pod that maps it sees a heartbeat that never moves.
            let mut driver = self.spawn_marked(&args, None, &[], crate::pods::DRIVER_SERVING)?;
            if !driver.wait_for_marker(DRIVER_GONE) {
                let said = driver.wait(Duration::from_secs(5));
                return Err(violation!(
                    "the media driver did not start within {DRIVER_GONE:?}: {said:?}"
                ));
            }
            self.crew().driver = Some(driver);
        }
        if ended(&mut self.crew().source) {
            let mut args: Vec<OsString> = vec![
                "pod".into(),
                "source".into(),
                "--progress".into(),
                "off".into(),
            ];
            args.extend(self.crew().link.iter().cloned());
            args.extend(self.crew().aeron_args());
            let source = self.spawn(&args, None)?;
            self.crew().source = Some(source);
        }
        Ok(())
    }

    /// One cycle: the sink runs; one process is hit mid-run.
    pub(super) fn pods_cycle(&mut self) -> Result<String, Violation> {
        let line = self.pods_cycle_once()?;
        // A sink that finished its run told its source it may exit: that
        // source is not the next sink's (run --pods stops it likewise).
        self.let_the_source_go();
        Ok(line)
    }

    /// The source of a finished run exits on its own; one that missed the
    /// news is stopped.
    fn let_the_source_go(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(3);
        while !ended(&mut self.crew().source) {
            if Instant::now() > deadline {
                if let Some(source) = self.crew().source.take() {
                    // SAFETY: a signal to our own child, not yet reaped.
                    unsafe { libc::kill(source.id() as i32, libc::SIGTERM) };
                    let _ = source.wait(Duration::from_secs(30));
                }
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn pods_cycle_once(&mut self) -> Result<String, Violation> {
        self.pods_ready()?;
        let args = self.run_args();
        let mut sink = self.spawn_run(&args, None)?;
        // A random moment of the run, after its launch record (a sink
        // killed before that is the plain torture's business).
        let at = self.rng.u64(0..=self.expected_run_ms() * 9 / 10);
        sink.wait_for_marker(CHILD_MARK_LIMIT);
        std::thread::sleep(Duration::from_millis(at));
        let landing = |sink: &mut Watched| {
            if !sink.running() {
                Landing::Missed
            } else if sink.wait_for_marker(Duration::ZERO) {
                Landing::Running
            } else {
                Landing::BeforeLaunch
            }
        };
        let (kind, line) = match self.rng.u32(0..100) {
            0..=24 => {
                let l = self.hit(&mut sink, libc::SIGKILL);
                let done = wait(sink)?;
                let l = super::confirm(l, &done.status);
                self.note("pods-kill-sink", Some(l));
                return Ok(format!("pods-kill-sink ({})", describe(&done.status)));
            }
            // A stopped sink ends as a clean one does (below): exit 0 and
            // a final checkpoint that matches what it printed.
            25..=39 => ("pods-stop-sink", self.hit(&mut sink, libc::SIGTERM)),
            40..=69 => {
                let sig = if self.rng.bool() {
                    libc::SIGKILL
                } else {
                    libc::SIGTERM
                };
                let kind = if sig == libc::SIGKILL {
                    "pods-kill-source"
                } else {
                    "pods-stop-source"
                };
                let l = landing(&mut sink);
                if let Some(source) = &self.crew().source {
                    // SAFETY: a signal to our own child, not yet reaped.
                    unsafe { libc::kill(source.id() as i32, sig) };
                }
                // A while without a source (the sink notices, or not), then
                // its replacement; a stopped source must have exited by
                // then, or its clean exit (0) later would leave the sink
                // waiting for a source nobody starts.
                std::thread::sleep(Duration::from_millis(self.rng.u64(0..1500)));
                let deadline = Instant::now() + SOURCE_STOP_LIMIT;
                while !ended(&mut self.crew().source) {
                    if Instant::now() > deadline {
                        return Err(violation!(
                            "a source sent {} did not exit within {SOURCE_STOP_LIMIT:?}",
                            if sig == libc::SIGKILL {
                                "SIGKILL"
                            } else {
                                "SIGTERM"
                            }
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                self.pods_ready()?;
                (kind, l)
            }
            70..=84 => {
                let l = landing(&mut sink);
                if let Some(driver) = &self.crew().driver {
                    // SAFETY: as above.
                    unsafe { libc::kill(driver.id() as i32, libc::SIGKILL) };
                }
                let done = wait(sink)?;
                self.note("pods-kill-driver", Some(l));
                // Exit 5 (the driver went away), or 0 if it finished first.
                if !matches!(done.status.code(), Some(0 | 5)) {
                    return Err(violation!(
                        "a sink whose driver was killed ended with {}: {}",
                        describe(&done.status),
                        done.stderr
                    ));
                }
                let deadline = Instant::now() + DRIVER_GONE;
                while !ended(&mut self.crew().source) {
                    if Instant::now() > deadline {
                        return Err(violation!("the source did not notice its driver die"));
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                ended(&mut self.crew().driver);
                return Ok(format!("pods-kill-driver ({})", describe(&done.status)));
            }
            _ => ("pods-clean", Landing::Running),
        };
        let done = wait(sink)?;
        self.note(kind, Some(line));
        if !done.status.success() {
            return Err(violation!(
                "after {kind}, the sink failed: {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        self.expect_final_checkpoint_matches(&done)?;
        Ok(format!("{kind} (exit 0)"))
    }

    /// The source and the driver stop cleanly at the end.
    pub(super) fn pods_done(&mut self) {
        if let Some(crew) = self.pods.as_mut() {
            for slot in [&mut crew.source, &mut crew.driver] {
                if let Some(child) = slot.take() {
                    // SAFETY: a signal to our own child, not yet reaped.
                    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
                    let _ = child.wait(Duration::from_secs(30));
                }
            }
        }
    }
}

/// A source told to stop (or killed) is gone within this.
const SOURCE_STOP_LIMIT: Duration = Duration::from_secs(10);

/// A sink prints its launch line within this (or the fault lands before).
const CHILD_MARK_LIMIT: Duration = Duration::from_secs(30);
