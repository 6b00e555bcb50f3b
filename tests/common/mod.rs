//! Shared by the end-to-end tests: run the real binary with a deadline and
//! check its JSON summary against the closed form.
#![allow(dead_code)] // each test file uses its own subset

use serde_json::Value;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod metrics;
pub mod pages;
pub mod pods;
pub mod recovery;
pub mod running;
pub mod tmux;
#[allow(unused_imports)] // each test file uses its own subset
pub use running::Running;

pub const BIN: &str = env!("CARGO_BIN_EXE_fizzflow");

pub use fizzflow::util::Finished;

/// A fresh state dir for one test (removed when dropped).
pub fn state_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("fizzflow-test")
        .tempdir()
        .expect("temp dir")
}

/// What the tests read from a finished run.
pub trait Output {
    /// The JSON summary of a run that must have exited 0.
    fn success_json(&self) -> Value;
    /// stdout as one JSON value.
    fn json(&self) -> Value;
}

impl Output for Finished {
    fn success_json(&self) -> Value {
        assert!(
            self.status.success(),
            "exit {:?}\n{}",
            self.status,
            self.stderr
        );
        self.json()
    }

    fn json(&self) -> Value {
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
        Some(&"stats") | Some(&"recover") | Some(&"torture") | Some(&"bench") | Some(&"help")
    );
    if is_run && !args.contains(&"--help") && !args.contains(&"--version") {
        cmd.arg("--no-telemetry")
            .arg("--progress")
            .arg("off")
            .arg("--no-metrics");
    }
    piped(&mut cmd);
    cmd
}

/// A fizzflow run as [`fizzflow`] makes it, but serving its own metrics on
/// a free loopback port ([`Running::metrics_address`] reads which).
pub fn fizzflow_with_metrics(args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .args(["--no-telemetry", "--progress", "off"])
        .args(["--metrics-addr", "127.0.0.1:0"]);
    piped(&mut cmd);
    cmd
}

fn piped(cmd: &mut Command) {
    cmd.env_remove("FIZZFLOW_STATE_DIR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
}

/// Waits for `child` until `limit`, killing it and failing the test if it
/// is still running then.
pub fn wait_with_deadline(child: Child, limit: Duration) -> Finished {
    match fizzflow::util::wait_bounded(child, limit) {
        Ok(done) => done,
        Err(fizzflow::util::WaitError::TimedOut(stderr)) => {
            panic!("fizzflow did not finish within {limit:?}; stderr:\n{stderr}")
        }
        Err(fizzflow::util::WaitError::Io(e)) => panic!("cannot wait for fizzflow: {e}"),
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
            if let Some(s) = fizzflow::observe::ProcSample::read_pid(pid) {
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
    let own_dir = matches!(
        args.first(),
        Some(&"stats") | Some(&"bench") | Some(&"torture")
    );
    if !args.contains(&"--state-dir") && !own_dir {
        cmd.arg("--state-dir").arg(scratch.path());
    }
    let child = cmd.spawn().expect("spawn fizzflow");
    wait_with_deadline(child, limit)
}

pub fn run_in(dir: &std::path::Path, args: &[&str], limit: Duration) -> Finished {
    let mut all = vec!["--state-dir", dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(args);
    if matches!(
        args.first(),
        Some(&"stats") | Some(&"recover") | Some(&"run")
    ) {
        all.rotate_left(2); // the subcommand must come first
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

/// The line a run prints once its launch record is committed.
pub const LAUNCH_LINE: &str = "fizzflow: launch ";

/// Starts a command whose stderr is watched for the launch line.
pub fn spawn_watched(cmd: &mut Command) -> fizzflow::util::Watched {
    fizzflow::util::Watched::new(cmd.spawn().expect("spawn fizzflow"), Some(LAUNCH_LINE))
        .expect("watch fizzflow's output")
}

/// Waits for a watched child until `limit`, failing the test if it hangs.
pub fn finish(child: fizzflow::util::Watched, limit: Duration) -> Finished {
    match child.wait(limit) {
        Ok(done) => done,
        Err(e) => panic!("fizzflow did not finish within {limit:?}: {e:?}"),
    }
}

pub fn signal(pid: u32, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as i32, sig) };
}

pub fn checkpoint_file(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("checkpoints.redb")
}

/// Rewrites the schema version in a state dir's checkpoint file, as a
/// newer fizzflow would have written it.
pub fn set_schema_version(dir: &std::path::Path, version: &str) {
    let db = redb::Database::create(checkpoint_file(dir)).unwrap();
    let txn = db.begin_write().unwrap();
    txn.open_table(fizzflow::durable::META)
        .unwrap()
        .insert("schema_version", version)
        .unwrap();
    txn.commit().unwrap();
}

/// The child processes of `pid` (from /proc), e.g. a run's probe.
pub fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Some(child) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // The parent pid is the second field after the command name.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            found.push(child);
        }
    }
    found
}

/// Waits (bounded) until `pid` has a child process, and returns it.
pub fn wait_for_child(pid: u32, limit: Duration) -> u32 {
    wait_until(limit, &format!("a child of process {pid}"), || {
        children_of(pid).first().copied()
    })
}

/// Polls `ready` every few milliseconds until it gives a value, and
/// returns that; fails the test, naming `what`, if `limit` passes first.
pub fn wait_until<T>(limit: Duration, what: &str, mut ready: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        assert!(Instant::now() < deadline, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A state dir whose one record is a real cut one beat in, changed by
/// `craft` and stored with a valid checksum: what a bug or an attacker
/// could leave behind.
pub fn crafted(craft: fn(&mut fizzflow::durable::CheckpointRecord)) -> tempfile::TempDir {
    use fizzflow::durable::Ledger;
    use fizzflow::pipeline::FizzBuzzMsg;
    use fizzflow::pipeline::PipelineConfig;
    use fizzflow::pipeline::{LoggerStats, Restarts};
    let dir = state_dir();
    let cfg = PipelineConfig::default();
    let first = Ledger::launch(None, &cfg);
    let mut stats = LoggerStats::default();
    stats.absorb(&(0..8192).map(FizzBuzzMsg::new).collect::<Vec<_>>());
    stats.record_batch(8192);
    let ledger = Ledger {
        base: first.clone(),
        started: std::time::Instant::now(),
    };
    let mut rec = ledger.cut(
        &first,
        &stats,
        Restarts::default(),
        std::time::Instant::now(),
    );
    rec.seq = 1;
    rec.checkpoints = 1;
    let opts = fizzflow::durable::StoreOptions {
        keep: 8,
        abort_at: None,
    };
    let row = fizzflow::durable::LaunchRow::opening(&rec, Vec::new(), None);
    drop(fizzflow::durable::Store::create(dir.path(), opts, &rec, &row).expect("a good file"));
    // fizzflow never writes an impossible record, so the crafted one goes
    // in with redb directly, over the good one.
    craft(&mut rec);
    let db = redb::Database::create(checkpoint_file(dir.path())).expect("open with redb");
    let txn = db.begin_write().unwrap();
    {
        let mut table = txn
            .open_table(redb::TableDefinition::<u64, &[u8]>::new("checkpoints"))
            .unwrap();
        table.remove(1).unwrap();
        table.insert(rec.seq, rec.encode().as_slice()).unwrap();
    }
    txn.commit().unwrap();
    dir
}

/// Starts `cmd` with its address space limited to `bytes` (what `ulimit -v`
/// does in a shell), inherited by the processes it starts.
pub fn with_address_space_limit(cmd: &mut Command, bytes: u64) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between
    // fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        })
    }
}

/// Runs fizzflow in `dir` under an address-space limit of `bytes`.
pub fn run_limited(dir: &std::path::Path, args: &[&str], bytes: u64, limit: Duration) -> Finished {
    let mut all = vec![args[0], "--state-dir", dir.to_str().expect("utf-8 path")];
    all.extend_from_slice(&args[1..]);
    let child = with_address_space_limit(&mut fizzflow(&all), bytes)
        .spawn()
        .expect("spawn fizzflow");
    wait_with_deadline(child, limit)
}
