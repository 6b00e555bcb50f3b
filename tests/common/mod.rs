//! Shared by the end-to-end tests: run the real binary with a deadline and
//! check its JSON summary against the closed form.
#![allow(dead_code)] // each test file uses its own subset

use serde_json::Value;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

pub const BIN: &str = env!("CARGO_BIN_EXE_fizzflow");

pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// A fresh state dir for one test (removed when dropped).
pub fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("fizzflow-test")
        .tempdir()
        .expect("temp dir")
}

impl Finished {
    /// The JSON summary of a run that must have exited 0.
    pub fn success_json(&self) -> Value {
        assert!(
            self.status.success(),
            "exit {:?}\n{}",
            self.status,
            self.stderr
        );
        self.json()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A fizzflow command. Runs get telemetry and progress off (tests run in
/// parallel and must not fight over port 9900); the caller names the state
/// dir, or [`run`] makes a throwaway one.
pub fn fizzflow(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    let is_run = !matches!(
        args.first(),
        Some(&"stats") | Some(&"torture") | Some(&"bench")
    );
    if is_run && !args.contains(&"--help") {
        cmd.arg("--no-telemetry")
            .arg("--progress")
            .arg("off")
            .arg("--no-metrics");
    }
    cmd.env_remove("FIZZFLOW_STATE_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` until `limit`, killing it and failing the test if it
/// is still running then.
pub fn wait_with_deadline(child: Child, limit: Duration) -> Finished {
    match fizzflow::child::wait_bounded(child, limit) {
        Ok(done) => Finished {
            status: done.status,
            stdout: done.stdout,
            stderr: done.stderr,
        },
        Err(fizzflow::child::WaitError::TimedOut(stderr)) => {
            panic!("fizzflow did not finish within {limit:?}; stderr:\n{stderr}")
        }
        Err(fizzflow::child::WaitError::Io(e)) => panic!("cannot wait for fizzflow: {e}"),
    }
}

/// As [`wait_with_deadline`], also sampling the child's resident memory;
/// returns the highest sample.
pub fn wait_watching_rss(child: Child, limit: Duration) -> (Finished, u64) {
    let pid = child.id();
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (p, w) = (peak.clone(), watching.clone());
    let watcher = std::thread::spawn(move || {
        while w.load(std::sync::atomic::Ordering::Relaxed) {
            if let Some(s) = fizzflow::progress::ProcSample::read_pid(pid) {
                p.fetch_max(s.rss_bytes, std::sync::atomic::Ordering::Relaxed);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let done = wait_with_deadline(child, limit);
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let _ = watcher.join();
    (done, peak.load(std::sync::atomic::Ordering::Relaxed))
}

/// Runs fizzflow to the end; a run without `--state-dir` gets a throwaway one.
pub fn run(args: &[&str], limit: Duration) -> Finished {
    let scratch = state_dir();
    let mut cmd = fizzflow(args);
    if !args.contains(&"--state-dir") && args.first() != Some(&"stats") {
        cmd.arg("--state-dir").arg(scratch.path());
    }
    let child = cmd.spawn().expect("spawn fizzflow");
    wait_with_deadline(child, limit)
}

pub fn run_in(dir: &std::path::Path, args: &[&str], limit: Duration) -> Finished {
    let mut all = vec!["--state-dir", dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    if args.first() == Some(&"stats") {
        all.rotate_left(2); // `stats` must come first
    }
    run(&all, limit)
}

pub fn field(v: &Value, name: &str) -> u64 {
    v[name]
        .as_u64()
        .unwrap_or_else(|| panic!("no integer field '{name}' in {v}"))
}

/// fizzbuzz = ⌈n/15⌉, fizz = ⌈n/3⌉ − ⌈n/15⌉, buzz = ⌈n/5⌉ − ⌈n/15⌉,
/// value = the rest — written out here independently of the crate.
pub fn assert_closed_form(v: &Value) {
    let n = field(v, "messages");
    let fizzbuzz = n.div_ceil(15);
    let fizz = n.div_ceil(3) - fizzbuzz;
    let buzz = n.div_ceil(5) - fizzbuzz;
    assert_eq!(field(v, "fizzbuzz"), fizzbuzz, "fizzbuzz in {v}");
    assert_eq!(field(v, "fizz"), fizz, "fizz in {v}");
    assert_eq!(field(v, "buzz"), buzz, "buzz in {v}");
    assert_eq!(
        field(v, "value"),
        n - fizz - buzz - fizzbuzz,
        "value in {v}"
    );
    assert_eq!(field(v, "sequence_errors"), 0, "sequence errors in {v}");
}

/// messages = beats × 32 × worker batch.
pub fn assert_whole_beats(v: &Value, worker_batch: u64) {
    assert_eq!(
        field(v, "messages"),
        field(v, "beats") * 32 * worker_batch,
        "beats × 32 × {worker_batch} in {v}"
    );
}
