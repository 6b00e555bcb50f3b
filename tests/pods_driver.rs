//! `fizzflow driver`: it serves Aeron clients on its dir, stops cleanly on
//! SIGINT and SIGTERM (removing its dir), refuses a dir a live driver
//! serves without disturbing that driver, and takes over a killed one's.
//! Every driver runs in a dir under its own temp dir, never Aeron's
//! default one.
#![cfg(feature = "pods")]

mod common;
use aeron::aeron::Aeron;
use aeron::concurrent::atomic_buffer::{AlignedBuffer, AtomicBuffer};
use aeron::context::Context;
use common::*;
use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// From start to serving: a takeover waits up to the 3 s driver timeout
/// for a dead driver's heartbeat to age; the rest is slack for a loaded
/// machine (tests run in parallel).
const SERVING: Duration = Duration::from_secs(20);
const STOPPED: Duration = Duration::from_secs(20);
const SERVING_LINE: &str = "fizzflow: media driver (Aeron ";

/// A scratch parent for driver dirs; the driver dir itself is `aeron` in it.
fn scratch() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::Builder::new()
        .prefix("fizzflow-driver-test")
        .tempdir()
        .expect("temp dir");
    let dir = parent.path().join("aeron");
    (parent, dir)
}

fn driver(dir: &Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("driver")
        .arg("--aeron-dir")
        .arg(dir)
        .env_remove("AERON_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    cmd
}

/// A driver started and serving (the test fails if it is not within
/// [`SERVING`]); killed and reaped if the test ends first.
fn serving(dir: &Path) -> (Running, String) {
    let mut running = Running::start(&mut driver(dir));
    let line = running.line_starting(SERVING_LINE, SERVING);
    (running, line)
}

fn signal(running: &Running, sig: i32) {
    // SAFETY: kill(2) on our own child, which is not yet reaped.
    assert_eq!(unsafe { libc::kill(running.id() as i32, sig) }, 0);
}

/// Retries `attempt` until it gives a value, failing the test at `deadline`.
fn until<T>(what: &str, deadline: Instant, mut attempt: impl FnMut() -> Option<T>) -> T {
    loop {
        if let Some(v) = attempt() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// An Aeron client (the `aeron` crate the pods use) connects to the driver
/// on `dir` and a message goes through it over IPC: the driver serves.
fn message_goes_through(dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut context = Context::new();
    context.set_aeron_dir(dir.to_str().expect("utf-8 dir").to_string());
    context.set_media_driver_timeout(3_000);
    // The default handler panics on the client's own thread.
    context.set_error_handler(|e| eprintln!("aeron client: {e:?}"));
    let mut client = Aeron::new(context).expect("connect to the driver");
    let channel = || CString::new("aeron:ipc").unwrap();
    let sub_id = client.add_subscription(channel(), 1001).expect("subscribe");
    let pub_id = client.add_publication(channel(), 1001).expect("publish");
    let subscription = until("subscription ready", deadline, || {
        client.find_subscription(sub_id).ok()
    });
    let publication = until("publication ready", deadline, || {
        client.find_publication(pub_id).ok()
    });
    let text = b"fizzbuzz over a fizzflow driver";
    let buffer = AlignedBuffer::with_capacity(64);
    let src = AtomicBuffer::from_aligned(&buffer);
    src.put_bytes(0, text);
    until("the message is offered", deadline, || {
        let publication = publication.lock().unwrap();
        publication.offer_part(src, 0, text.len() as i32).ok()
    });
    let mut got = Vec::new();
    until("the message arrives", deadline, || {
        let mut on_fragment = |buf: &AtomicBuffer, offset: i32, length: i32, _: &_| {
            got.extend_from_slice(buf.as_sub_slice(offset, length));
        };
        subscription.lock().unwrap().poll(&mut on_fragment, 10);
        (!got.is_empty()).then_some(())
    });
    assert_eq!(got, text);
}

fn stops_cleanly(running: Running, dir: &Path) -> String {
    let done = running.finish(STOPPED);
    assert_eq!(done.status.code(), Some(0), "stderr:\n{}", done.stderr);
    assert!(
        done.stderr.contains("media driver stopped;") && done.stderr.contains("removed"),
        "{}",
        done.stderr
    );
    assert!(!dir.exists(), "the driver's dir is left: {}", dir.display());
    done.stderr
}

#[test]
fn a_driver_serves_aeron_clients_on_its_dir() {
    let (_parent, dir) = scratch();
    let (running, line) = serving(&dir);
    assert!(line.contains(&dir.display().to_string()), "{line}");
    assert!(dir.join("cnc.dat").exists());
    message_goes_through(&dir);
    signal(&running, libc::SIGINT);
    stops_cleanly(running, &dir);
}

#[test]
fn sigint_and_sigterm_each_stop_it_with_exit_0() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let (_parent, dir) = scratch();
        let (running, _) = serving(&dir);
        signal(&running, sig);
        let stderr = stops_cleanly(running, &dir);
        assert!(stderr.contains("stopping the media driver"), "{stderr}");
    }
}

#[test]
fn a_second_driver_on_a_live_dir_exits_3_and_leaves_the_first_running() {
    let (_parent, dir) = scratch();
    let (mut first, _) = serving(&dir);
    // Told by the environment to delete its dir on start and on shutdown,
    // the refused driver must still touch nothing.
    let mut second = driver(&dir);
    second
        .env("AERON_DIR_DELETE_ON_START", "true")
        .env("AERON_DIR_DELETE_ON_SHUTDOWN", "true");
    let refused = wait_with_deadline(second.spawn().expect("spawn"), SERVING);
    assert_eq!(refused.status.code(), Some(3), "{}", refused.stderr);
    let expected = format!(
        "the media driver dir {} is in use by a live driver (pid {})",
        dir.display(),
        first.id()
    );
    assert!(refused.stderr.contains(&expected), "{}", refused.stderr);
    assert!(refused.stderr.contains("--aeron-dir"), "{}", refused.stderr);
    assert!(!first.exits_within(Duration::ZERO), "the first driver died");
    assert!(
        dir.join("cnc.dat").exists(),
        "the live driver's dir was touched"
    );
    message_goes_through(&dir);
    signal(&first, libc::SIGTERM);
    stops_cleanly(first, &dir);
}

#[test]
fn a_killed_drivers_dir_is_taken_over() {
    let (_parent, dir) = scratch();
    let (mut killed, _) = serving(&dir);
    let killed_pid = killed.id();
    signal(&killed, libc::SIGKILL);
    assert!(killed.exits_within(Duration::from_secs(10)));
    assert!(
        dir.join("cnc.dat").exists(),
        "a killed driver leaves its dir"
    );
    let (next, _) = serving(&dir);
    message_goes_through(&dir);
    signal(&next, libc::SIGTERM);
    let stderr = stops_cleanly(next, &dir);
    assert!(
        stderr.contains(&format!("cleared a dead driver's files (pid {killed_pid})")),
        "{stderr}"
    );
}

#[test]
fn a_dir_that_is_not_a_drivers_is_left_alone() {
    let (_parent, dir) = scratch();
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("notes.txt"), b"mine").unwrap();
    let done = wait_with_deadline(driver(&dir).spawn().expect("spawn"), SERVING);
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(done.stderr.contains("\"notes.txt\""), "{}", done.stderr);
    assert_eq!(std::fs::read(dir.join("notes.txt")).unwrap(), b"mine");
}
