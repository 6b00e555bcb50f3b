//! The bench's child processes: one run of this binary in a fresh state
//! dir, its summary and its CPU time from the kernel's accounting.

use super::{Sample, note};
use crate::observe::procfs::ProcSample;
use crate::proving::Error;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub(super) fn scratch_dir() -> Result<tempfile::TempDir, Error> {
    tempfile::Builder::new()
        .prefix("fizzflow-bench")
        .tempdir()
        .map_err(|source| Error::Setup {
            action: "make a scratch state dir",
            source,
        })
}

pub(super) fn child(
    me: &std::path::Path,
    dir: &std::path::Path,
    flags: &[&str],
    rate: u64,
    beats: u64,
) -> Command {
    let mut cmd = Command::new(me);
    cmd.args([
        "run",
        "--json",
        "--progress",
        "off",
        // Metrics on, as by default, on a port of its own.
        "--metrics-addr",
        "127.0.0.1:0",
        "--rate",
        &rate.to_string(),
        "--beats",
        &beats.to_string(),
    ])
    .arg("--state-dir")
    .arg(dir)
    .args(flags)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Runs one child in a fresh state dir; its CPU time comes from the kernel's
/// accounting of waited-for children. The rate is the run's own (graph
/// start to stop), so process start-up is not in it.
pub(super) fn run_child(
    me: &std::path::Path,
    name: &str,
    flags: &[&str],
    rate: u64,
    beats: u64,
) -> Result<Sample, Error> {
    let dir = scratch_dir()?;
    let cpu_before = children_cpu_secs();
    let started = Instant::now();
    let out = child(me, dir.path(), flags, rate, beats)
        .output()
        .map_err(|e| Error::Bench(format!("cannot run {}: {e}", me.display())))?;
    let wall = started.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(Error::Bench(format!(
            "configuration {name} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Bench(format!("configuration {name} printed no summary: {e}")))?;
    let messages = v["messages"].as_u64().unwrap_or(0);
    let elapsed = v["elapsed_secs"].as_f64().unwrap_or(f64::NAN);
    Ok(Sample {
        msgs_per_sec: messages as f64 / elapsed,
        wall_msgs_per_sec: messages as f64 / wall,
        cpu_secs: children_cpu_secs() - cpu_before,
        messages,
        latency: serde_json::from_value(v["beat_latency_us"].clone()).ok(),
    })
}

/// The arguments the reference lesson runs with: its own pacing flag at
/// its default, and 2,500 of its beats (it prints its total at the end).
pub(super) const REFERENCE_ARGS: [&str; 4] = ["--rate", "2", "--beats", "2500"];

/// Longest a reference run may take: 2,500 beats of 2 ms are 5 s.
const REFERENCE_LIMIT: Duration = Duration::from_secs(120);

/// One run of the reference lesson in a scratch dir (it writes files where
/// it runs): the total its logger printed over the process's wall time.
/// What it prints is scanned as it comes, never kept whole, and a run past
/// [`REFERENCE_LIMIT`] is killed: whatever binary was named, the bench
/// ends.
pub(super) fn run_reference(path: &std::path::Path) -> Result<Sample, Error> {
    let dir = scratch_dir()?;
    let cpu_before = children_cpu_secs();
    let started = Instant::now();
    let mut proc = Command::new(path)
        .args(REFERENCE_ARGS)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Bench(format!("cannot run the reference {}: {e}", path.display())))?;
    let scanners = [
        proc.stdout
            .take()
            .map(|o| std::thread::spawn(move || last_total(o))),
        proc.stderr
            .take()
            .map(|e| std::thread::spawn(move || last_total(e))),
    ];
    let status = loop {
        match proc.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < REFERENCE_LIMIT => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) | Err(_) => {
                let _ = proc.kill();
                let _ = proc.wait();
                return Err(Error::Bench(format!(
                    "the reference {} did not finish within {} s; stopped",
                    path.display(),
                    REFERENCE_LIMIT.as_secs()
                )));
            }
        }
    };
    let wall = started.elapsed().as_secs_f64();
    let cpu_secs = children_cpu_secs() - cpu_before;
    let totals: Vec<Option<u64>> = scanners
        .into_iter()
        .flatten()
        .map(|t| t.join().unwrap_or(None))
        .collect();
    let messages = totals.into_iter().flatten().next_back().ok_or_else(|| {
        Error::Bench(format!(
            "the reference {} printed no \"Total: N\" ({status}); is it the steady-state-performant lesson?",
            path.display(),
        ))
    })?;
    Ok(Sample {
        msgs_per_sec: messages as f64 / wall,
        wall_msgs_per_sec: messages as f64 / wall,
        cpu_secs,
        messages,
        latency: None,
    })
}

/// The last "Logger shutting down. Total: N" in what the lesson printed,
/// read a line (at most 4 KiB of one) at a time.
fn last_total(out: impl std::io::Read) -> Option<u64> {
    use std::io::{BufRead, Read};
    let mut reader = std::io::BufReader::new(out);
    let mut line = Vec::new();
    let mut last = None;
    loop {
        line.clear();
        match reader.by_ref().take(4096).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return last,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line);
                if let Some(rest) = text.split("Total: ").nth(1) {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    last = digits.parse().ok().or(last);
                }
            }
        }
    }
}

/// Memory must stay flat over a long run: RSS at 10 s against RSS at the end.
pub(super) fn soak(me: &std::path::Path, secs: u64) -> Result<String, Error> {
    let dir = scratch_dir()?;
    let beats = secs * 1000 / 2;
    note(&format!(
        "soak: default configuration, --rate 2 for about {secs} s"
    ));
    let mut proc = child(me, dir.path(), &[], 2, beats)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Error::Bench(format!("cannot run {}: {e}", me.display())))?;
    let pid = proc.id();
    let started = Instant::now();
    let mut at_10 = None;
    let mut last = None;
    while proc
        .try_wait()
        .map_err(|e| Error::Bench(format!("cannot wait for the soak run: {e}")))?
        .is_none()
    {
        let rss = ProcSample::read_pid(pid).map(|s| s.rss_bytes);
        if at_10.is_none() && started.elapsed() >= Duration::from_secs(10) {
            at_10 = rss;
        }
        last = rss.or(last);
        std::thread::sleep(Duration::from_millis(250));
    }
    Ok(match (at_10, last) {
        (Some(a), Some(b)) => format!(
            "soak: RSS at 10 s {:.1} MiB, at the end ({:.0} s) {:.1} MiB, ratio {:.3}",
            a as f64 / 1048576.0,
            started.elapsed().as_secs_f64(),
            b as f64 / 1048576.0,
            b as f64 / a as f64
        ),
        _ => "soak: the run ended before 10 s; no RSS comparison".to_string(),
    })
}

/// CPU time of this process (all its threads): the in-process yardsticks.
pub(super) fn own_cpu_secs() -> f64 {
    rusage_secs(libc::RUSAGE_SELF)
}

pub(super) fn children_cpu_secs() -> f64 {
    rusage_secs(libc::RUSAGE_CHILDREN)
}

fn rusage_secs(who: libc::c_int) -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// A UDP port on loopback whose next port is free too (a pod pair's data
/// and control streams), free when asked: another process may take it
/// before the pods do, and the run then fails and says so.
pub(super) fn free_udp_pair() -> Result<u16, Error> {
    for _ in 0..100 {
        let a = std::net::UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(|source| Error::Setup {
                action: "find a free UDP port",
                source,
            })?
            .port();
        if a < u16::MAX && std::net::UdpSocket::bind(("127.0.0.1", a + 1)).is_ok() {
            return Ok(a);
        }
    }
    Err(Error::Bench(
        "no two adjacent free UDP ports on loopback".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_total_is_its_last_one() {
        let text = "x\nLogger shutting down. Total: 12\nnoise\n[INFO] Logger shutting down. Total: 20480000 messages\n";
        assert_eq!(last_total(text.as_bytes()), Some(20_480_000));
        assert_eq!(last_total("nothing here".as_bytes()), None);
        // A line longer than the scan keeps no more than 4 KiB of it.
        let long = "y".repeat(100_000) + "\nTotal: 7\n";
        assert_eq!(last_total(long.as_bytes()), Some(7));
    }
}
