//! Waiting for a child process with a deadline, its pipes drained on their
//! own threads so a chatty child cannot block on a full pipe.

use std::io::Read;
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Why [`wait_bounded`] gave up.
#[derive(Debug)]
pub enum WaitError {
    /// Still running at the deadline; it was killed. Its stderr so far.
    TimedOut(String),
    Io(std::io::Error),
}

/// Waits for `child` (stdout and stderr piped) until `limit`, killing it if
/// it is still running then.
pub fn wait_bounded(mut child: Child, limit: Duration) -> Result<Finished, WaitError> {
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut s);
            }
            s
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(WaitError::Io)? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(WaitError::TimedOut(err.join().unwrap_or_default()));
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Ok(Finished {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}
