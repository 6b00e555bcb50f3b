//! Whether each fault happened: where each signal landed, per fault kind,
//! the 90% rule for kills, and the report.

use super::Engine;
use super::Violation;
use std::fmt::Write as _;
use std::time::Duration;

/// Share of kills that must land for the torture to count as one, judged
/// once there are enough kills to judge (a short torture reports only).
const MIN_LANDED: f64 = 0.9;
const MIN_KILLS_JUDGED: u64 = 20;

/// Where a signal arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Landing {
    /// Before the launch record: lock, check, upgrade, first commit.
    BeforeLaunch,
    /// After the launch record: the pipeline, the drain, the final checkpoint.
    Running,
    /// The process had already ended: the fault did nothing.
    Missed,
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Tally {
    pub(super) injected: u64,
    pub(super) before_launch: u64,
    pub(super) running: u64,
    pub(super) missed: u64,
}

impl Tally {
    fn landed(&self) -> u64 {
        self.before_launch + self.running
    }
}

/// Faults that are a SIGKILL, whose landing the 90% rule counts.
const KILLS: [&str; 7] = [
    "kill-at-start",
    "kill-random",
    "kill-during-drain",
    "kill-with-panics",
    "pods-kill-sink",
    "pods-kill-source",
    "pods-kill-driver",
];

fn judge(landed: u64, aimed: u64) -> Result<(), Violation> {
    if aimed >= MIN_KILLS_JUDGED && (landed as f64) < MIN_LANDED * aimed as f64 {
        return Err(violation!(
            "only {landed} of {aimed} kills landed while fizzflow ran (at least {:.0}% must)",
            MIN_LANDED * 100.0
        ));
    }
    Ok(())
}

impl Engine {
    fn tally(&mut self, kind: &'static str) -> &mut Tally {
        self.faults.entry(kind).or_default()
    }

    /// A fault that was injected, with where it landed if it is a signal.
    pub(super) fn note(&mut self, kind: &'static str, landing: Option<Landing>) {
        let t = self.tally(kind);
        t.injected += 1;
        match landing {
            Some(Landing::BeforeLaunch) => t.before_launch += 1,
            Some(Landing::Running) => t.running += 1,
            Some(Landing::Missed) => t.missed += 1,
            None => {}
        }
    }

    /// (kills that landed, kills aimed).
    pub(super) fn kills_landed(&self) -> (u64, u64) {
        KILLS
            .iter()
            .filter_map(|k| self.faults.get(k))
            .fold((0, 0), |(l, a), t| {
                (l + t.landed(), a + t.landed() + t.missed)
            })
    }

    /// Fails the torture if fewer than [`MIN_LANDED`] of its kills landed,
    /// once there are enough of them to judge.
    pub(super) fn judge_landing(&self) -> Result<(), Violation> {
        let (landed, aimed) = self.kills_landed();
        judge(landed, aimed)
    }

    /// The report printed at the end, verdict included.
    pub(super) fn report(
        &self,
        seed: u64,
        cycles: u64,
        took: Duration,
        outcome: &Result<(), Violation>,
    ) -> String {
        let engine = self;
        let mut report = format!(
            "torture report (seed {seed}, {:.0} s)\n  cycles            {}\n",
            took.as_secs_f64(),
            cycles
        );
        for (kind, t) in &engine.faults {
            let _ = write!(report, "  {kind:<17} {}", t.injected);
            if t.landed() + t.missed > 0 {
                let _ = write!(
                    report,
                    " (landed {}: {} before the launch record, {} while running; missed {})",
                    t.landed(),
                    t.before_launch,
                    t.running,
                    t.missed
                );
            }
            report.push('\n');
        }
        let (landed, aimed) = engine.kills_landed();
        let _ = writeln!(
            report,
            "  kills landed      {landed} of {aimed} ({:.0}%)",
            100.0 * landed as f64 / aimed.max(1) as f64
        );
        let _ = writeln!(report, "  starts            {}", engine.starts);
        if let Ok(v) = engine.stats_json() {
            let _ = writeln!(
                report,
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
        let verdict = match &outcome {
            Ok(()) => {
                "  verdict           PASS: every invariant held after every fault\n".to_string()
            }
            Err(why) => format!("  verdict           FAIL: {why}\n"),
        };
        report.push_str(&verdict);
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torture_whose_kills_miss_fails() {
        assert!(judge(18, 20).is_ok());
        let err = judge(17, 20).unwrap_err();
        assert!(
            err.to_string().contains("only 17 of 20 kills landed"),
            "{err}"
        );
        // Too few to judge: a short torture reports, it does not fail.
        assert!(judge(0, 19).is_ok());
        assert!(judge(0, 0).is_ok());
    }
}
