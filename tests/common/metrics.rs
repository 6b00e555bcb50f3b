//! Reading a run's /metrics endpoint.

use super::*;

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
