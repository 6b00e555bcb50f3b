//! steady_state's telemetry server: on the default port, a port that is
//! taken moves to the next free one (as the README says); its messages
//! reach stderr as plain text, with no terminal colour codes when stderr
//! is not a terminal.

mod common;
use common::*;
use std::time::Duration;

/// A short run with telemetry on (the shared helper turns it off).
fn with_telemetry(dir: &std::path::Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "--rate", "0", "--beats", "20", "--progress", "off"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .arg("--state-dir")
        .arg(dir)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

#[test]
fn a_taken_default_port_moves_to_the_next_free_one() {
    // Hold the default port (or find it held already: the same either way).
    let _held = std::net::TcpListener::bind("127.0.0.1:9900");
    let dir = state_dir();
    let mut cmd = with_telemetry(dir.path());
    cmd.args(["--log-level", "info"])
        .env_remove("TELEMETRY_SERVER_PORT");
    let done = wait_with_deadline(cmd.spawn().expect("spawn"), Duration::from_secs(120));
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("Default telemetry port 9900 in use; using port"),
        "{}",
        done.stderr
    );
    assert!(
        !done.stderr.contains('\x1b'),
        "colour codes: {:?}",
        done.stderr
    );
}

#[test]
fn telemetry_files_stay_in_the_state_dir_and_never_follow_a_symlink() {
    // steady_state writes logs/graph.dot and makes ../output_logs relative
    // to the working directory; started where logs/graph.dot is a symlink,
    // a run must not write through it.
    let cwd = tempfile::tempdir().unwrap();
    let start = cwd.path().join("start");
    std::fs::create_dir_all(start.join("logs")).unwrap();
    let victim = cwd.path().join("victim");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, start.join("logs/graph.dot")).unwrap();
    let dir = state_dir();
    let mut cmd = with_telemetry(dir.path());
    cmd.args(["--telemetry-addr", "127.0.0.1:0"])
        .current_dir(&start);
    let done = wait_with_deadline(cmd.spawn().expect("spawn"), Duration::from_secs(120));
    assert!(done.status.success(), "{}", done.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(!cwd.path().join("output_logs").exists());
    let dot = dir.path().join("telemetry/run/logs/graph.dot");
    let graph = std::fs::read_to_string(&dot).unwrap_or_else(|e| panic!("{dot:?}: {e}"));
    assert!(graph.contains("digraph"), "{graph}");
}

/// Issue 21, item 15: steady_state writes logs/graph.dot as its graph
/// stops, and a launch that ended with its actors used to exit before
/// that on a busy machine (3 short runs in 20; a 20-beat run is short); the
/// launch now waits for the graph's own stop when telemetry is on.
#[test]
fn a_short_run_still_leaves_its_graph() {
    for _ in 0..3 {
        let dir = state_dir();
        let mut cmd = with_telemetry(dir.path());
        cmd.args(["--telemetry-addr", "127.0.0.1:0"]);
        let done = wait_with_deadline(cmd.spawn().expect("spawn"), Duration::from_secs(60));
        assert!(done.status.success(), "{}", done.stderr);
        let dot = dir.path().join("telemetry/run/logs/graph.dot");
        let graph = std::fs::read_to_string(&dot).unwrap_or_else(|e| panic!("{dot:?}: {e}"));
        assert!(graph.contains("digraph"), "{graph}");
    }
}

/// `--telemetry-addr IP:0` is "any free port": the run says which, and
/// steady_state no longer calls it "the default port 0 in use".
#[test]
fn port_0_is_any_free_port_said_plainly() {
    let dir = state_dir();
    let mut cmd = with_telemetry(dir.path());
    cmd.args(["--telemetry-addr", "127.0.0.1:0", "--log-level", "info"]);
    let done = wait_with_deadline(cmd.spawn().expect("spawn"), Duration::from_secs(120));
    assert!(done.status.success(), "{}", done.stderr);
    assert!(!done.stderr.contains("port 0 in use"), "{}", done.stderr);
    let line = done
        .stderr
        .lines()
        .find(|l| l.starts_with("fizzflow: steady_state's telemetry at http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("{}", done.stderr));
    let port: u16 = line
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert_ne!(port, 0, "{line}");
}
