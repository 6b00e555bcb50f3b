//! The once-a-second progress line on stderr, and the process readings it
//! needs (RSS and CPU time from /proc).

use crate::live::Live;
use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Resident memory and CPU time of this process, from /proc/self.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ProcSample {
    pub rss_bytes: u64,
    pub cpu_secs: f64,
}

impl ProcSample {
    /// None where /proc is missing (not Linux); the line then leaves it out.
    pub fn read() -> Option<ProcSample> {
        Self::read_from("/proc/self")
    }

    /// Another process's readings (the bench watches its children).
    pub fn read_pid(pid: u32) -> Option<ProcSample> {
        Self::read_from(&format!("/proc/{pid}"))
    }

    fn read_from(dir: &str) -> Option<ProcSample> {
        let statm = std::fs::read_to_string(format!("{dir}/statm")).ok()?;
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        Some(ProcSample {
            rss_bytes: parse_statm_rss_pages(&statm)? * page_size(),
            cpu_secs: parse_stat_cpu_ticks(&stat)? as f64 / clock_ticks_per_sec(),
        })
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if v > 0 { v as u64 } else { 4096 }
}

fn clock_ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let v = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if v > 0 { v as f64 } else { 100.0 }
}

fn parse_statm_rss_pages(statm: &str) -> Option<u64> {
    statm.split_whitespace().nth(1)?.parse().ok()
}

/// utime + stime. The command name (field 2) may contain spaces, so fields
/// are counted from the closing parenthesis.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After ')' the fields start at 3 (state); utime is 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// The reporter thread; dropping `stop` (or calling [`Reporter::finish`])
/// ends it.
pub struct Reporter {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

impl Reporter {
    pub fn spawn(live: Arc<Live>, logger_batch: usize, started: Instant) -> Reporter {
        let (stop, ticks) = mpsc::channel::<()>();
        let handle = std::thread::Builder::new()
            .name("progress".into())
            .spawn(move || report_loop(&live, logger_batch, started, &ticks))
            .expect("spawn the progress thread");
        Reporter { stop, handle }
    }

    pub fn finish(self) {
        drop(self.stop);
        let _ = self.handle.join();
    }
}

fn report_loop(live: &Live, logger_batch: usize, started: Instant, ticks: &mpsc::Receiver<()>) {
    let mut last = (Instant::now(), live.progress(), ProcSample::read());
    loop {
        match ticks.recv_timeout(Duration::from_secs(1)) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        let now = (Instant::now(), live.progress(), ProcSample::read());
        eprintln!("{}", progress_line(started, &last, &now, logger_batch));
        last = now;
    }
}

type Reading = (Instant, (u64, u64), Option<ProcSample>);

fn progress_line(started: Instant, before: &Reading, now: &Reading, logger_batch: usize) -> String {
    let dt = now.0.duration_since(before.0).as_secs_f64().max(1e-9);
    let (msgs, batches) = now.1;
    let d_msgs = msgs.saturating_sub(before.1.0);
    let d_batches = batches.saturating_sub(before.1.1);
    let fill = if d_batches > 0 {
        format!(
            "{:.0}%",
            100.0 * d_msgs as f64 / d_batches as f64 / logger_batch as f64
        )
    } else {
        "-".to_string()
    };
    let mut line = format!(
        "[{:>6.1}s] {} msgs  {:.1} M msgs/s  batch fill {}",
        now.0.duration_since(started).as_secs_f64(),
        msgs,
        d_msgs as f64 / dt / 1e6,
        fill
    );
    if let (Some(a), Some(b)) = (before.2, now.2) {
        line.push_str(&format!(
            "  rss {:.1} MiB  cpu {:.0}%",
            b.rss_bytes as f64 / (1024.0 * 1024.0),
            100.0 * (b.cpu_secs - a.cpu_secs) / dt
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_formats() {
        assert_eq!(parse_statm_rss_pages("1000 250 30 4 0 60 0"), Some(250));
        let stat = "1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 111 222 0 0 20 0 4 0 100";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(333));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn reads_this_process() {
        let s = ProcSample::read().expect("linux /proc");
        assert!(s.rss_bytes > 0);
    }

    #[test]
    fn line_shows_rate_fill_and_resources() {
        let t0 = Instant::now();
        let before = (
            t0,
            (0, 0),
            Some(ProcSample {
                rss_bytes: 0,
                cpu_secs: 1.0,
            }),
        );
        let now = (
            t0 + Duration::from_secs(1),
            (2048, 4),
            Some(ProcSample {
                rss_bytes: 10 * 1024 * 1024,
                cpu_secs: 2.5,
            }),
        );
        let line = progress_line(t0, &before, &now, 1024);
        assert!(line.contains("2048 msgs"), "{line}");
        assert!(line.contains("batch fill 50%"), "{line}");
        assert!(line.contains("rss 10.0 MiB"), "{line}");
        assert!(line.contains("cpu 150%"), "{line}");
    }
}
