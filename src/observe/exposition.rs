//! fizzflow's metrics in the Prometheus text exposition format, with HELP
//! and TYPE lines.

use crate::observe::procfs::ProcSample;
use crate::pipeline::latency::BUCKETS_US;
use crate::pipeline::live::Live;
use crate::pipeline::names::Channel;
use crate::util::time::unix_ms_now;
use std::fmt::Write as _;

/// The exposition text for the current values.
pub fn render(live: &Live, channel_capacity: usize) -> String {
    let s = live.logger();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, f64)]| {
        let _ = writeln!(out, "# HELP fizzflow_{name} {help}");
        let _ = writeln!(out, "# TYPE fizzflow_{name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "fizzflow_{name}{labels} {value}");
        }
    };
    let plain = |v: f64| vec![(String::new(), v)];
    family(
        "messages_total",
        "counter",
        "Messages counted by the logger over the state dir's life, by kind.",
        &[
            ("{kind=\"fizz\"}".to_string(), s.counts.fizz as f64),
            ("{kind=\"buzz\"}".to_string(), s.counts.buzz as f64),
            ("{kind=\"fizzbuzz\"}".to_string(), s.counts.fizzbuzz as f64),
            ("{kind=\"value\"}".to_string(), s.counts.value as f64),
        ],
    );
    family(
        "messages_per_second",
        "gauge",
        "Messages counted per second over the last second.",
        &plain(live.msgs_per_sec()),
    );
    family(
        "sequence_errors_total",
        "counter",
        "Messages that were out of sequence or misclassified (0 in a correct run).",
        &plain(s.sequence_errors as f64),
    );
    family(
        "duplicates_dropped_total",
        "counter",
        "Re-sent messages dropped by sequence after a restart upstream.",
        &plain(s.duplicates_dropped as f64),
    );
    let r = live.restarts();
    family(
        "actor_restarts_total",
        "counter",
        "Restarts of each actor after a panic, in this process.",
        &r.iter()
            .map(|(actor, n)| (format!("{{actor=\"{actor}\"}}"), n as f64))
            .collect::<Vec<_>>(),
    );
    family(
        "checkpoints_written_total",
        "counter",
        "Checkpoints committed by this process.",
        &plain(live.checkpoints() as f64),
    );
    let (at_ms, micros) = live.last_checkpoint();
    let age = if at_ms > 0 {
        unix_ms_now().saturating_sub(at_ms) as f64 / 1000.0
    } else {
        f64::NAN
    };
    family(
        "last_checkpoint_age_seconds",
        "gauge",
        "Seconds since the last checkpoint commit (NaN before the first).",
        &plain(age),
    );
    family(
        "last_checkpoint_duration_seconds",
        "gauge",
        "How long the last checkpoint commit took, fsync included.",
        &plain(micros as f64 / 1e6),
    );
    family(
        "channel_fill_ratio",
        "gauge",
        "Share of each channel's slots in use, as its consumer last saw it.",
        &Channel::ALL
            .iter()
            .map(|c| {
                (
                    format!("{{channel=\"{}\"}}", c.as_str()),
                    live.fill(*c) as f64 / channel_capacity as f64,
                )
            })
            .collect::<Vec<_>>(),
    );
    // Cumulative buckets, as Prometheus histograms are.
    let (counts, sum_us) = live.latency_buckets();
    let mut below = 0u64;
    let mut buckets: Vec<(String, f64)> = BUCKETS_US
        .iter()
        .zip(counts)
        .map(|(le, n)| {
            below += n;
            (
                format!("_bucket{{le=\"{}\"}}", *le as f64 / 1e6),
                below as f64,
            )
        })
        .collect();
    let count = below + counts[BUCKETS_US.len()];
    buckets.push(("_bucket{le=\"+Inf\"}".to_string(), count as f64));
    buckets.push(("_sum".to_string(), sum_us as f64 / 1e6));
    buckets.push(("_count".to_string(), count as f64));
    family(
        "beat_latency_seconds",
        "histogram",
        "From the heartbeat sending a beat to the logger counting its last message, this launch.",
        &buckets,
    );
    family(
        "resident_memory_bytes",
        "gauge",
        "Resident set size of the process.",
        &plain(
            ProcSample::read()
                .map(|p| p.rss_bytes as f64)
                .unwrap_or(f64::NAN),
        ),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stats::LoggerStats;

    #[test]
    fn every_family_has_help_and_type() {
        let live = Live::default();
        let mut s = LoggerStats {
            messages: 15,
            ..Default::default()
        };
        s.counts.fizzbuzz = 1;
        live.publish(&s);
        let text = render(&live, 8192);
        let families: Vec<&str> = text.lines().filter(|l| l.starts_with("# TYPE")).collect();
        assert_eq!(
            families.len(),
            text.lines().filter(|l| l.starts_with("# HELP")).count()
        );
        assert!(families.len() >= 10, "{text}");
        assert!(
            text.contains("fizzflow_messages_total{kind=\"fizzbuzz\"} 1\n"),
            "{text}"
        );
        // Two beats: 80 µs and 3 ms; the buckets are cumulative.
        let t0 = std::time::Instant::now();
        live.beat_sent(0, t0);
        live.beat_sent(1, t0);
        live.beat_done(0, t0 + std::time::Duration::from_micros(80));
        live.beat_done(1, t0 + std::time::Duration::from_millis(3));
        let text = render(&live, 8192);
        for line in [
            "# TYPE fizzflow_beat_latency_seconds histogram",
            "fizzflow_beat_latency_seconds_bucket{le=\"0.00005\"} 0",
            "fizzflow_beat_latency_seconds_bucket{le=\"0.0001\"} 1",
            "fizzflow_beat_latency_seconds_bucket{le=\"0.002\"} 1",
            "fizzflow_beat_latency_seconds_bucket{le=\"0.005\"} 2",
            "fizzflow_beat_latency_seconds_bucket{le=\"+Inf\"} 2",
            "fizzflow_beat_latency_seconds_count 2",
            "fizzflow_beat_latency_seconds_sum 0.00308",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }
}
