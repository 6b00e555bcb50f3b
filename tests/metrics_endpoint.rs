//! fizzflow's /metrics endpoint serves valid Prometheus text, and the count
//! scraped after the run matches the run's own JSON summary.

mod common;
use common::metrics::*;
use common::*;
use std::io::Write;
use std::time::{Duration, Instant};

#[test]
fn scraped_totals_match_the_summary() {
    let mut run = Running::start_in(
        fizzflow_with_metrics(&["run", "--rate", "1", "--beats", "600", "--json"]).args([
            "--metrics-linger",
            "5000",
            "--checkpoint-interval",
            "100",
        ]),
        state_dir(),
    );
    let addr = run.metrics_address(Duration::from_secs(60));
    let mid_run = scrape(&addr);
    run.line_starting("done: ", Duration::from_secs(120));
    let after = scrape(&addr);
    let out = run.finish(Duration::from_secs(60)).stdout;
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
    sample(&mid_run, "fizzflow_messages_per_second", None);
}

/// A paced run serving metrics on a free port; returns it and the
/// endpoint's address once it is printed.
fn serving(extra: &[&str], rlimit_files: Option<u64>) -> (Running, String) {
    let mut cmd = fizzflow_with_metrics(&["run", "--rate", "1", "--json"]);
    cmd.args(extra);
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
    let mut run = Running::start_in(&mut cmd, state_dir());
    let addr = run.metrics_address(Duration::from_secs(60));
    (run, addr)
}

#[test]
fn a_client_that_never_reads_cannot_keep_the_process_alive() {
    let (mut run, addr) = serving(&["--beats", "1000"], None);
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
    run.line_starting("done: ", Duration::from_secs(60));
    let gone = run.exits_within(Duration::from_secs(5));
    let _ = sender.join();
    drop(hog);
    assert!(gone, "the process waited on a client that never reads");
}

#[test]
fn an_endless_request_header_is_cut_off() {
    let (mut run, addr) = serving(&["--beats", "100000"], None);
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
    let rss = fizzflow::observe::ProcSample::read_pid(run.id())
        .expect("child /proc")
        .rss_bytes;
    assert!(rss < 100 << 20, "RSS grew to {rss} bytes");
    // Still serving others.
    let text = scrape(&addr);
    sample(&text, "fizzflow_messages_per_second", None);
    signal(run.id(), libc::SIGTERM);
    assert!(run.exits_within(Duration::from_secs(30)));
}

#[test]
fn idle_connections_and_too_few_descriptors_do_not_lock_out_a_scrape() {
    // 64 descriptors in all: 200 idle connections run the process out of
    // them; the endpoint must refuse or time them out and serve again.
    let (mut run, addr) = serving(&["--beats", "100000"], Some(64));
    let idle: Vec<std::net::TcpStream> = (0..200)
        .filter_map(|_| std::net::TcpStream::connect(&addr).ok())
        .collect();
    let served = scrape_within(&addr, Duration::from_secs(20));
    drop(idle);
    assert!(
        served.is_some(),
        "no scrape got through while idle clients held on"
    );
    // And once they are gone, as soon as the server has seen them close
    // (it serves the few connections it holds until they end).
    let after = scrape_within(&addr, Duration::from_secs(10))
        .expect("a scrape once the idle clients are gone");
    sample(&after, "fizzflow_messages_per_second", None);
    signal(run.id(), libc::SIGTERM);
    assert!(run.exits_within(Duration::from_secs(30)));
}

#[test]
fn a_client_that_trickles_its_request_is_dropped() {
    let (mut run, addr) = serving(&["--beats", "100000"], None);
    let mut slow = std::net::TcpStream::connect(&addr).expect("connect");
    slow.set_nonblocking(true).unwrap();
    // One byte every 500 ms (the trickle is the thing under test): never
    // idle long enough for the server's 2 s read timeout, and never a whole
    // request head, so only its limit on a whole connection (4 s) can end
    // it, long before the 20 s this client keeps it up.
    let started = Instant::now();
    let mut closed = None;
    for byte in b"GET /metrics HTTP/1.1\r\nX-Slow: ".iter().cycle().take(40) {
        closed = closed_after_sending(&mut slow, *byte);
        if closed.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let held = started.elapsed();
    let how = closed.unwrap_or_else(|| panic!("a trickling client held a connection for {held:?}"));
    eprintln!("the server closed the connection after {held:?} ({how})");
    signal(run.id(), libc::SIGTERM);
    assert!(run.exits_within(Duration::from_secs(30)));
}

/// Sends one byte on a non-blocking `stream`, then looks (without waiting)
/// whether the server has closed the connection: how it shows if it has,
/// None if the connection is still open. Anything else fails the test, so
/// that a client that merely timed out or was answered is never taken for
/// a dropped one.
fn closed_after_sending(stream: &mut std::net::TcpStream, byte: u8) -> Option<&'static str> {
    use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, WouldBlock};
    match stream.write(&[byte]) {
        Ok(1) => {}
        Err(e) if matches!(e.kind(), BrokenPipe | ConnectionReset | ConnectionAborted) => {
            return Some("the write was refused");
        }
        other => panic!("sending one byte: {other:?}"),
    }
    let mut buf = [0u8; 256];
    match std::io::Read::read(stream, &mut buf) {
        Ok(0) => Some("end of stream"),
        Err(e) if e.kind() == WouldBlock => None,
        Err(e) if matches!(e.kind(), ConnectionReset | ConnectionAborted) => {
            Some("the connection was reset")
        }
        Ok(n) => panic!(
            "the server answered an unfinished request: {:?}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("reading: {e}"),
    }
}

/// A source pod serves its own metrics when asked: which pod it is and
/// where it stands, before any driver or sink is there.
#[test]
fn a_source_pod_says_which_pod_it_is() {
    let aeron = tempfile::tempdir().expect("tempdir");
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "pod",
        "source",
        "--progress",
        "off",
        "--metrics-addr",
        "127.0.0.1:0",
    ])
    .arg("--aeron-dir")
    .arg(aeron.path().join("none"))
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut source = Running::start(&mut cmd);
    let addr = source.metrics_address(Duration::from_secs(30));
    let text = scrape(&addr);
    assert!(
        text.contains("fizzflow_pod{role=\"source\",state=\"waiting\"} 1"),
        "{text}"
    );
    assert!(text.contains("fizzflow_pod_lag_values 0"), "{text}");
    // Without a driver it gives up on its own (exit 5), serving until then.
    assert!(source.exits_within(Duration::from_secs(60)));
}

/// A metrics address the person named that is taken refuses the run
/// (exit 2, naming it) before the state dir is made; one named by host
/// resolves.
#[test]
fn a_named_metrics_address_must_be_free_and_may_be_a_host_name() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = taken.local_addr().expect("its address").to_string();
    let scratch = tempfile::tempdir().expect("tempdir");
    let state = scratch.path().join("state");
    let child = std::process::Command::new(BIN)
        .args([
            "--beats",
            "5",
            "--no-telemetry",
            "--progress",
            "off",
            "--metrics-addr",
            &addr,
        ])
        .arg("--state-dir")
        .arg(&state)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let done = wait_with_deadline(child, Duration::from_secs(60));
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(
        done.stderr.contains(&format!("--metrics-addr {addr}")),
        "{}",
        done.stderr
    );
    assert!(!state.exists(), "nothing written before the refusal");
    let mut named = Running::start_in(
        std::process::Command::new(BIN)
            .args(["run", "--beats", "600", "--rate", "2", "--no-telemetry"])
            .args(["--progress", "off", "--metrics-addr", "localhost:0"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
        state_dir(),
    );
    let addr = named.metrics_address(Duration::from_secs(60));
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    assert!(named.finish(Duration::from_secs(60)).status.success());
}

/// The default port, when taken (another fizzflow, a pod), moves on with
/// a note: two runs on one machine both serve their metrics.
#[test]
fn the_default_metrics_port_moves_on_when_taken() {
    // Held here, or by someone else already: taken either way.
    let _held = std::net::TcpListener::bind("127.0.0.1:9901");
    let mut run = Running::start_in(
        std::process::Command::new(BIN)
            .args(["run", "--beats", "600", "--rate", "2", "--no-telemetry"])
            .args(["--progress", "off"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped()),
        state_dir(),
    );
    let moved = run.line_starting(
        "fizzflow: the metrics port 9901 is taken",
        Duration::from_secs(60),
    );
    let addr = run.metrics_address(Duration::from_secs(10));
    assert!(
        moved.ends_with(&format!("serving on {}", addr.rsplit(':').next().unwrap())),
        "{moved}"
    );
    scrape(&addr);
    assert!(run.finish(Duration::from_secs(60)).status.success());
}
