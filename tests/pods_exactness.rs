//! The pipeline split across two processes over Aeron keeps the sink's
//! lifetime exact: over shared memory and UDP loopback, whichever pod
//! starts first, when the sink, the source or the media driver is killed
//! mid-run and started again, when both are stopped, and with two runs on
//! one driver. Every process has its own deadline; every driver its own
//! dir.
#![cfg(feature = "pods")]

mod common;
use common::pods::*;
use common::*;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// messages = beats × 32 × worker batch (256 by default).
fn assert_exact(v: &serde_json::Value, beats: u64) {
    assert_eq!(field(v, "beats"), beats, "{v}");
    assert_eq!(field(v, "messages"), beats * 32 * 256, "{v}");
    assert_eq!(field(v, "sequence_errors"), 0, "{v}");
    // The cut stands after the last value: where a source would resume.
    assert_eq!(field(v, "cut_position"), beats * 32 * 256, "{v}");
    assert_closed_form(v);
}

/// A sink and a source, both to the end; the sink's summary.
fn pair(
    driver: &Driver,
    state: &std::path::Path,
    sink_args: &[&str],
    link: &[&str],
) -> serde_json::Value {
    let mut args = sink_args.to_vec();
    args.extend_from_slice(link);
    let sink = Running::start(&mut sink(driver.dir(), state, &args));
    let source = Running::start(&mut source(driver.dir(), link));
    let done = sink.finish(LIMIT);
    let v = done.success_json();
    let src = source.finish(LIMIT);
    assert!(
        src.status.success(),
        "source: {:?}\n{}",
        src.status,
        src.stderr
    );
    v
}

#[test]
fn two_pods_over_shared_memory_are_exact() {
    let driver = Driver::start();
    let state = state_dir();
    let v = pair(
        &driver,
        state.path(),
        &["--beats", "300", "--rate", "0"],
        &[],
    );
    assert_exact(&v, 300);
}

#[test]
fn two_pods_over_udp_loopback_are_exact() {
    let driver = Driver::start();
    let state = state_dir();
    let channel = udp_channel();
    let v = pair(
        &driver,
        state.path(),
        &["--beats", "300", "--rate", "0"],
        &["--channel", &channel],
    );
    assert_exact(&v, 300);
}

#[test]
fn a_source_started_first_waits_for_its_sink() {
    let driver = Driver::start();
    let state = state_dir();
    let source = Running::start(&mut source(driver.dir(), &[]));
    std::thread::sleep(Duration::from_millis(500));
    let sink = Running::start(&mut sink(
        driver.dir(),
        state.path(),
        &["--beats", "100", "--rate", "0"],
    ));
    assert_exact(&sink.finish(LIMIT).success_json(), 100);
    assert!(source.finish(LIMIT).status.success());
}

#[test]
fn a_sink_started_first_waits_for_its_source() {
    let driver = Driver::start();
    let state = state_dir();
    let sink = Running::start(&mut sink(
        driver.dir(),
        state.path(),
        &["--beats", "100", "--rate", "0"],
    ));
    std::thread::sleep(Duration::from_millis(500));
    let source = Running::start(&mut source(driver.dir(), &[]));
    assert_exact(&sink.finish(LIMIT).success_json(), 100);
    assert!(source.finish(LIMIT).status.success());
}

/// Paced, so that a kill lands mid-run: 2,000 beats at 2 ms (4 s), with a
/// checkpoint every 100 ms to show the progress.
const PACED: [&str; 6] = [
    "--beats",
    "2000",
    "--rate",
    "2",
    "--checkpoint-interval",
    "100",
];

#[test]
fn a_sink_killed_mid_run_resumes_exactly() {
    let driver = Driver::start();
    let state = state_dir();
    let source = Running::start(&mut source(driver.dir(), &[]));
    let first = Running::start(&mut sink(driver.dir(), state.path(), &PACED));
    wait_for_progress(state.path(), 0, LIMIT);
    signal(first.id(), libc::SIGKILL);
    drop(first);
    let again = Running::start(&mut sink(driver.dir(), state.path(), &PACED));
    let v = again.finish(LIMIT).success_json();
    assert_exact(&v, 2000);
    assert!(source.finish(LIMIT).status.success());
}

/// A pod paused (SIGSTOP) longer than the driver's 3 s client timeout is
/// dropped by the driver; woken, it must end (exit 5) and its relaunch
/// resume exactly. Both used to spin for ever in aeron's
/// `Subscription::drop`, deaf to SIGTERM.
#[test]
fn a_pod_paused_past_the_drivers_timeout_exits_5_and_the_run_resumes_exactly() {
    let driver = Driver::start();
    let state = state_dir();
    let sink1 = Running::start(&mut sink(driver.dir(), state.path(), &PACED));
    let source1 = Running::start(&mut source(driver.dir(), &[]));
    wait_for_progress(state.path(), 0, LIMIT);
    signal(sink1.id(), libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(5));
    signal(sink1.id(), libc::SIGCONT);
    let done = sink1.finish(LIMIT);
    assert_eq!(done.status.code(), Some(5), "{}", done.stderr);
    // The source, paused in turn, ends the same way.
    signal(source1.id(), libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(5));
    signal(source1.id(), libc::SIGCONT);
    let done = source1.finish(LIMIT);
    assert_eq!(done.status.code(), Some(5), "{}", done.stderr);
    let v = pair(&driver, state.path(), &PACED, &[]);
    assert_exact(&v, 2000);
}

#[test]
fn a_source_killed_mid_run_is_replaced_and_nothing_is_lost_or_doubled() {
    let driver = Driver::start();
    let state = state_dir();
    let sink = Running::start(&mut sink(driver.dir(), state.path(), &PACED));
    let first = Running::start(&mut source(driver.dir(), &[]));
    wait_for_progress(state.path(), 0, LIMIT);
    signal(first.id(), libc::SIGKILL);
    drop(first);
    let second = Running::start(&mut source(driver.dir(), &[]));
    let v = sink.finish(LIMIT).success_json();
    assert_exact(&v, 2000);
    assert!(field(&v["restarts"], "source") >= 1, "{v}");
    assert!(second.finish(LIMIT).status.success());
}

#[test]
fn a_driver_killed_mid_run_ends_both_pods_with_exit_5_and_they_resume_exactly() {
    let mut driver = Driver::start();
    let state = state_dir();
    let sink1 = Running::start(&mut sink(driver.dir(), state.path(), &PACED));
    let source1 = Running::start(&mut source(driver.dir(), &[]));
    wait_for_progress(state.path(), 0, LIMIT);
    driver.kill();
    let done = sink1.finish(LIMIT);
    assert_eq!(done.status.code(), Some(5), "{}", done.stderr);
    assert_eq!(source1.finish(LIMIT).status.code(), Some(5));
    // The sink's last durable cut stands; the launch is recorded as failed.
    let kept = counted(state.path());
    assert_eq!(kept % (32 * 256), 0, "a whole number of beats");
    driver.restart();
    let source2 = Running::start(&mut source(driver.dir(), &[]));
    let sink2 = Running::start(&mut sink(driver.dir(), state.path(), &PACED));
    assert_exact(&sink2.finish(LIMIT).success_json(), 2000);
    assert!(source2.finish(LIMIT).status.success());
}

/// A driver that dies after the sink's final commit, while it tells its
/// source the run is done, changes nothing of the run: exit 0, exact (it
/// was exit 5, a failed run, in torture --pods at cycle 150 of 200).
#[test]
fn a_driver_lost_after_the_final_commit_leaves_the_run_done() {
    let mut driver = Driver::start();
    let state = state_dir();
    let marker = state.path().join("at-pod-done");
    let mut cmd = sink(
        driver.dir(),
        state.path(),
        &["--beats", "200", "--rate", "0"],
    );
    cmd.env(
        fizzflow::util::PAUSE_ENV,
        format!("pod-done:3000:{}", marker.display()),
    );
    let sink1 = Running::start(&mut cmd);
    let source1 = Running::start(&mut source(driver.dir(), &[]));
    wait_until(LIMIT, "the sink's final commit", || {
        marker.exists().then_some(())
    });
    driver.kill();
    let done = sink1.finish(LIMIT);
    assert_exact(&done.success_json(), 200);
    assert!(
        done.stderr.contains("the run is done and durable"),
        "{}",
        done.stderr
    );
    // Its source heard nothing and loses its driver: exit 5, as documented.
    assert_eq!(source1.finish(LIMIT).status.code(), Some(5));
}

#[test]
fn a_stopped_sink_commits_and_a_stopped_source_exits_0() {
    let driver = Driver::start();
    let state = state_dir();
    let sink1 = Running::start(&mut sink(driver.dir(), state.path(), &PACED));
    let source1 = Running::start(&mut source(driver.dir(), &[]));
    let seen = wait_for_progress(state.path(), 0, LIMIT);
    signal(sink1.id(), libc::SIGTERM);
    let v = sink1.finish(LIMIT).success_json();
    assert!(field(&v, "messages") >= seen, "{v}");
    assert_eq!(field(&v, "messages") % (32 * 256), 0, "{v}");
    assert_closed_form(&v);
    signal(source1.id(), libc::SIGTERM);
    assert!(source1.finish(LIMIT).status.success());
    // The same command finishes the run, exactly.
    let v = pair(&driver, state.path(), &PACED, &[]);
    assert_exact(&v, 2000);
}

#[test]
fn two_runs_share_one_driver_on_their_own_streams_and_a_second_sink_or_source_is_turned_away() {
    let driver = Driver::start();
    let (a, b) = (state_dir(), state_dir());
    // Long enough (10 s) for the two intruders below to find sink A running
    // (a turned-away source tries for 3 s before it gives up).
    let long = ["--beats", "5000", "--rate", "2"];
    let sink_a = Running::start(&mut sink(driver.dir(), a.path(), &long));
    let sink_b = Running::start(&mut sink(
        driver.dir(),
        b.path(),
        &["--beats", "600", "--rate", "2", "--stream-id", "2001"],
    ));
    let source_a = Running::start(&mut source(driver.dir(), &[]));
    let source_b = Running::start(&mut source(driver.dir(), &["--stream-id", "2001"]));
    wait_for_progress(a.path(), 0, LIMIT);
    // A second sink on stream 1001 of the same driver: exit 3.
    let other = state_dir();
    let second = Running::start(&mut sink(driver.dir(), other.path(), &PACED)).finish(LIMIT);
    assert_eq!(second.status.code(), Some(3), "{}", second.stderr);
    assert!(second.stderr.contains("--stream-id"), "{}", second.stderr);
    // The same stream spelt otherwise (Aeron's IPC is one medium whatever
    // its parameters), and the stream that is sink A's control stream:
    // exit 3 too (both got in, and took sink A's values or orders).
    for other_spelling in [
        &["--channel", "aeron:ipc?alias=b"][..],
        &["--stream-id", "1002"],
    ] {
        let mut args = PACED.to_vec();
        args.extend_from_slice(other_spelling);
        let other = state_dir();
        let second = Running::start(&mut sink(driver.dir(), other.path(), &args)).finish(LIMIT);
        assert_eq!(
            second.status.code(),
            Some(3),
            "{other_spelling:?}: {}",
            second.stderr
        );
    }
    // A second source for sink A: turned away, exit 3.
    let extra = Running::start(&mut source(driver.dir(), &[])).finish(LIMIT);
    assert_eq!(extra.status.code(), Some(3), "{}", extra.stderr);
    assert_exact(&sink_a.finish(LIMIT).success_json(), 5000);
    assert_exact(&sink_b.finish(LIMIT).success_json(), 600);
    assert!(source_a.finish(LIMIT).status.success());
    assert!(source_b.finish(LIMIT).status.success());
}

#[test]
fn run_pods_is_exact_over_shared_memory_and_udp() {
    let state = state_dir();
    let done = run_in(
        state.path(),
        &["--pods", "--beats", "200", "--rate", "0", "--json"],
        LIMIT,
    );
    assert_exact(&done.success_json(), 200);
    let channel = udp_channel();
    let done = run_in(
        state.path(),
        &[
            "run",
            "--pods",
            "--beats",
            "100",
            "--rate",
            "0",
            "--json",
            "--channel",
            &channel,
        ],
        LIMIT,
    );
    assert_exact(&done.success_json(), 300);
}

/// `torture --pods` on a short fixed schedule that kills the sink, the
/// source and the driver mid-run (seed 5 does each within 14 cycles); the
/// long version is `fizzflow torture --pods --cycles 200`.
#[test]
fn torture_pods_kills_each_process_and_loses_nothing() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let state = scratch.path().join("state");
    let state = state.to_str().expect("utf-8 path");
    let mut cmd = fizzflow(&[
        "torture",
        "--pods",
        "--cycles",
        "14",
        "--seed",
        "5",
        "--beats",
        "400",
        "--state-dir",
        state,
    ]);
    let child = cmd.spawn().expect("spawn torture");
    let done = wait_with_deadline(child, Duration::from_secs(300));
    assert!(
        done.status.success() && done.stdout.contains("verdict           PASS"),
        "torture --pods failed ({:?})\nreport:\n{}\nlog:\n{}",
        done.status,
        done.stdout,
        done.stderr
    );
    for kind in ["pods-kill-sink", "pods-kill-source", "pods-kill-driver"] {
        let landed = done
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(kind))
            .and_then(|l| {
                l.split_once("while running; ")?
                    .0
                    .rsplit(' ')
                    .nth(1)?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0);
        assert!(
            landed > 0,
            "no {kind} landed while running:\n{}",
            done.stdout
        );
    }
}

/// `run --pods` whose source is stopped by someone else (SIGTERM: it exits
/// 0, as a source whose run is done does) starts another once the sink is
/// seen to go on; it used to wait for the sink, which waited for a source.
#[test]
fn run_pods_replaces_a_source_stopped_from_outside() {
    let state = state_dir();
    let args = ["--beats", "3000", "--rate", "2", "--json"];
    let mut run = Running::start(&mut run_pods(state.path(), &args));
    run.line_starting("fizzflow: launch 1 ", LIMIT);
    let source = wait_until(LIMIT, "the source pod", || pod_child(run.id(), "source"));
    std::thread::sleep(Duration::from_millis(500));
    signal(source, libc::SIGTERM);
    let done = run.finish(LIMIT);
    assert!(
        done.stderr
            .contains("exited while the sink still runs; starting it again"),
        "{}",
        done.stderr
    );
    let v: serde_json::Value = serde_json::from_str(done.stdout.trim()).expect("JSON summary");
    assert_exact(&v, 3000);
}

/// `run --pods` whose sink is killed after its final commit (while it
/// tells the source the run is done) does not start it again: that would
/// run --beats more on a finished run (it ran 4,000 of 2,000 beats).
#[test]
fn run_pods_does_not_restart_a_sink_whose_run_is_done() {
    let state = state_dir();
    let marker = state.path().join("at-pod-done");
    let mut cmd = run_pods(state.path(), &["--beats", "2000", "--rate", "0"]);
    cmd.env(
        fizzflow::util::PAUSE_ENV,
        format!("pod-done:5000:{}", marker.display()),
    );
    let run = Running::start(&mut cmd);
    wait_until(LIMIT, "the sink's final commit", || {
        marker.exists().then_some(())
    });
    let sink = pod_child(run.id(), "sink").expect("the sink pod");
    signal(sink, libc::SIGKILL);
    let done = run.finish(LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    assert!(
        done.stderr
            .contains("after its run was done and durable; not starting it again"),
        "{}",
        done.stderr
    );
    let stats = run_in(state.path(), &["stats", "--json"], LIMIT).json();
    assert_eq!(field(&stats, "beats"), 2000, "{stats}");
    assert_eq!(field(&stats, "messages"), 2000 * 32 * 256, "{stats}");
}

/// One Ctrl-C to `run --pods` stops the sink, which drains and commits,
/// then the rest; the run's own "stopping" note comes once (the parent
/// had the single-process handler too, and said it as well).
#[test]
fn one_ctrl_c_to_run_pods_is_one_stop() {
    let state = state_dir();
    let args = ["--beats", "3000", "--rate", "2", "--json"];
    let mut run = Running::start(&mut run_pods(state.path(), &args));
    run.line_starting("fizzflow: launch 1 ", LIMIT);
    std::thread::sleep(Duration::from_millis(1500));
    signal(run.id(), libc::SIGINT);
    let done = run.finish(LIMIT);
    let v = done.success_json();
    assert_eq!(field(&v, "messages") % (32 * 256), 0, "{v}");
    assert_closed_form(&v);
    let said = format!("fizzflow: {}", fizzflow::util::RUN_STOPPING);
    assert_eq!(done.stderr.matches(&said).count(), 1, "{}", done.stderr);
}

/// `run --pods` in a real terminal: its pods are in process groups of their
/// own, outside the terminal's foreground job, and the sink's progress bar
/// once stopped it there (SIGTTOU): the run hung before its first beat.
#[test]
fn run_pods_in_a_terminal_finishes() {
    let tmux = common::tmux::Tmux::script(
        80,
        "$F run --pods --state-dir $D --beats 2000 --rate 0 --no-telemetry --no-metrics; echo RC=$?",
    );
    let screen = tmux.wait_for(LIMIT, true, |s| s.iter().any(|l| l == "DONE"));
    let text = screen.join("\n");
    assert!(screen.iter().any(|l| l == "RC=0"), "{text}");
    assert!(text.contains("2,000/2,000 beats"), "{text}");
}
