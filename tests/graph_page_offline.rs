//! The live graph page (`/` on fizzflow's metrics server) draws the five
//! actors and their channels, with numbers, in a real headless browser
//! with no network: every request that leaves the machine goes to a proxy
//! that does not exist. Chromium comes from the Debian packages (.ci/run
//! installs it).

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The page as Chromium has drawn it (its DOM after the scripts ran).
fn drawn(url: &str) -> String {
    let profile = tempfile::tempdir().expect("tempdir");
    let child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            // Offline: anything not on loopback goes to a dead proxy.
            "--proxy-server=http://127.0.0.1:9",
            "--virtual-time-budget=10000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium is installed (.ci/run installs it)");
    let done = wait_with_deadline(child, Duration::from_secs(90));
    assert!(done.status.success(), "chromium failed: {}", done.stderr);
    done.stdout
}

#[test]
fn the_page_draws_every_actor_and_channel_with_numbers_offline() {
    let mut run = Running::start_in(
        &mut fizzflow_with_metrics(&["run", "--rate", "2", "--beats", "5000"]),
        state_dir(),
    );
    let addr = run.metrics_address(Duration::from_secs(60));
    let page = run.line_starting(
        "fizzflow: the pipeline, drawn live",
        Duration::from_secs(10),
    );
    assert!(page.ends_with(&format!("http://{addr}/")), "{page}");
    let dom = drawn(&format!("http://{addr}/"));
    assert!(dom.contains("<svg"), "no drawing:\n{dom}");
    for actor in ["heartbeat", "generator", "worker", "logger", "checkpoint"] {
        assert!(
            dom.contains(&format!("<title>{actor}</title>")),
            "{actor}:\n{dom}"
        );
    }
    for edge in [
        "heartbeat-&gt;worker",
        "generator-&gt;worker",
        "worker-&gt;logger",
        "logger-&gt;checkpoint",
    ] {
        assert!(
            dom.contains(&format!("<title>{edge}</title>")),
            "{edge}:\n{dom}"
        );
    }
    assert!(dom.contains("slots queued"), "channel numbers:\n{dom}");
    assert!(dom.contains(">messages "), "the logger's count:\n{dom}");
    signal(run.id(), libc::SIGINT);
    assert!(run.finish(Duration::from_secs(60)).status.success());
}
