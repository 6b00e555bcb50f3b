//! An actor that panics is restarted in place and the totals stay exact:
//! nothing lost, nothing counted twice.

mod common;
use common::*;
use std::time::Duration;

fn survives(spec: &str, actor: &str) {
    let beats = 300u64;
    let done = run(
        &[
            "--rate",
            "0",
            "--beats",
            &beats.to_string(),
            "--json",
            "--inject-panic",
            spec,
        ],
        Duration::from_secs(120),
    );
    let v = done.success_json();
    assert!(
        v["restarts"][actor].as_u64().unwrap_or(0) > 0,
        "{actor} never restarted: {v}"
    );
    assert_eq!(field(&v, "beats"), beats);
    assert_closed_form(&v);
    assert_whole_beats(&v, 256);
}

#[test]
fn heartbeat_panics_lose_no_beat() {
    survives("heartbeat:40", "heartbeat");
}

#[test]
fn generator_panics_lose_no_value() {
    survives("generator:100000", "generator");
}

#[test]
fn worker_panics_resend_and_the_logger_drops_the_copies() {
    survives("worker:100000", "worker");
}

#[test]
fn logger_panics_count_nothing_twice() {
    survives("logger:100000", "logger");
}

#[test]
fn all_actors_panicking_at_once() {
    let done = run(
        &[
            "--rate",
            "0",
            "--beats",
            "300",
            "--json",
            "--inject-panic",
            "heartbeat:70",
            "--inject-panic",
            "generator:170000",
            "--inject-panic",
            "worker:130000",
            "--inject-panic",
            "logger:110000",
        ],
        Duration::from_secs(120),
    );
    let v = done.success_json();
    for actor in ["heartbeat", "generator", "worker", "logger"] {
        assert!(
            v["restarts"][actor].as_u64().unwrap_or(0) > 0,
            "{actor} never restarted: {v}"
        );
    }
    assert_closed_form(&v);
    assert_whole_beats(&v, 256);
    assert_eq!(field(&v, "beats"), 300);
}
