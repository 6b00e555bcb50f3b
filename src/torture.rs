//! `fizzflow torture`: runs this binary against one state dir under
//! hundreds of faults of every kind — SIGKILL, SIGTERM/SIGINT, actor panics,
//! aborts inside a checkpoint commit, a full disk, damaged files, bad state
//! dirs, two processes racing — and checks the invariants after every one:
//!
//! - `fizzflow stats --json` succeeds and the totals never go backwards;
//! - every kept checkpoint is a consistent cut: closed form over
//!   `[0, messages)`, whole beats, no sequence errors;
//! - a damaged file is refused (exit 4) and left byte-identical, or, where
//!   the damage missed everything that is read, it reads the same totals;
//! - at the end, a clean finish has exactly the totals of one
//!   uninterrupted run, and `launches` counts every launch.
//!
//! Exit code 0 only if every invariant held. The seed is printed; passing it
//! again (`--seed` or FIZZFLOW_TORTURE_SEED) replays the same faults.

use crate::child::{Finished, WaitError, wait_bounded};
use crate::error::Error;
use crate::message::KindCounts;
use crate::record::CheckpointRecord;
use crate::store;
use clap::Args;
use serde_json::Value;
use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[derive(Args, Debug, Clone)]
pub struct TortureArgs {
    /// Fault cycles to run
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub cycles: u64,

    /// State dir to torture (default: a fresh temporary one, removed after)
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    /// Seed for the fault schedule (default: from the clock; printed)
    #[arg(long, env = "FIZZFLOW_TORTURE_SEED")]
    pub seed: Option<u64>,

    /// Beats per launch
    #[arg(long, value_name = "N", default_value_t = 600)]
    pub beats: u64,

    /// Milliseconds between beats in the tortured runs
    #[arg(long, value_name = "MS", default_value_t = 1)]
    pub rate: u64,
}

/// xorshift64*: small, fast, and the same sequence for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// Longest any single child may take before the torture counts it as hung.
const CHILD_LIMIT: Duration = Duration::from_secs(120);

struct Engine {
    bin: PathBuf,
    dir: PathBuf,
    scratch: tempfile::TempDir,
    rng: Rng,
    beats: u64,
    rate: u64,
    faults: BTreeMap<&'static str, u64>,
    starts: u64,
    last_messages: u64,
    last_launches: u64,
}

pub fn torture(args: &TortureArgs) -> Result<(), Error> {
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
            | 1
    });
    let scratch = tempfile::Builder::new()
        .prefix("fizzflow-torture")
        .tempdir()
        .map_err(|e| Error::Pipeline(format!("cannot make a scratch dir: {e}")))?;
    let dir = args
        .state_dir
        .clone()
        .unwrap_or_else(|| scratch.path().join("state"));
    eprintln!(
        "torture: seed {seed} (replay with --seed {seed} or FIZZFLOW_TORTURE_SEED={seed}), state dir {}",
        dir.display()
    );
    let mut engine = Engine {
        bin: std::env::current_exe()
            .map_err(|e| Error::Pipeline(format!("cannot find this binary: {e}")))?,
        dir,
        scratch,
        rng: Rng(seed | 1),
        beats: args.beats,
        rate: args.rate,
        faults: BTreeMap::new(),
        starts: 0,
        last_messages: 0,
        last_launches: 0,
    };
    let started = Instant::now();
    let outcome = engine.run_all(args.cycles);
    let final_stats = engine.stats_json().ok();
    println!(
        "torture report (seed {seed}, {:.0} s)",
        started.elapsed().as_secs_f64()
    );
    println!("  cycles            {}", args.cycles);
    for (kind, n) in &engine.faults {
        println!("  {kind:<17} {n}");
    }
    println!("  starts            {}", engine.starts);
    if let Some(v) = &final_stats {
        println!(
            "  final             messages {} beats {}/{} launches {} restarts {} sequence_errors {} duplicates_dropped {}",
            v["messages"],
            v["beats"],
            v["beats_target"],
            v["launches"],
            v["restarts"],
            v["sequence_errors"],
            v["duplicates_dropped"]
        );
    }
    match outcome {
        Ok(()) => {
            println!("  verdict           PASS: every invariant held after every fault");
            Ok(())
        }
        Err(why) => {
            println!("  verdict           FAIL: {why}");
            Err(Error::Pipeline(format!(
                "torture failed (seed {seed}): {why}"
            )))
        }
    }
}

impl Engine {
    fn run_all(&mut self, cycles: u64) -> Result<(), String> {
        for cycle in 1..=cycles {
            let line = self.one_cycle()?;
            let v = self.check_invariants()?;
            eprintln!(
                "cycle {cycle:>4}/{cycles}: {line:<44} messages {:>12} beats {:>7}/{:<7} launches {:>4} ok",
                v["messages"], v["beats"], v["beats_target"], v["launches"]
            );
        }
        self.finish_cleanly()
    }

    fn note(&mut self, kind: &'static str) {
        *self.faults.entry(kind).or_default() += 1;
    }

    fn one_cycle(&mut self) -> Result<String, String> {
        match self.rng.below(100) {
            0..=24 => self.kill_cycle(),
            25..=34 => self.graceful_cycle(),
            35..=49 => self.panic_cycle(),
            50..=59 => self.abort_cycle(),
            60..=67 => self.disk_full_cycle(),
            68..=81 => self.damaged_file_cycle(),
            82..=89 => self.bad_dir_cycle(),
            _ => self.race_cycle(),
        }
    }

    fn run_args(&mut self) -> Vec<String> {
        let interval = [10, 25, 50, 100, 250][self.rng.below(5) as usize];
        [
            "run",
            "--rate",
            &self.rate.to_string(),
            "--beats",
            &self.beats.to_string(),
            "--checkpoint-interval",
            &interval.to_string(),
            "--no-telemetry",
            "--progress",
            "off",
            "--no-metrics",
            "--json",
            "--state-dir",
            self.dir.to_str().expect("utf-8 state dir"),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn spawn(&mut self, args: &[String], fsize_limit: Option<u64>) -> Result<Child, String> {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(limit) = fsize_limit {
            // SAFETY: only async-signal-safe setrlimit between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    let r = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &r) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        self.starts += 1;
        cmd.spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))
    }

    fn sleep_random(&mut self, max_ms: u64) -> u64 {
        let ms = self.rng.below(max_ms + 1);
        std::thread::sleep(Duration::from_millis(ms));
        ms
    }

    fn kill_cycle(&mut self) -> Result<String, String> {
        let args = self.run_args();
        let child = self.spawn(&args, None)?;
        let (kind, ms) = match self.rng.below(3) {
            0 => ("kill-at-start", self.sleep_random(40)),
            1 => ("kill-random", self.sleep_random(1500)),
            _ => {
                // SIGTERM, then SIGKILL during the drain and final checkpoint.
                let ms = self.sleep_random(800);
                signal(&child, libc::SIGTERM);
                std::thread::sleep(Duration::from_millis(self.rng.below(30)));
                ("kill-during-drain", ms)
            }
        };
        self.note(kind);
        signal(&child, libc::SIGKILL);
        let done = wait(child)?;
        Ok(format!("{kind} after {ms} ms → {}", describe(&done.status)))
    }

    fn graceful_cycle(&mut self) -> Result<String, String> {
        let (kind, sig) = if self.rng.chance(50) {
            ("sigterm", libc::SIGTERM)
        } else {
            ("sigint", libc::SIGINT)
        };
        self.note(kind);
        let args = self.run_args();
        let child = self.spawn(&args, None)?;
        let ms = self.sleep_random(1200);
        signal(&child, sig);
        let done = wait(child)?;
        if !done.status.success() {
            return Err(format!(
                "{kind}: expected exit 0, got {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        self.expect_final_checkpoint_matches(&done)?;
        Ok(format!(
            "{kind} after {ms} ms → exit 0, final checkpoint matches"
        ))
    }

    fn panic_cycle(&mut self) -> Result<String, String> {
        self.note("panics");
        let mut args = self.run_args();
        let mut named = Vec::new();
        for (actor, lo, hi) in [
            ("heartbeat", 20, 200),
            ("generator", 50_000, 400_000),
            ("worker", 50_000, 400_000),
            ("logger", 50_000, 400_000),
        ] {
            if self.rng.chance(45) || (actor == "logger" && named.is_empty()) {
                let every = lo + self.rng.below(hi - lo);
                args.push("--inject-panic".into());
                args.push(format!("{actor}:{every}"));
                named.push(actor);
            }
        }
        let child = self.spawn(&args, None)?;
        let killed = self.rng.chance(50);
        if killed {
            self.note("kill-with-panics");
            self.sleep_random(1200);
            signal(&child, libc::SIGKILL);
        }
        let done = wait(child)?;
        if !killed {
            if !done.status.success() {
                return Err(format!(
                    "panics {named:?}: expected exit 0, got {}: {}",
                    describe(&done.status),
                    done.stderr
                ));
            }
            self.expect_final_checkpoint_matches(&done)?;
        }
        Ok(format!(
            "panics in {named:?}{} → {}",
            if killed { " + kill" } else { "" },
            describe(&done.status)
        ))
    }

    fn abort_cycle(&mut self) -> Result<String, String> {
        self.note("checkpoint-abort");
        let n = 1 + self.rng.below(6);
        let mut args = self.run_args();
        args.push("--inject-abort".into());
        args.push(format!("checkpoint:{n}"));
        let child = self.spawn(&args, None)?;
        let done = wait(child)?;
        let aborted = done.status.code().is_none();
        if !aborted && !done.status.success() {
            return Err(format!(
                "abort at commit {n}: unexpected {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        Ok(format!(
            "abort inside commit {n} → {}",
            describe(&done.status)
        ))
    }

    fn disk_full_cycle(&mut self) -> Result<String, String> {
        self.note("disk-full");
        let file = store::checkpoint_path(&self.dir);
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        let limit = size + self.rng.below(64 * 1024);
        let args = self.run_args();
        let child = self.spawn(&args, Some(limit.max(4096)))?;
        let done = wait(child)?;
        match done.status.code() {
            Some(0) => {}
            Some(1)
                if done.stderr.contains("cannot write a checkpoint")
                    || done.stderr.contains("File too large") => {}
            _ => {
                return Err(format!(
                    "disk full (limit {limit} bytes): expected exit 0 or a clear error, got {}: {}",
                    describe(&done.status),
                    done.stderr
                ));
            }
        }
        Ok(format!(
            "disk full at {limit} bytes → {}",
            describe(&done.status)
        ))
    }

    fn damaged_file_cycle(&mut self) -> Result<String, String> {
        let file = store::checkpoint_path(&self.dir);
        let Ok(good) = std::fs::read(&file) else {
            return Ok("damaged file: no file yet, skipped".into());
        };
        let (kind, bad) = match self.rng.below(4) {
            0 => (
                "garbage-file",
                (0..1 + self.rng.below(4096))
                    .map(|_| self.rng.next() as u8)
                    .collect(),
            ),
            1 => (
                "truncated-file",
                good[..self.rng.below(good.len() as u64) as usize].to_vec(),
            ),
            2 => ("zero-length-file", Vec::new()),
            _ => {
                let mut b = good.clone();
                for _ in 0..1 + self.rng.below(8) {
                    let at = self.rng.below(b.len() as u64) as usize;
                    b[at] ^= 1 << self.rng.below(8);
                }
                ("flipped-bytes", b)
            }
        };
        self.note(kind);
        let dir = self.scratch.path().join(format!("damaged-{}", self.starts));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let target = store::checkpoint_path(&dir);
        std::fs::write(&target, &bad).map_err(|e| e.to_string())?;
        let reference = self.stats_json()?;

        let stats = self.command(&["stats", "--json", "--state-dir", dir.to_str().unwrap()])?;
        let accepted = match stats.status.code() {
            Some(4) => false,
            Some(0) => {
                // The damage missed everything that is read: the totals must
                // be exactly those of the undamaged file.
                let v: Value =
                    serde_json::from_str(stats.stdout.trim()).map_err(|e| e.to_string())?;
                if v != reference {
                    return Err(format!(
                        "{kind}: a damaged file read as different totals: {v} vs {reference}"
                    ));
                }
                true
            }
            _ => {
                return Err(format!(
                    "{kind}: stats gave {}: {}",
                    describe(&stats.status),
                    stats.stderr
                ));
            }
        };
        if !accepted {
            same_bytes(&target, &bad, kind)?;
            let mut args = self.run_args();
            let at = args
                .iter()
                .position(|a| a == "--state-dir")
                .expect("state dir flag")
                + 1;
            args[at] = dir.to_str().unwrap().to_string();
            let run = self.spawn(&args, None)?;
            self.starts -= 1; // not a launch of the tortured dir
            let done = wait(run)?;
            if done.status.code() != Some(4) || !done.stderr.contains("left exactly as it was") {
                return Err(format!(
                    "{kind}: run should refuse with exit 4, got {}: {}",
                    describe(&done.status),
                    done.stderr
                ));
            }
            same_bytes(&target, &bad, kind)?;
        }
        let _ = std::fs::remove_dir_all(&dir);
        Ok(format!(
            "{kind} ({} bytes) → {}",
            bad.len(),
            if accepted {
                "harmless, same totals"
            } else {
                "refused, untouched"
            }
        ))
    }

    fn bad_dir_cycle(&mut self) -> Result<String, String> {
        self.note("bad-state-dir");
        let plain = self.scratch.path().join(format!("plain-{}", self.starts));
        std::fs::write(&plain, b"not a directory").map_err(|e| e.to_string())?;
        let target = if self.rng.chance(50) {
            plain.clone()
        } else {
            plain.join("under")
        };
        for sub in [
            &["stats", "--json"][..],
            &[
                "run",
                "--rate",
                "0",
                "--beats",
                "1",
                "--no-telemetry",
                "--progress",
                "off",
                "--no-metrics",
            ][..],
        ] {
            let mut args: Vec<&str> = sub.to_vec();
            args.extend(["--state-dir", target.to_str().unwrap()]);
            let done = self.command(&args)?;
            if done.status.code() != Some(4) || !done.stderr.contains("state dir") {
                return Err(format!(
                    "state dir {}: expected exit 4, got {}: {}",
                    target.display(),
                    describe(&done.status),
                    done.stderr
                ));
            }
        }
        same_bytes(&plain, b"not a directory", "bad state dir")?;
        Ok(format!(
            "state dir is {} → exit 4",
            if target == plain {
                "a file"
            } else {
                "under a file"
            }
        ))
    }

    fn race_cycle(&mut self) -> Result<String, String> {
        self.note("two-at-once");
        let args = self.run_args();
        let a = self.spawn(&args, None)?;
        let b = self.spawn(&args, None)?;
        // Whoever lost exits at once with 3; the winner runs (maybe killed).
        self.sleep_random(800);
        if self.rng.chance(60) {
            signal(&a, libc::SIGKILL);
            signal(&b, libc::SIGKILL);
        }
        let (a, b) = (wait(a)?, wait(b)?);
        let codes = [a.status.code(), b.status.code()];
        let losers = codes.iter().filter(|c| **c == Some(3)).count();
        if losers != 1 {
            return Err(format!(
                "two at once: exactly one must exit 3, got {} and {}\n{}\n{}",
                describe(&a.status),
                describe(&b.status),
                a.stderr,
                b.stderr
            ));
        }
        self.starts -= 1; // the loser never launched
        Ok(format!(
            "two at once → {} and {}",
            describe(&a.status),
            describe(&b.status)
        ))
    }

    /// Runs this binary to the end (bounded) with `args`.
    fn command(&self, args: &[&str]) -> Result<Finished, String> {
        let child = Command::new(&self.bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.bin.display()))?;
        wait(child)
    }

    fn stats_json(&self) -> Result<Value, String> {
        let done = self.command(&["stats", "--json", "--state-dir", self.dir.to_str().unwrap()])?;
        if !done.status.success() {
            return Err(format!(
                "stats --json failed ({}): {}",
                describe(&done.status),
                done.stderr
            ));
        }
        serde_json::from_str(done.stdout.trim())
            .map_err(|e| format!("stats --json printed no JSON: {e}"))
    }

    /// A graceful stop's printed summary is exactly what its final
    /// checkpoint holds.
    fn expect_final_checkpoint_matches(&self, done: &Finished) -> Result<(), String> {
        let printed: Value = serde_json::from_str(done.stdout.trim())
            .map_err(|e| format!("no JSON summary: {e}"))?;
        let stored = self.stats_json()?;
        for key in [
            "messages",
            "fizz",
            "buzz",
            "fizzbuzz",
            "value",
            "beats",
            "beats_target",
            "restarts",
        ] {
            if printed[key] != stored[key] {
                return Err(format!(
                    "final checkpoint {key} = {} but the run printed {}",
                    stored[key], printed[key]
                ));
            }
        }
        Ok(())
    }

    /// The checks after every fault, on the tortured state dir.
    fn check_invariants(&mut self) -> Result<Value, String> {
        let file = store::checkpoint_path(&self.dir);
        if !file.exists() {
            return Ok(
                serde_json::json!({"messages": 0, "beats": 0, "beats_target": 0, "launches": 0}),
            );
        }
        let v = self.stats_json()?;
        let messages = v["messages"].as_u64().unwrap_or(0);
        let launches = v["launches"].as_u64().unwrap_or(0);
        if messages < self.last_messages {
            return Err(format!(
                "messages went backwards: {} → {messages}",
                self.last_messages
            ));
        }
        if launches < self.last_launches || launches > self.starts {
            return Err(format!(
                "launches {launches} after {} (and {} starts)",
                self.last_launches, self.starts
            ));
        }
        self.last_messages = messages;
        self.last_launches = launches;
        let seen = store::inspect(&file).map_err(|e| e.to_string())?;
        let mut previous: Option<&CheckpointRecord> = None;
        for r in &seen.history {
            r.check()
                .map_err(|e| format!("checkpoint {}: {e}", r.seq))?;
            if r.logger.sequence_errors != 0 {
                return Err(format!(
                    "checkpoint {} has {} sequence errors",
                    r.seq, r.logger.sequence_errors
                ));
            }
            if r.logger.counts != KindCounts::closed_form(r.logger.messages) {
                return Err(format!(
                    "checkpoint {} is not the closed form over [0, {})",
                    r.seq, r.logger.messages
                ));
            }
            if let Some(p) = previous
                && (r.seq != p.seq + 1 || r.logger.messages < p.logger.messages)
            {
                return Err(format!("checkpoint {} does not follow {}", r.seq, p.seq));
            }
            previous = Some(r);
        }
        Ok(v)
    }

    /// No more faults: finish the run and check it is exactly one
    /// uninterrupted run's result.
    fn finish_cleanly(&mut self) -> Result<(), String> {
        let mut args = self.run_args();
        args[2] = "0".into(); // unpaced: finish quickly
        let child = self.spawn(&args, None)?;
        let done = wait(child)?;
        if !done.status.success() {
            return Err(format!(
                "the clean finish failed: {}: {}",
                describe(&done.status),
                done.stderr
            ));
        }
        self.expect_final_checkpoint_matches(&done)?;
        let v = self.check_invariants()?;
        let (messages, beats, target) = (
            v["messages"].as_u64().unwrap_or(0),
            v["beats"].as_u64().unwrap_or(0),
            v["beats_target"].as_u64().unwrap_or(0),
        );
        if beats != target || messages != beats * 32 * 256 {
            return Err(format!("after the clean finish: {v}"));
        }
        let counts = KindCounts::closed_form(messages);
        if v["fizz"] != counts.fizz
            || v["buzz"] != counts.buzz
            || v["fizzbuzz"] != counts.fizzbuzz
            || v["value"] != counts.value
        {
            return Err(format!("final totals are not the closed form: {v}"));
        }
        if v["sequence_errors"] != 0 {
            return Err(format!("final sequence errors: {v}"));
        }
        Ok(())
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill has no memory-safety preconditions; a finished child
    // just makes it fail with ESRCH.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn describe(status: &ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit {c}"),
        (None, Some(libc::SIGKILL)) => "killed".into(),
        (None, Some(libc::SIGABRT)) => "aborted".into(),
        (None, Some(s)) => format!("signal {s}"),
        _ => "unknown".into(),
    }
}

fn same_bytes(path: &Path, expected: &[u8], what: &str) -> Result<(), String> {
    match std::fs::read(path) {
        Ok(now) if now == expected => Ok(()),
        Ok(_) => Err(format!("{what}: {} was modified", path.display())),
        Err(e) => Err(format!(
            "{what}: {} cannot be read back: {e}",
            path.display()
        )),
    }
}

fn wait(child: Child) -> Result<Finished, String> {
    wait_bounded(child, CHILD_LIMIT).map_err(|e| match e {
        WaitError::TimedOut(stderr) => format!("a child hung for {CHILD_LIMIT:?}: {stderr}"),
        WaitError::Io(e) => e.to_string(),
    })
}
