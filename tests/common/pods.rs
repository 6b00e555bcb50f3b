//! Pods for the tests: a media driver of their own (in /dev/shm, removed
//! with the test), and the pod commands pointed at it.

use super::*;
use std::path::{Path, PathBuf};

/// A media driver in a private dir; killed, reaped and its dir removed when
/// dropped.
pub struct Driver {
    running: Option<Running>,
    dir: tempfile::TempDir,
}

impl Driver {
    pub fn start() -> Driver {
        let base = if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let dir = tempfile::Builder::new()
            .prefix("fizzflow-test-aeron-")
            .tempdir_in(base)
            .expect("a dir for the driver");
        let mut d = Driver { running: None, dir };
        d.restart();
        d
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Starts the driver again (after [`Driver::kill`]) and waits until it
    /// serves. Not when its CnC file is there: a killed driver leaves its
    /// own behind, and a pod that maps that one sees a dead heartbeat.
    pub fn restart(&mut self) {
        let mut cmd = Command::new(BIN);
        cmd.args(["driver", "--aeron-dir"]).arg(self.dir.path());
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut running = Running::start(&mut cmd);
        running.line_starting("fizzflow: media driver (Aeron ", Duration::from_secs(30));
        self.running = Some(running);
    }

    pub fn pid(&self) -> u32 {
        self.running.as_ref().expect("running").id()
    }

    /// SIGKILL: the driver dies as a crash would leave it.
    pub fn kill(&mut self) {
        if let Some(r) = self.running.take() {
            signal(r.id(), libc::SIGKILL);
            drop(r);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `fizzflow pod sink` on `state`, quiet, printing its JSON summary.
pub fn sink(aeron: &Path, state: &Path, extra: &[&str]) -> Command {
    let mut cmd = fizzflow(&["pod", "sink", "--json"]);
    cmd.arg("--aeron-dir")
        .arg(aeron)
        .arg("--state-dir")
        .arg(state)
        .args(extra);
    cmd
}

/// `fizzflow pod source`, quiet.
pub fn source(aeron: &Path, extra: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(["pod", "source", "--progress", "off", "--aeron-dir"])
        .arg(aeron)
        .args(extra);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// A UDP loopback channel on a port that is free now, and whose next port
/// (the control stream's) is free too.
pub fn udp_channel() -> String {
    for _ in 0..100 {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
        let port = a.local_addr().expect("its address").port();
        if port < u16::MAX && std::net::UdpSocket::bind(("127.0.0.1", port + 1)).is_ok() {
            return format!("aeron:udp?endpoint=127.0.0.1:{port}");
        }
    }
    panic!("no two free UDP ports in a row");
}

/// The messages a state dir has counted so far (0 before any checkpoint).
pub fn counted(state: &Path) -> u64 {
    let done = run_in(state, &["stats", "--json"], Duration::from_secs(60));
    if !done.status.success() {
        return 0;
    }
    field(&done.json(), "messages")
}

/// Waits (bounded) until the state dir has counted more than `than`.
pub fn wait_for_progress(state: &Path, than: u64, limit: Duration) -> u64 {
    wait_until(limit, "a checkpoint with progress", || {
        let n = counted(state);
        (n > than).then_some(n)
    })
}

/// `fizzflow run --pods` on `state` with `args`, its output piped.
pub fn run_pods(state: &Path, args: &[&str]) -> Command {
    let mut all = vec!["run", "--pods"];
    all.extend_from_slice(args);
    let mut cmd = fizzflow(&all);
    cmd.arg("--state-dir").arg(state);
    cmd
}

/// The pid of `parent`'s child that is the `role` pod ("sink", "source").
pub fn pod_child(parent: u32, role: &str) -> Option<u32> {
    children_of(parent).into_iter().find(|&pid| {
        std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == role.as_bytes()))
    })
}
