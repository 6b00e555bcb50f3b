//! Waiting for a child process with a deadline, its pipes drained on their
//! own threads so a chatty child cannot block on a full pipe; optionally
//! telling the caller the moment the child prints a given line.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ExitStatus};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Why a wait gave up.
#[derive(Debug)]
pub enum WaitError {
    /// Still running at the deadline; it was killed. Its stderr so far.
    TimedOut(String),
    Io(std::io::Error),
}

/// A running child whose output is being collected.
/// Dropped before it was waited for (a test that failed half-way), it
/// kills and reaps the child, so no process outlives its watcher.
pub struct Watched {
    child: Child,
    stdout: Option<JoinHandle<String>>,
    stderr: Option<JoinHandle<String>>,
    marker: mpsc::Receiver<()>,
    marked: bool,
}

impl Watched {
    /// Starts draining `child`'s piped stdout and stderr. Each stderr line
    /// that starts with `marker` is announced to [`Watched::wait_for_marker`].
    /// If a draining thread cannot be started (out of threads), the child
    /// is killed and reaped, and that is the error.
    pub fn new(mut child: Child, marker: Option<&'static str>) -> std::io::Result<Watched> {
        let out = child.stdout.take();
        let err = child.stderr.take();
        let (seen, marker_rx) = mpsc::channel();
        let drains = std::thread::Builder::new()
            .spawn(move || {
                let mut s = String::new();
                if let Some(mut p) = out {
                    let _ = p.read_to_string(&mut s);
                }
                s
            })
            .and_then(|stdout| {
                std::thread::Builder::new()
                    .spawn(move || {
                        let mut s = String::new();
                        let Some(p) = err else { return s };
                        let mut lines = BufReader::new(p);
                        let mut line = String::new();
                        while lines.read_line(&mut line).unwrap_or(0) > 0 {
                            if marker.is_some_and(|m| line.starts_with(m)) {
                                let _ = seen.send(());
                            }
                            s.push_str(&line);
                            line.clear();
                        }
                        s
                    })
                    .map(|stderr| (stdout, stderr))
            });
        match drains {
            Ok((stdout, stderr)) => Ok(Watched {
                child,
                stdout: Some(stdout),
                stderr: Some(stderr),
                marker: marker_rx,
                marked: false,
            }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// True once the marker line has been printed; false if it was not
    /// printed within `limit` (or the child ended without printing it).
    pub fn wait_for_marker(&mut self, limit: Duration) -> bool {
        self.marked = self.marked || self.marker.recv_timeout(limit).is_ok();
        self.marked
    }

    /// Whether the child is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until the child ends or `limit` passes (then it is killed).
    pub fn wait(mut self, limit: Duration) -> Result<Finished, WaitError> {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().map_err(WaitError::Io)? {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(WaitError::TimedOut(joined(self.stderr.take())));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        Ok(Finished {
            status,
            stdout: joined(self.stdout.take()),
            stderr: joined(self.stderr.take()),
        })
    }
}

fn joined(reader: Option<JoinHandle<String>>) -> String {
    reader.and_then(|r| r.join().ok()).unwrap_or_default()
}

impl Drop for Watched {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits for `child` (stdout and stderr piped) until `limit`, killing it if
/// it is still running then.
pub fn wait_bounded(child: Child, limit: Duration) -> Result<Finished, WaitError> {
    Watched::new(child, None)
        .map_err(WaitError::Io)?
        .wait(limit)
}
