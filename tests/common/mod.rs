//! Shared by the end-to-end tests: run the real binary with a deadline and
//! check its JSON summary against the closed form.
#![allow(dead_code)] // each test file uses its own subset

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

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
    if matches!(args.first(), Some(&"stats") | Some(&"recover")) {
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

/// One /metrics scrape (each bounded by 10 s); fails the test if it fails.
pub fn scrape(addr: &str) -> String {
    ureq::get(&format!("http://{addr}/metrics"))
        .timeout(Duration::from_secs(10))
        .call()
        .expect("scrape")
        .into_string()
        .expect("text")
}

/// Tries to scrape /metrics (2 s a try) until one succeeds, at most
/// `limit`; None if none did.
pub fn scrape_within(addr: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    loop {
        let attempt = ureq::get(&format!("http://{addr}/metrics"))
            .timeout(Duration::from_secs(2))
            .call();
        if let Ok(response) = attempt {
            return Some(response.into_string().expect("text"));
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The value of the sample `name` (with the label `label`, if given) in
/// Prometheus text, which must parse and carry HELP lines.
pub fn sample(text: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("valid Prometheus text format");
    assert!(!scrape.docs.is_empty(), "HELP lines are there");
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a plain value"),
        })
        .unwrap_or_else(|| panic!("no {name} {label:?} in:\n{text}"))
}

/// The messages counted so far, of every kind, in a scrape.
pub fn messages_counted(text: &str) -> u64 {
    ["fizz", "buzz", "fizzbuzz", "value"]
        .iter()
        .map(|k| sample(text, "fizzflow_messages_total", Some(("kind", k))) as u64)
        .sum()
}

/// Scrapes the run at `addr` until the messages it has counted satisfy
/// `ready` (bounded), and returns that count.
pub fn wait_for_count(addr: &str, limit: Duration, what: &str, ready: impl Fn(u64) -> bool) -> u64 {
    wait_until(limit, what, || {
        let counted = messages_counted(&scrape(addr));
        ready(counted).then_some(counted)
    })
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

/// The offsets of the top bytes of the child page references in redb's
/// branch pages: a branch page (4 KiB, type byte 2) holds `n` keys, then
/// `n + 1` child checksums of 16 bytes from offset 8, then `n + 1` child
/// page numbers of 8 bytes, whose top 5 bits are the page's order (its
/// size is 4 KiB << order). Setting that byte to 0xa0 makes order 20: a
/// 4 GiB page, the largest redb 4.6 accepts. Pages no longer in use are
/// listed too (the file keeps old copies); mutating those is harmless.
pub fn branch_child_order_bytes(bytes: &[u8]) -> Vec<usize> {
    const PAGE: usize = 4096;
    let mut found = Vec::new();
    for page in (PAGE..bytes.len()).step_by(PAGE) {
        if bytes.len() < page + PAGE || bytes[page] != 2 {
            continue;
        }
        let keys = u16::from_le_bytes([bytes[page + 2], bytes[page + 3]]) as usize;
        let children = keys + 1;
        let numbers = page + 8 + 16 * children;
        if keys == 0 || numbers + 8 * children > page + PAGE {
            continue;
        }
        found.extend((0..children).map(|i| numbers + 8 * i + 7));
    }
    found
}

/// The offsets of the top bytes of the table roots in redb's table
/// definitions, found in leaf pages (type byte 1) whose entries are table
/// names and definitions: `n` entries, `n` key ends and `n` value ends
/// (u32, from the page's start), then the keys, then the values. A
/// definition is its table type (3 or 4), its length (u64), a byte saying
/// it has a root, and the root's page number (u64), whose top byte is 17
/// bytes into it. Old copies of pages are listed too.
pub fn table_root_order_bytes(bytes: &[u8]) -> Vec<usize> {
    const PAGE: usize = 4096;
    let u32_at = |at: usize| {
        u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
    };
    let mut found = Vec::new();
    for page in (PAGE..bytes.len()).step_by(PAGE) {
        if bytes.len() < page + PAGE || bytes[page] != 1 {
            continue;
        }
        let n = u16::from_le_bytes([bytes[page + 2], bytes[page + 3]]) as usize;
        let data = 4 + 8 * n;
        if n == 0 || data > PAGE {
            continue;
        }
        let key_ends: Vec<usize> = (0..n).map(|i| u32_at(page + 4 + 4 * i)).collect();
        let value_ends: Vec<usize> = (0..n).map(|i| u32_at(page + 4 + 4 * (n + i))).collect();
        let mut start = data;
        let mut keys = Vec::new();
        for &end in &key_ends {
            if end <= start || end > PAGE {
                break;
            }
            keys.push(&bytes[page + start..page + end]);
            start = end;
        }
        if keys.len() != n {
            continue;
        }
        for (i, &end) in value_ends.iter().enumerate() {
            if end <= start || end > PAGE {
                break;
            }
            let value = &bytes[page + start..page + end];
            let named = keys[i].iter().all(|b| b.is_ascii_lowercase() || *b == b'_');
            if named && value.len() > 22 && matches!(value[0], 3 | 4) && value[9] == 1 {
                found.push(page + start + 17);
            }
            start = end;
        }
    }
    found
}
