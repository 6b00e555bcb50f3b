//! A started fizzflow that a test can watch, signal and wait for, and
//! that never outlives the test.

use super::*;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A started child, killed and reaped when dropped (a failed test
/// included) and only then its state dir removed, if it was handed one.
/// Its stderr lines can be waited for as they come.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stderr line received so far.
    stderr: String,
    stdout: Option<std::thread::JoinHandle<String>>,
    _dir: Option<tempfile::TempDir>,
}

impl Running {
    /// Starts `cmd`, whose stdout and stderr must be piped.
    pub fn start(cmd: &mut Command) -> Running {
        let mut child = cmd.spawn().expect("spawn fizzflow");
        let (out, err) = (child.stdout.take(), child.stderr.take());
        let (tx, lines) = mpsc::channel();
        let mut running = Running {
            child,
            lines,
            stderr: String::new(),
            stdout: None,
            _dir: None,
        };
        let mut err = BufReader::new(err.expect("stderr piped"));
        std::thread::spawn(move || {
            let mut line = String::new();
            while err.read_line(&mut line).unwrap_or(0) > 0 {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    return;
                }
            }
        });
        let mut out = out.expect("stdout piped");
        running.stdout = Some(std::thread::spawn(move || {
            let mut text = String::new();
            let _ = out.read_to_string(&mut text);
            text
        }));
        running
    }

    /// As [`Running::start`]; `dir` is removed once the child is gone.
    pub fn start_in(cmd: &mut Command, dir: tempfile::TempDir) -> Running {
        let mut running = Running::start(cmd.arg("--state-dir").arg(dir.path()));
        running._dir = Some(dir);
        running
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits (bounded) for the next stderr line that starts with `prefix`
    /// and returns it; fails the test if stderr ends or `limit` passes
    /// first.
    pub fn line_starting(&mut self, prefix: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push_str(&line);
                    if line.starts_with(prefix) {
                        return line.trim_end().to_string();
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "no line starting {prefix:?} within {limit:?}; stderr so far:\n{}",
                    self.stderr
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => panic!(
                    "stderr ended without a line starting {prefix:?}:\n{}",
                    self.stderr
                ),
            }
        }
    }

    /// The address of the metrics endpoint, once printed (bounded).
    pub fn metrics_address(&mut self, limit: Duration) -> String {
        let line = self.line_starting("fizzflow: metrics at http://", limit);
        let rest = line.trim_start_matches("fizzflow: metrics at http://");
        rest.trim_end_matches("/metrics").to_string()
    }

    /// Waits for the child to exit, at most `limit`; true if it did.
    pub fn exits_within(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait().expect("wait").is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    /// Waits for the child to finish (it is killed and the test fails if
    /// it has not within `limit`) and returns all it printed.
    pub fn finish(mut self, limit: Duration) -> Finished {
        if !self.exits_within(limit) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            panic!(
                "fizzflow did not finish within {limit:?}; stderr:\n{}",
                self.stderr
            );
        }
        // Its pipes close when it exits (no descendant keeps them).
        while let Ok(line) = self.lines.recv_timeout(limit) {
            self.stderr.push_str(&line);
        }
        Finished {
            status: self.child.wait().expect("wait"),
            stdout: self
                .stdout
                .take()
                .and_then(|h| h.join().ok())
                .unwrap_or_default(),
            stderr: std::mem::take(&mut self.stderr),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
