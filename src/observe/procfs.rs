//! Readings from /proc: a process's resident memory and CPU time, and the
//! CPU time of each pipeline thread by the name steady_state gives it.

/// Resident memory and CPU time of a process, from /proc.
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

    /// Another process's readings (the bench and tests watch children).
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

/// The pipeline's threads, by the names steady_state gives them.
const THREADS: [(&str, &str); 4] = [
    ("Troupe", "hb+gen"),
    ("worker", "worker"),
    ("logger", "logger"),
    ("checkpoint", "checkpoint"),
];

/// CPU seconds so far of each pipeline thread: (label, thread id, seconds).
pub(crate) fn thread_cpu() -> Vec<(&'static str, u64, f64)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let path = task.path();
        let Some(tid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse().ok())
        else {
            continue;
        };
        let (Ok(comm), Ok(stat)) = (
            std::fs::read_to_string(path.join("comm")),
            std::fs::read_to_string(path.join("stat")),
        ) else {
            continue;
        };
        if let (Some((_, label)), Some(ticks)) = (
            THREADS
                .iter()
                .find(|(prefix, _)| comm.trim().starts_with(prefix)),
            parse_stat_cpu_ticks(&stat),
        ) {
            out.push((*label, tid, ticks as f64 / clock_ticks_per_sec()));
        }
    }
    out
}

/// CPU share per label between two readings, counting only threads seen in
/// both (a restarted or finished thread would otherwise read as negative).
pub(crate) fn thread_shares(
    before: &[(&'static str, u64, f64)],
    now: &[(&'static str, u64, f64)],
    dt: f64,
) -> Vec<(&'static str, f64)> {
    THREADS
        .iter()
        // A thread the graph did not start (paced, only the troupe's).
        .filter(|(_, label)| now.iter().any(|(l, _, _)| l == label))
        .map(|(_, label)| {
            let used: f64 = now
                .iter()
                .filter(|(l, _, _)| l == label)
                .filter_map(|(_, tid, b)| {
                    before
                        .iter()
                        .find(|(_, t, _)| t == tid)
                        .map(|(_, _, a)| b - a)
                })
                .fold(0.0, |sum, d| sum + d); // not sum(), which starts at -0.0
            (*label, 100.0 * used / dt)
        })
        .collect()
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
    fn reads_this_process_and_its_threads() {
        let s = ProcSample::read().expect("linux /proc");
        assert!(s.rss_bytes > 0);
        // A test thread is none of the pipeline's.
        assert!(thread_cpu().is_empty());
    }
}
