//! Closing the terminal is one clean stop (issue 21, item 14): the
//! terminal sends SIGHUP to its foreground group and the shell sends SIGHUP
//! to its jobs, so a run gets two; that is not a person asking twice. The
//! launch ends "stopped by signal" with its cut committed, even though its
//! summary can no longer be written. Before, the second SIGHUP exited at
//! once and the launch was left "killed (no end recorded)".

mod common;
use common::*;
use std::process::Command;
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(60);

/// The newest launch row, as `stats --launches --json` shows it.
fn newest_launch(dir: &std::path::Path) -> serde_json::Value {
    let rows = run_in(dir, &["stats", "--launches", "--json"], LIMIT).json();
    rows.as_array().unwrap().last().unwrap().clone()
}

#[test]
fn two_sighups_are_one_clean_stop() {
    let dir = state_dir();
    let mut run = spawn_watched(
        fizzflow(&["--rate", "2", "--beats", "100000", "--json"])
            .arg("--state-dir")
            .arg(dir.path()),
    );
    assert!(run.wait_for_marker(LIMIT), "launched");
    signal(run.id(), libc::SIGHUP);
    signal(run.id(), libc::SIGHUP);
    let done = finish(run, LIMIT);
    let v = done.success_json();
    assert_closed_form(&v);
    let row = newest_launch(dir.path());
    assert_eq!(row["ended"], "stopped by signal", "{row}");
    assert_eq!(row["end"]["messages"], v["messages"], "{row}");
}

#[test]
fn a_second_ctrl_c_still_exits_at_once() {
    let dir = state_dir();
    // A slow final commit keeps the first stop busy for the second signal.
    let mut run = spawn_watched(
        fizzflow(&[
            "--rate",
            "2",
            "--beats",
            "100000",
            "--inject-delay",
            "checkpoint:3000000",
        ])
        .arg("--state-dir")
        .arg(dir.path()),
    );
    assert!(run.wait_for_marker(LIMIT), "launched");
    signal(run.id(), libc::SIGINT);
    std::thread::sleep(Duration::from_millis(100));
    signal(run.id(), libc::SIGINT);
    let done = finish(run, LIMIT);
    assert_eq!(done.status.code(), Some(130), "{}", done.stderr);
}

/// A tmux server of its own, killed when the test is done with it.
struct Tmux(String);

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .status();
    }
}

#[test]
fn closing_the_terminal_records_the_launch_as_stopped() {
    let dir = state_dir();
    let socket = format!("fizzflow-close-{}", std::process::id());
    let tmux = Tmux(socket.clone());
    // An interactive shell, as a person has, running fizzflow in the
    // foreground.
    let status = Command::new("tmux")
        .args([
            "-L",
            &socket,
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "80",
            "-y",
            "24",
        ])
        .args(["bash", "--norc", "-i"])
        .env_remove("TMUX")
        .status()
        .expect("tmux is installed (.ci/run installs it)");
    assert!(status.success(), "tmux did not start");
    let line = format!(
        "{BIN} --state-dir {} --rate 2 --beats 100000 --no-telemetry --no-metrics",
        dir.path().display()
    );
    let sent = Command::new("tmux")
        .args(["-L", &socket, "send-keys", "-t", "t", &line, "Enter"])
        .status()
        .unwrap();
    assert!(sent.success());
    // Running once stats sees the dir held.
    let deadline = Instant::now() + LIMIT;
    let pid = loop {
        let done = run_in(dir.path(), &["stats", "--json"], LIMIT);
        if done.status.success()
            && let Some(pid) = done.json()["in_use_by"].as_u64()
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the run never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    let killed = Command::new("tmux")
        .args(["-L", &socket, "kill-session", "-t", "t"])
        .status()
        .unwrap();
    assert!(killed.success());
    drop(tmux);
    let deadline = Instant::now() + LIMIT;
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "fizzflow outlived its terminal");
        std::thread::sleep(Duration::from_millis(20));
    }
    let row = newest_launch(dir.path());
    assert_eq!(row["ended"], "stopped by signal", "{row}");
    let v = run_in(dir.path(), &["stats", "--json"], LIMIT).json();
    assert_closed_form(&v);
    assert_eq!(row["end"]["messages"], v["messages"], "{row}");
}

/// Found by review: a SIGTERM and a SIGHUP together (Ctrl-C, then the
/// terminal closed; a service manager that sends both) came out of the
/// signal queue SIGHUP first, and the SIGTERM then counted as a second
/// request: exit 130 and no final checkpoint. They are one stop.
#[test]
fn a_sigterm_and_a_sighup_together_are_one_clean_stop() {
    for (first, then) in [
        (libc::SIGTERM, libc::SIGHUP),
        (libc::SIGINT, libc::SIGHUP),
        (libc::SIGHUP, libc::SIGTERM),
    ] {
        let dir = state_dir();
        let mut run = spawn_watched(
            fizzflow(&["--rate", "2", "--beats", "100000", "--json"])
                .arg("--state-dir")
                .arg(dir.path()),
        );
        assert!(run.wait_for_marker(LIMIT), "launched");
        signal(run.id(), first);
        signal(run.id(), then);
        let done = finish(run, LIMIT);
        let v = done.success_json();
        let row = newest_launch(dir.path());
        assert_eq!(row["ended"], "stopped by signal", "{first}, {then}: {row}");
        assert_eq!(row["end"]["messages"], v["messages"], "{row}");
    }
}
