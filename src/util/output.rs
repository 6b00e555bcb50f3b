//! Writing to stdout and stderr without ever panicking. `println!` panics
//! when the write fails (`>/dev/full`, a closed pipe); here a failed write
//! is an error the caller reports (the summary: exit 1) or, for notes and
//! progress on stderr, a loss nobody can be told about.
//!
//! stderr has one writer, a thread of its own, fed in order: a note from
//! the signal thread and the summary from the main thread come out in the
//! order they were made, and no thread but the writer ever waits on a
//! stderr nobody reads.

use std::io::Write;
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, OnceLock, RwLock};

/// Where notes go instead of straight to stderr: a progress bar on the
/// terminal prints them above itself, so they do not tear its redraws.
type Printer = Box<dyn Fn(&str) + Send + Sync>;
static DIVERT: RwLock<Option<Printer>> = RwLock::new(None);

/// Sends notes to `printer` until called again with None.
pub fn divert(printer: Option<Printer>) {
    *DIVERT.write().unwrap_or_else(|p| p.into_inner()) = printer;
}

enum Job {
    /// A note: through the diverting printer if there is one.
    Note(String),
    /// A line whose failure matters, and where to say how it went.
    Line(String, mpsc::SyncSender<std::io::Result<()>>),
    /// Answered once everything sent before it is written.
    Flush(mpsc::SyncSender<()>),
}

/// The writer's queue; None if its thread could not be started (then each
/// caller writes for itself, as before there was one).
static WRITER: OnceLock<Option<Mutex<Sender<Job>>>> = OnceLock::new();

fn writer() -> Option<&'static Mutex<Sender<Job>>> {
    WRITER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Job>();
            std::thread::Builder::new()
                .name("stderr".into())
                .spawn(move || {
                    for job in rx {
                        match job {
                            Job::Note(line) => write_note(&line),
                            Job::Line(line, done) => {
                                let _ = done.send(stderr_now(&line));
                            }
                            Job::Flush(done) => {
                                let _ = done.send(());
                            }
                        }
                    }
                })
                .ok()
                .map(|_| Mutex::new(tx))
        })
        .as_ref()
}

fn send(job: Job) -> Result<(), Job> {
    match writer() {
        Some(tx) => tx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|e| e.0),
        None => Err(job),
    }
}

fn write_note(line: &str) {
    crate::util::pause::pause_at("note");
    match DIVERT.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        Some(printer) => printer(line),
        None => {
            let _ = stderr_now(line);
        }
    }
}

/// One line on stdout, flushed.
pub fn stdout_line(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.write_all(b"\n")?;
    out.flush()
}

/// Text on stdout as it is (it carries its own newlines), flushed.
pub fn stdout_text(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// One line on stderr, after everything sent before it; returns how the
/// write went.
pub fn stderr_line(text: &str) -> std::io::Result<()> {
    let (done, result) = mpsc::sync_channel(1);
    match send(Job::Line(text.to_string(), done)) {
        Ok(()) => result
            .recv()
            .unwrap_or_else(|_| Err(std::io::Error::other("the stderr writer is gone"))),
        Err(_) => stderr_now(text),
    }
}

/// One line on stderr, written by the caller right now: for a process
/// about to end abruptly (a probe that panicked), where nothing may wait.
pub fn stderr_now(text: &str) -> std::io::Result<()> {
    writeln!(std::io::stderr().lock(), "{text}")
}

/// `fizzflow: <text>` on stderr, best effort and in order: if stderr is
/// gone there is nowhere left to say so. Never waits for the write.
pub fn note(text: &str) {
    let line = format!("fizzflow: {text}");
    if let Err(Job::Note(line)) = send(Job::Note(line)) {
        write_note(&line);
    }
}

/// Waits until everything sent so far is written (the end of `main`).
pub fn flush() {
    let (done, written) = mpsc::sync_channel(1);
    if send(Job::Flush(done)).is_ok() {
        let _ = written.recv();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn notes_from_any_thread_come_out_in_the_order_they_were_sent() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        divert(Some(Box::new(move |line: &str| {
            std::thread::sleep(std::time::Duration::from_millis(1));
            sink.lock().unwrap().push(line.to_string());
        })));
        note("one");
        std::thread::spawn(|| note("two")).join().unwrap();
        note("three");
        flush();
        divert(None);
        let seen = seen.lock().unwrap().clone();
        // Other tests may note meanwhile; only these three are ours.
        let mine = ["fizzflow: one", "fizzflow: two", "fizzflow: three"];
        let ours: Vec<&String> = seen.iter().filter(|l| mine.contains(&l.as_str())).collect();
        assert_eq!(
            ours,
            ["fizzflow: one", "fizzflow: two", "fizzflow: three"],
            "{seen:?}"
        );
    }
}
