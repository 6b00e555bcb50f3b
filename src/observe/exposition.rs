//! fizzflow's metrics in the Prometheus text exposition format (0.0.4),
//! with HELP and TYPE lines, written by the `prometheus-client` crate.
//!
//! The values are read from [`Live`]'s atomics at scrape time by a
//! [`Collector`]: nothing is registered, counted or allocated on the
//! pipeline's side, and a scrape allocates only its registry and its text.

use crate::observe::procfs::ProcSample;
use crate::pipeline::latency::BUCKETS_US;
use crate::pipeline::live::Live;
use crate::pipeline::names::Channel;
use crate::util::time::unix_ms_now;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::fmt::Error;
use std::sync::Arc;

/// The Content-Type of what [`render`] writes.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The exposition text for the current values.
pub fn render(live: &Arc<Live>, channel_capacity: usize) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape {
        live: live.clone(),
        channel_capacity,
    }));
    let mut out = String::new();
    // Writing to a String cannot fail, and every value is encodable.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

/// Reads [`Live`] when the registry is encoded.
#[derive(Debug)]
struct Scrape {
    live: Arc<Live>,
    channel_capacity: usize,
}

/// One family: its name (with `_total` left off a counter's: the encoder
/// adds it), HELP text and type, and its samples as (labels, value).
fn family<L: AsRef<[(&'static str, &'static str)]>, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    kind: MetricType,
    help: &str,
    samples: impl IntoIterator<Item = (L, M)>,
) -> Result<(), Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, value) in samples {
        value.encode(metric.encode_family(&labels.as_ref())?)?;
    }
    Ok(())
}

/// A family of one sample without labels.
fn single(value: impl EncodeMetric) -> [([(&'static str, &'static str); 0], impl EncodeMetric); 1] {
    [([], value)]
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let (live, e) = (&*self.live, &mut encoder);
        let s = live.logger();
        let c = &s.counts;
        family(
            e,
            "fizzflow_messages",
            MetricType::Counter,
            "Messages counted by the logger over the state dir's life, by kind.",
            [
                ("fizz", c.fizz),
                ("buzz", c.buzz),
                ("fizzbuzz", c.fizzbuzz),
                ("value", c.value),
            ]
            .map(|(kind, n)| ([("kind", kind)], ConstCounter::new(n))),
        )?;
        family(
            e,
            "fizzflow_messages_per_second",
            MetricType::Gauge,
            "Messages counted per second over the last second.",
            single(ConstGauge::new(live.msgs_per_sec())),
        )?;
        family(
            e,
            "fizzflow_sequence_errors",
            MetricType::Counter,
            "Messages that were out of sequence or misclassified (0 in a correct run).",
            single(ConstCounter::new(s.sequence_errors)),
        )?;
        family(
            e,
            "fizzflow_duplicates_dropped",
            MetricType::Counter,
            "Re-sent messages dropped by sequence after a restart upstream.",
            single(ConstCounter::new(s.duplicates_dropped)),
        )?;
        let r = live.restarts();
        family(
            e,
            "fizzflow_actor_restarts",
            MetricType::Counter,
            "Restarts of each actor after a panic, in this process.",
            live.actors().iter().map(|actor| {
                (
                    [("actor", actor.as_str())],
                    ConstCounter::new(r.of(actor.as_str())),
                )
            }),
        )?;
        if live
            .actors()
            .contains(&crate::pipeline::actor::receiver::NAME)
        {
            pod_sink(live, e)?;
        }
        family(
            e,
            "fizzflow_checkpoints_written",
            MetricType::Counter,
            "Checkpoints committed by this process.",
            single(ConstCounter::new(live.checkpoints())),
        )?;
        let (at_ms, micros) = live.last_checkpoint();
        let age = if at_ms > 0 {
            unix_ms_now().saturating_sub(at_ms) as f64 / 1000.0
        } else {
            f64::NAN
        };
        family(
            e,
            "fizzflow_last_checkpoint_age_seconds",
            MetricType::Gauge,
            "Seconds since the last checkpoint commit (NaN before the first).",
            single(ConstGauge::new(age)),
        )?;
        family(
            e,
            "fizzflow_last_checkpoint_duration_seconds",
            MetricType::Gauge,
            "How long the last checkpoint commit took, fsync included.",
            single(ConstGauge::new(micros as f64 / 1e6)),
        )?;
        family(
            e,
            "fizzflow_channel_fill_ratio",
            MetricType::Gauge,
            "Share of each channel's slots in use, as its consumer last saw it.",
            Channel::ALL.map(|ch| {
                let ratio = live.fill(ch) as f64 / self.channel_capacity as f64;
                ([("channel", ch.as_str())], ConstGauge::new(ratio))
            }),
        )?;
        // Per bucket, not cumulative: the encoder adds them up, and the
        // beats above the last bound only count in +Inf.
        let (counts, sum_us) = live.latency_buckets();
        let buckets: [(f64, u64); BUCKETS_US.len()] =
            std::array::from_fn(|i| (BUCKETS_US[i] as f64 / 1e6, counts[i]));
        let count = counts.iter().sum();
        e.encode_descriptor(
            "fizzflow_beat_latency_seconds",
            "From the heartbeat sending a beat to the logger counting its last message, this launch.",
            None,
            MetricType::Histogram,
        )?
        .encode_histogram::<NoLabelSet>(sum_us as f64 / 1e6, count, &buckets, None)?;
        let mut rss = e.encode_descriptor(
            "fizzflow_resident_memory_bytes",
            "Resident set size of the process.",
            None,
            MetricType::Gauge,
        )?;
        match ProcSample::read() {
            Some(p) => rss.encode_gauge(&p.rss_bytes),
            None => rss.encode_gauge(&f64::NAN),
        }
    }
}

/// What a sink pod adds: which pod it is, the positions of its link and
/// the lag between what it received and what is durable.
fn pod_sink(live: &Live, e: &mut DescriptorEncoder) -> Result<(), Error> {
    let l = live.link().read();
    pod_link(
        e,
        &PodLink {
            role: "sink",
            serving: l.serving,
            at: "received",
            next: l.next,
            committed: live.committed(),
            help: [
                "Which pod this process is (1 for its role), and whether a source is being served.",
                "Stream positions: the next one the sink takes, and its newest durable cut's.",
                "Values received and not yet durable (received minus committed position).",
            ],
        },
    )?;
    family(
        e,
        "fizzflow_pod_resumes",
        MetricType::Counter,
        "Times the sink asked for the stream again (a new source, or a gap), this launch.",
        single(ConstCounter::new(l.resumes)),
    )?;
    family(
        e,
        "fizzflow_pod_discarded_values",
        MetricType::Counter,
        "Values dropped that were sent before the source heard the sink's latest order, this launch.",
        single(ConstCounter::new(l.discarded)),
    )
}

/// What either pod says of its link: which pod it is, where its end of the
/// stream stands against the sink's durable cut, and the lag between them
/// (each in its own words: `help` for the three families).
struct PodLink {
    role: &'static str,
    serving: bool,
    /// The label of this end's position: "received" or "sent".
    at: &'static str,
    next: u64,
    committed: u64,
    help: [&'static str; 3],
}

fn pod_link(e: &mut DescriptorEncoder, p: &PodLink) -> Result<(), Error> {
    family(
        e,
        "fizzflow_pod",
        MetricType::Gauge,
        p.help[0],
        [
            (
                [("role", p.role), ("state", "serving")],
                ConstGauge::new(i64::from(p.serving)),
            ),
            (
                [("role", p.role), ("state", "waiting")],
                ConstGauge::new(i64::from(!p.serving)),
            ),
        ],
    )?;
    family(
        e,
        "fizzflow_pod_position",
        MetricType::Gauge,
        p.help[1],
        [
            ([("at", p.at)], ConstGauge::new(p.next as i64)),
            ([("at", "committed")], ConstGauge::new(p.committed as i64)),
        ],
    )?;
    family(
        e,
        "fizzflow_pod_lag_values",
        MetricType::Gauge,
        p.help[2],
        single(ConstGauge::new(p.next.saturating_sub(p.committed) as i64)),
    )
}

/// What a source pod knows of its link at one moment.
#[derive(Clone, Copy, Debug, Default)]
pub struct SourceSample {
    pub serving: bool,
    /// Values this process has published.
    pub sent: u64,
    /// The position of the next value it publishes.
    pub next: u64,
    /// The sink's newest durable cut, as the sink last said.
    pub committed: u64,
}

/// The exposition text of a source pod: which pod it is and its positions,
/// under the same names as the sink's.
pub fn render_source(sample: SourceSample) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SourceScrape(sample)));
    let mut out = String::new();
    // Writing to a String cannot fail, and every value is encodable.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &registry);
    out
}

#[derive(Debug)]
struct SourceScrape(SourceSample);

impl Collector for SourceScrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let (s, e) = (&self.0, &mut encoder);
        pod_link(
            e,
            &PodLink {
                role: "source",
                serving: s.serving,
                at: "sent",
                next: s.next,
                committed: s.committed,
                help: [
                    "Which pod this process is (1 for its role), and whether it serves a sink.",
                    "Stream positions: the next one the source sends, and the sink's newest durable cut.",
                    "Values sent and not yet durable at the sink (sent minus committed position).",
                ],
            },
        )?;
        family(
            e,
            "fizzflow_pod_sent_values",
            MetricType::Counter,
            "Values this source process has published (a resume sends some again).",
            single(ConstCounter::new(s.sent)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::stats::LoggerStats;

    #[test]
    fn every_family_has_help_and_type() {
        let live = Arc::new(Live::default());
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
        assert_eq!(families.len(), 11, "{text}");
        for line in [
            "# HELP fizzflow_messages_total Messages counted by the logger over the state dir's life, by kind.",
            "# TYPE fizzflow_messages_total counter",
            "fizzflow_messages_total{kind=\"fizzbuzz\"} 1",
            "fizzflow_messages_total{kind=\"value\"} 0",
            "# TYPE fizzflow_sequence_errors_total counter",
            "fizzflow_sequence_errors_total 0",
            "fizzflow_actor_restarts_total{actor=\"logger\"} 0",
            "# TYPE fizzflow_messages_per_second gauge",
            "fizzflow_last_checkpoint_age_seconds NaN",
            "fizzflow_channel_fill_ratio{channel=\"worker_to_logger\"} 0.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
        // Two beats: 80 µs and 3 ms; the buckets are cumulative.
        let t0 = std::time::Instant::now();
        live.beat_sent(0, t0);
        live.beat_sent(1, t0);
        live.beat_done(0, t0 + std::time::Duration::from_micros(80));
        live.beat_done(1, t0 + std::time::Duration::from_millis(3));
        let text = render(&live, 8192);
        for line in [
            "# TYPE fizzflow_beat_latency_seconds histogram",
            // Bounds are written as Go's clients write them (5e-05, not
            // 0.00005), so the series match theirs.
            "fizzflow_beat_latency_seconds_bucket{le=\"5e-05\"} 0",
            "fizzflow_beat_latency_seconds_bucket{le=\"0.0001\"} 1",
            "fizzflow_beat_latency_seconds_bucket{le=\"0.002\"} 1",
            "fizzflow_beat_latency_seconds_bucket{le=\"0.005\"} 2",
            "fizzflow_beat_latency_seconds_bucket{le=\"10\"} 2",
            "fizzflow_beat_latency_seconds_bucket{le=\"+Inf\"} 2",
            "fizzflow_beat_latency_seconds_count 2",
            "fizzflow_beat_latency_seconds_sum 0.00308",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }

    #[test]
    fn beats_above_the_last_bound_count_only_in_inf() {
        let live = Arc::new(Live::default());
        let t0 = std::time::Instant::now();
        live.beat_sent(0, t0);
        live.beat_done(0, t0 + std::time::Duration::from_secs(11));
        let text = render(&live, 8192);
        for line in [
            "fizzflow_beat_latency_seconds_bucket{le=\"10\"} 0",
            "fizzflow_beat_latency_seconds_bucket{le=\"+Inf\"} 1",
            "fizzflow_beat_latency_seconds_count 1",
            "fizzflow_beat_latency_seconds_sum 11.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in:\n{text}");
        }
    }

    #[test]
    fn a_source_says_which_pod_it_is_and_its_lag() {
        let text = render_source(SourceSample {
            serving: true,
            sent: 900,
            next: 1000,
            committed: 400,
        });
        assert!(
            text.contains("fizzflow_pod{role=\"source\",state=\"serving\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("fizzflow_pod_position{at=\"sent\"} 1000"),
            "{text}"
        );
        assert!(text.contains("fizzflow_pod_lag_values 600"), "{text}");
        assert_eq!(
            text.lines().filter(|l| l.starts_with("# TYPE")).count(),
            text.lines().filter(|l| l.starts_with("# HELP")).count()
        );
    }
}
