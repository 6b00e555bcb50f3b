//! fizzflow's /metrics endpoint serves valid Prometheus text, and the count
//! scraped after the run matches the run's own JSON summary.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};

fn scrape(addr: &str) -> String {
    ureq::get(&format!("http://{addr}/metrics"))
        .timeout(Duration::from_secs(10))
        .call()
        .expect("scrape")
        .into_string()
        .expect("text")
}

fn sample(text: &str, name: &str, label: Option<(&str, &str)>) -> f64 {
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

#[test]
fn scraped_totals_match_the_summary() {
    let dir = state_dir();
    let mut child = std::process::Command::new(BIN)
        .args([
            "run",
            "--rate",
            "1",
            "--beats",
            "600",
            "--json",
            "--no-telemetry",
            "--progress",
            "off",
        ])
        .args([
            "--metrics-addr",
            "127.0.0.1:0",
            "--metrics-linger",
            "5000",
            "--checkpoint-interval",
            "100",
        ])
        .arg("--state-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut addr = None;
    let mut mid_run = None;
    let mut line = String::new();
    // Read stderr line by line: the address first, then the summary.
    while stderr.read_line(&mut line).unwrap_or(0) > 0 {
        assert!(Instant::now() < deadline, "run took too long");
        if let Some(rest) = line.trim().strip_prefix("fizzflow: metrics at http://") {
            let a = rest.trim_end_matches("/metrics").to_string();
            mid_run = Some(scrape(&a));
            addr = Some(a);
        }
        if line.starts_with("done: ") {
            break;
        }
        line.clear();
    }
    let addr = addr.expect("the metrics address is printed");
    let after = scrape(&addr);
    let mut out = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut out).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let summary: serde_json::Value = serde_json::from_str(out.trim()).expect("JSON summary");

    let kinds = ["fizz", "buzz", "fizzbuzz", "value"];
    let scraped: f64 = kinds
        .iter()
        .map(|k| sample(&after, "fizzflow_messages_total", Some(("kind", k))))
        .sum();
    assert_eq!(scraped as u64, field(&summary, "messages"));
    for k in kinds {
        assert_eq!(
            sample(&after, "fizzflow_messages_total", Some(("kind", k))) as u64,
            field(&summary, k)
        );
    }
    assert_eq!(sample(&after, "fizzflow_sequence_errors_total", None), 0.0);
    assert!(sample(&after, "fizzflow_checkpoints_written_total", None) >= 2.0);
    assert!(sample(&after, "fizzflow_resident_memory_bytes", None) > 0.0);
    assert!(sample(&after, "fizzflow_last_checkpoint_duration_seconds", None) >= 0.0);
    // Every beat's latency is in the histogram, as in the summary.
    let count = |suffix: &str| {
        after
            .lines()
            .find_map(|l| l.strip_prefix(&format!("fizzflow_beat_latency_seconds{suffix} ")))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no beat latency {suffix} in:\n{after}"))
    };
    assert!(after.contains("# TYPE fizzflow_beat_latency_seconds histogram"));
    assert_eq!(count("_count") as u64, 600);
    assert_eq!(count("_bucket{le=\"+Inf\"}") as u64, 600);
    assert_eq!(summary["beat_latency_us"]["beats"].as_u64(), Some(600));
    // The scrape taken at start parses too.
    sample(
        mid_run.as_deref().unwrap(),
        "fizzflow_messages_per_second",
        None,
    );
}

/// A child that is killed when the test is done with it, failed or not.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A paced run serving metrics on a free port; returns the child and the
/// endpoint's address once it is printed.
fn serving(
    extra: &[&str],
    rlimit_files: Option<u64>,
) -> (Killed, String, BufReader<std::process::ChildStderr>) {
    let dir = state_dir();
    let mut cmd = std::process::Command::new(BIN);
    cmd.args(["run", "--rate", "1", "--no-telemetry", "--progress", "off"])
        .args(["--metrics-addr", "127.0.0.1:0", "--json"])
        .args(extra)
        .arg("--state-dir")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(limit) = rlimit_files {
        use std::os::unix::process::CommandExt;
        // SAFETY: only setrlimit between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let r = libc::rlimit {
                    rlim_cur: limit,
                    rlim_max: limit,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &r) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().expect("spawn");
    // The state dir lives as long as the test process; leak it on purpose.
    std::mem::forget(dir);
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let child = Killed(child);
    match metrics_address(&mut stderr) {
        Some(addr) => (child, addr, stderr),
        None => panic!("fizzflow printed no metrics address"),
    }
}

fn metrics_address(stderr: &mut BufReader<std::process::ChildStderr>) -> Option<String> {
    let mut line = String::new();
    loop {
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            return None;
        }
        if let Some(rest) = line.trim().strip_prefix("fizzflow: metrics at http://") {
            return Some(rest.trim_end_matches("/metrics").to_string());
        }
    }
}

/// Reads stderr until the summary line; returns when it came.
fn summary_seen(stderr: &mut BufReader<std::process::ChildStderr>, limit: Duration) -> Instant {
    let deadline = Instant::now() + limit;
    let mut line = String::new();
    loop {
        assert!(Instant::now() < deadline, "no summary within {limit:?}");
        line.clear();
        if stderr.read_line(&mut line).unwrap_or(0) == 0 {
            panic!("stderr closed before the summary");
        }
        if line.starts_with("done: ") {
            return Instant::now();
        }
    }
}

/// Waits for the child to exit, at most `limit`; true if it did.
fn exits_within(child: &mut Killed, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if child.0.try_wait().expect("wait").is_some() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn a_client_that_never_reads_cannot_keep_the_process_alive() {
    let (mut child, addr, mut stderr) = serving(&["--beats", "1000"], None);
    let hog = std::net::TcpStream::connect(&addr).expect("connect");
    // Requests pipelined for 15 s, the connection held open, and no
    // response ever read: answering them all blocks on a full socket.
    let sender = {
        let mut hog = hog.try_clone().expect("clone");
        std::thread::spawn(move || {
            let requests = b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(100);
            let _ = hog.set_write_timeout(Some(Duration::from_millis(500)));
            let until = Instant::now() + Duration::from_secs(15);
            while Instant::now() < until {
                if hog.write_all(&requests).is_err() {
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        })
    };
    summary_seen(&mut stderr, Duration::from_secs(60));
    let gone = exits_within(&mut child, Duration::from_secs(5));
    let _ = sender.join();
    drop(hog);
    assert!(gone, "the process waited on a client that never reads");
}

#[test]
fn an_endless_request_header_is_cut_off() {
    let (mut child, addr, _stderr) = serving(&["--beats", "100000"], None);
    let mut hog = std::net::TcpStream::connect(&addr).expect("connect");
    hog.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    hog.write_all(b"GET /metrics HTTP/1.1\r\nX-Long: ").unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0usize;
    // The server stops reading after a few KiB and closes: the writes fail
    // long before 256 MiB have gone out.
    while sent < 256 << 20 {
        if hog.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        sent < 256 << 20,
        "the server kept reading an endless header"
    );
    let rss = fizzflow::observe::ProcSample::read_pid(child.0.id())
        .expect("child /proc")
        .rss_bytes;
    assert!(rss < 100 << 20, "RSS grew to {rss} bytes");
    // Still serving others.
    let text = scrape(&addr);
    sample(&text, "fizzflow_messages_per_second", None);
    signal(child.0.id(), libc::SIGTERM);
    assert!(exits_within(&mut child, Duration::from_secs(30)));
}

#[test]
fn idle_connections_and_too_few_descriptors_do_not_lock_out_a_scrape() {
    // 64 descriptors in all: 200 idle connections run the process out of
    // them; the endpoint must refuse or time them out and serve again.
    let (mut child, addr, _stderr) = serving(&["--beats", "100000"], Some(64));
    let idle: Vec<std::net::TcpStream> = (0..200)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    let served = loop {
        let attempt = ureq::get(&format!("http://{addr}/metrics"))
            .timeout(Duration::from_secs(2))
            .call();
        if let Ok(response) = attempt {
            break Some(response.into_string().expect("text"));
        }
        if Instant::now() > deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(idle);
    assert!(
        served.is_some(),
        "no scrape got through while idle clients held on"
    );
    // And once they are gone, at once.
    std::thread::sleep(Duration::from_millis(200));
    sample(&scrape(&addr), "fizzflow_messages_per_second", None);
    signal(child.0.id(), libc::SIGTERM);
    assert!(exits_within(&mut child, Duration::from_secs(30)));
}

#[test]
fn a_client_that_trickles_its_request_is_dropped() {
    let (mut child, addr, _stderr) = serving(&["--beats", "100000"], None);
    let mut slow = std::net::TcpStream::connect(&addr).expect("connect");
    slow.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let started = Instant::now();
    let mut closed = false;
    for byte in b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter().cycle().take(40) {
        if slow.write_all(&[*byte]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    if !closed {
        // Nothing more is sent; the server must have given up by now.
        let mut buf = [0u8; 64];
        closed = matches!(std::io::Read::read(&mut slow, &mut buf), Ok(0) | Err(_));
    }
    assert!(
        closed,
        "a trickling client held a connection for {:?}",
        started.elapsed()
    );
    signal(child.0.id(), libc::SIGTERM);
    assert!(exits_within(&mut child, Duration::from_secs(30)));
}
