//! The bench's report: what each configuration measured, how far its runs
//! spread from round to round, and the performance targets, each said met
//! or not from the numbers of this one invocation.

use super::{BenchPlan, Measured, PACED_ROUNDS};
use crate::util::units::{counted, micros};
use std::fmt::Write as _;

/// The required targets' bounds and the aims (README, performance).
const LEAST_RATIO_TO_PLAIN: f64 = 0.95;
const SPREAD_SLACK: f64 = 0.05;
const SPREAD_ROUNDS: u64 = 9;
const AIM_RATIO_TO_REFERENCE: f64 = 2.0;
const AIM_PACED_CPU: f64 = 4.0;
const AIM_P99_US: f64 = 100.0;
const AIM_TELEMETRY_COST: f64 = 0.03;

#[derive(Clone, Copy, Debug, PartialEq)]
struct Spread {
    min: f64,
    median: f64,
    max: f64,
}

impl Spread {
    fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let half = v.len() / 2;
        let median = if v.len().is_multiple_of(2) {
            (v[half - 1] + v[half]) / 2.0
        } else {
            v[half]
        };
        Some(Spread {
            min: v[0],
            median,
            max: v[v.len() - 1],
        })
    }

    /// The slowest run over the median: 1 when every run was as fast.
    fn steadiness(&self) -> f64 {
        self.min / self.median
    }
}

fn median(values: &[f64]) -> f64 {
    Spread::of(values).map_or(f64::NAN, |s| s.median)
}

fn cell(x: f64, fmt: impl Fn(f64) -> String) -> String {
    if x.is_finite() {
        fmt(x)
    } else {
        "-".to_string()
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

pub(super) fn report(
    plan: &BenchPlan,
    rows: &[(&str, &Measured)],
    reference: Option<&Measured>,
) -> String {
    let mut out = String::new();
    unpaced_table(&mut out, plan, rows, reference);
    paced_table(&mut out, plan, rows);
    targets(&mut out, plan, rows, reference);
    out
}

fn unpaced_table(
    out: &mut String,
    plan: &BenchPlan,
    rows: &[(&str, &Measured)],
    reference: Option<&Measured>,
) {
    let default = rows[0].1;
    out.push_str(
        "| configuration | unpaced M msgs/s | min | max | slowest / median | ratio to default | M msgs per CPU-second | beat latency p99 |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let mega = |x: f64| format!("{:.1}", x / 1e6);
    // Each row beside the default timed the same way: the reference by its
    // process's wall time, so the default's wall time too.
    let base = median(&default.unpaced);
    let all = rows
        .iter()
        .map(|&(name, m)| (name, m, base))
        .chain(reference.map(|m| ("reference (wall time)", m, median(&default.wall))));
    for (name, m, base) in all {
        let s = Spread::of(&m.unpaced);
        let part = |f: fn(&Spread) -> f64| s.as_ref().map_or(f64::NAN, f);
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            cell(part(|s| s.median), mega),
            cell(part(|s| s.min), mega),
            cell(part(|s| s.max), mega),
            cell(part(Spread::steadiness), |x| format!("{x:.3}")),
            cell(part(|s| s.median) / base, |x| format!("{x:.3}")),
            cell(median(&m.per_cpu), mega),
            cell(median(&m.unpaced_p99), |x| micros(x as u64)),
        );
    }
    let _ = writeln!(
        out,
        "\n{} alternating (each round runs every row once, in turn); unpaced: --rate 0, {} per run (batch-1 and single-item: 1/16 of that), the run's own rate (graph start to stop); CPU from the kernel's accounting of each child, start-up included (plain-threads and fused-loop: this process's); telemetry and metrics on unless named{}\n",
        counted(plan.rounds, "round"),
        counted(plan.beats * 8192, "message"),
        if reference.is_some() {
            "; reference: the lesson's logged total over its process's wall time"
        } else {
            ""
        }
    );
}

fn paced_table(out: &mut String, plan: &BenchPlan, rows: &[(&str, &Measured)]) {
    let paced: Vec<&(&str, &Measured)> = rows
        .iter()
        .filter(|(_, m)| !m.paced_cpu.is_empty())
        .collect();
    if paced.is_empty() {
        return;
    }
    let base = median(&rows[0].1.paced_cpu);
    out.push_str(
        "| configuration | paced CPU s per G msgs | ratio to default | beat latency p50 / p99 / p99.9 / max |\n|---|---:|---:|---:|\n",
    );
    for (name, m) in paced {
        let cpu = median(&m.paced_cpu);
        let lat: Vec<String> = m
            .paced_latency
            .iter()
            .map(|v| cell(median(v), |x| micros(x as u64)))
            .collect();
        let _ = writeln!(
            out,
            "| {name} | {} | {} | {} |",
            cell(cpu, |x| format!("{x:.2}")),
            cell(cpu / base, |x| format!("{x:.3}")),
            lat.join(" / ")
        );
    }
    let _ = writeln!(
        out,
        "\nmedians of the first {}; paced: --rate 2, {} of 256-message credits; beat latency from the heartbeat's send to the logger's count of the beat's last message\n",
        counted(PACED_ROUNDS.min(plan.rounds), "round"),
        counted(plan.paced_beats, "beat")
    );
}

fn targets(
    out: &mut String,
    plan: &BenchPlan,
    rows: &[(&str, &Measured)],
    reference: Option<&Measured>,
) {
    let row = |name: &str| rows.iter().find(|(n, _)| *n == name).map(|(_, m)| *m);
    let default = rows[0].1;
    let _ = writeln!(out, "targets:");
    match row("plain-threads").and_then(|p| Spread::of(&p.unpaced)) {
        Some(plain) => {
            let ours = Spread::of(&default.unpaced).expect("the default always runs");
            let ratio = ours.median / plain.median;
            let _ = writeln!(
                out,
                "  required  default / plain-threads, unpaced medians: {ratio:.3} (at least {LEAST_RATIO_TO_PLAIN}): {}",
                verdict(ratio >= LEAST_RATIO_TO_PLAIN)
            );
            let floor = plain.steadiness() - SPREAD_SLACK;
            let enough = plan.rounds >= SPREAD_ROUNDS;
            let _ = writeln!(
                out,
                "  required  slowest / median, default {:.3} against plain-threads {:.3} (at least {floor:.3}, over {SPREAD_ROUNDS}+ rounds): {}",
                ours.steadiness(),
                plain.steadiness(),
                if enough {
                    verdict(ours.steadiness() >= floor)
                } else {
                    "not judged (run --rounds 9 or more)"
                }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  required  default against plain-threads: not measured (--only left plain-threads out)"
            );
        }
    }
    match reference {
        Some(r) => {
            let (ours, theirs) = (median(&default.wall), median(&r.unpaced));
            let ratio = ours / theirs;
            let _ = writeln!(
                out,
                "  aimed     default / reference, by process wall time: {:.1} / {:.1} M msgs/s = {ratio:.2}x (at least {AIM_RATIO_TO_REFERENCE}x): {}",
                ours / 1e6,
                theirs / 1e6,
                verdict(ratio >= AIM_RATIO_TO_REFERENCE)
            );
        }
        None => {
            let _ = writeln!(
                out,
                "  aimed     default / reference: not measured (--reference PATH runs a built lesson)"
            );
        }
    }
    let cpu = median(&default.paced_cpu);
    if cpu.is_finite() {
        let p99 = median(&default.paced_latency[1]);
        let _ = writeln!(
            out,
            "  aimed     paced CPU, default: {cpu:.2} s per G msgs (at most {AIM_PACED_CPU}): {}",
            verdict(cpu <= AIM_PACED_CPU)
        );
        let _ = writeln!(
            out,
            "  aimed     paced beat latency p99, default: {} (under {} µs): {}",
            micros(p99 as u64),
            AIM_P99_US,
            verdict(p99 < AIM_P99_US)
        );
    }
    if let Some(off) = row("telemetry-off") {
        let paced = median(&default.paced_cpu) / median(&off.paced_cpu) - 1.0;
        let unpaced = 1.0 - median(&default.unpaced) / median(&off.unpaced);
        let judged = if paced.is_finite() {
            verdict(paced <= AIM_TELEMETRY_COST)
        } else {
            "not measured (paced runs skipped)"
        };
        let _ = writeln!(
            out,
            "  aimed     telemetry cost, paced CPU: {} (at most {:.0}%): {judged}; unpaced throughput: {}",
            cell(paced * 100.0, |x| format!("{x:+.1}%")),
            AIM_TELEMETRY_COST * 100.0,
            cell(unpaced * 100.0, |x| format!("{x:+.1}%")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spread_is_the_slowest_run_over_the_median() {
        assert_eq!(Spread::of(&[1.0, 4.0]).map(|s| s.median), Some(2.5));
        let s = Spread::of(&[400.0, 300.0, f64::NAN, 500.0, 450.0, 420.0]).unwrap();
        assert_eq!(
            s,
            Spread {
                min: 300.0,
                median: 420.0,
                max: 500.0
            }
        );
        assert!((s.steadiness() - 300.0 / 420.0).abs() < 1e-12);
        assert_eq!(Spread::of(&[f64::NAN]), None);
    }

    fn measured(unpaced: &[f64]) -> Measured {
        Measured {
            unpaced: unpaced.to_vec(),
            ..Measured::default()
        }
    }

    #[test]
    fn the_targets_are_judged_from_the_numbers() {
        let plan = BenchPlan {
            beats: 1,
            paced_beats: 0,
            rounds: 9,
            only: vec![],
            soak_secs: 0,
            reference: None,
        };
        let steady = measured(&[100.0; 9]);
        let mut uneven = vec![100.0; 8];
        uneven.push(60.0);
        let uneven = measured(&uneven);
        let plain = measured(&[100.0; 9]);
        let text = report(
            &plan,
            &[("default", &steady), ("plain-threads", &plain)],
            None,
        );
        assert!(
            text.contains("plain-threads, unpaced medians: 1.000 (at least 0.95): met"),
            "{text}"
        );
        assert!(
            text.contains(
                "default 1.000 against plain-threads 1.000 (at least 0.950, over 9+ rounds): met"
            ),
            "{text}"
        );
        let text = report(
            &plan,
            &[("default", &uneven), ("plain-threads", &plain)],
            None,
        );
        assert!(text.contains("default 0.600 against plain-threads 1.000 (at least 0.950, over 9+ rounds): NOT met"), "{text}");
        let slow = measured(&[90.0; 9]);
        let text = report(
            &plan,
            &[("default", &slow), ("plain-threads", &plain)],
            None,
        );
        assert!(text.contains("0.900 (at least 0.95): NOT met"), "{text}");
    }
}
