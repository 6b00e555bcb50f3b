//! fizzflow's /metrics endpoint serves valid Prometheus text, and the count
//! scraped after the run matches the run's own JSON summary.

mod common;
use common::*;
use std::io::{BufRead, BufReader};
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
    // The scrape taken at start parses too.
    sample(
        mid_run.as_deref().unwrap(),
        "fizzflow_messages_per_second",
        None,
    );
}
