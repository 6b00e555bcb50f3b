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

/// The note a run prints when a stop signal arrives: the torture tells a
/// clean stop that landed from one that came too late by it, so both use
/// this one text.
pub const RUN_STOPPING: &str =
    "stopping: draining the beats already sent (signal again to exit at once)";

/// Where notes go instead of straight to stderr: a progress bar on the
/// terminal prints them above itself, so they do not tear its redraws.
type Printer = Box<dyn Fn(&str) + Send + Sync>;
static DIVERT: RwLock<Option<Printer>> = RwLock::new(None);

/// What to undo before an exit at once (the terminal's flags).
type Undo = Box<dyn Fn() + Send + Sync>;
static BEFORE_EXIT: RwLock<Option<Undo>> = RwLock::new(None);

/// Sets (or with None, forgets) what [`exit_now`] undoes first.
pub fn before_exit(undo: Option<Undo>) {
    *BEFORE_EXIT.write().unwrap_or_else(|p| p.into_inner()) = undo;
}

/// Exits with `code` at once, after undoing what was registered with
/// [`before_exit`].
pub fn exit_now(code: i32) -> ! {
    if let Ok(undo) = BEFORE_EXIT.try_read()
        && let Some(undo) = undo.as_ref()
    {
        undo();
    }
    std::process::exit(code)
}

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
        Some(printer) => printer(&fit_to(Stream::Stderr, line)),
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
    writeln!(std::io::stderr().lock(), "{}", fit_to(Stream::Stderr, text))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// The width of the terminal `stream` writes to; None when it is not a
/// terminal (a pipe or a file is never wrapped: scripts read it).
/// `COLUMNS` stands in when the terminal does not say.
pub fn terminal_width(stream: Stream) -> Option<usize> {
    use std::io::IsTerminal;
    let (tty, term) = match stream {
        Stream::Stdout => (std::io::stdout().is_terminal(), console::Term::stdout()),
        Stream::Stderr => (std::io::stderr().is_terminal(), console::Term::stderr()),
    };
    if !tty {
        return None;
    }
    let columns = || std::env::var("COLUMNS").ok()?.trim().parse::<usize>().ok();
    term.size_checked()
        .map(|(_, cols)| usize::from(cols))
        .or_else(columns)
        .filter(|&w| w >= 20)
}

/// `text` fitted to the terminal `stream` writes to (as it is otherwise).
pub fn fit_to(stream: Stream, text: &str) -> String {
    match terminal_width(stream) {
        Some(width) => fit(text, width),
        None => text.to_string(),
    }
}

/// Each line of `text` wrapped at spaces to `width` columns. A continued
/// line is indented under where its text starts: after "fizzflow: ", or
/// after a label and its run of spaces (a `stats` row), or its own indent.
pub fn fit(text: &str, width: usize) -> String {
    text.split('\n')
        .map(|line| wrap(line, width))
        .collect::<Vec<_>>()
        .join("\n")
}

fn wrap(line: &str, width: usize) -> String {
    let chars: Vec<char> = line.chars().collect();
    if chars.len() <= width {
        return line.to_string();
    }
    let lead = chars.iter().take_while(|c| **c == ' ').count();
    let prefix = ["fizzflow: ", "error: ", "done: "]
        .into_iter()
        .find(|p| line.starts_with(p));
    let indent = if let Some(prefix) = prefix {
        prefix.len()
    } else {
        // A label, then two or more spaces, then the value.
        let text: String = chars[lead..].iter().collect();
        match text.find("  ") {
            Some(at) if at + lead < 32 => {
                let gap = text[at..].chars().take_while(|c| *c == ' ').count();
                lead + text[..at].chars().count() + gap
            }
            _ => lead,
        }
    };
    // A hanging indent wider than half the line leaves too little room.
    let indent = if indent * 2 > width {
        lead.min(width / 4)
    } else {
        indent
    };
    let len = |s: &str| s.chars().count();
    let mut out = String::new();
    let mut current = " ".repeat(lead);
    // The line so far goes out, and the next starts at the indent.
    let break_line = |out: &mut String, current: &mut String| {
        out.push_str(current.trim_end());
        out.push('\n');
        *current = " ".repeat(indent);
    };
    let words = line[line.len() - line.trim_start().len()..].split(' ');
    let mut first = true;
    for word in words {
        // The second space of a double one, at the start of a continued
        // line, would shift it.
        if word.is_empty() && !first {
            if (out.is_empty() || len(&current) != indent) && len(&current) < width {
                current.push(' ');
            }
            continue;
        }
        if !first {
            if len(&current) + 1 + len(word) > width {
                break_line(&mut out, &mut current);
            } else {
                current.push(' ');
            }
        }
        // A word longer than a line is cut where the line ends.
        let mut rest: Vec<char> = word.chars().collect();
        while len(&current) + rest.len() > width && rest.len() > width - indent {
            let room = width - len(&current);
            current.extend(rest.drain(..room));
            break_line(&mut out, &mut current);
        }
        current.extend(rest);
        first = false;
    }
    out.push_str(current.trim_end());
    out
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

    #[test]
    fn long_lines_wrap_under_their_text_and_short_ones_stay() {
        assert_eq!(fit("fizzflow: short", 80), "fizzflow: short");
        let note = "fizzflow: launch 150 in /tmp/tp/ipc (continued): 44,400 beats (363,724,800 messages) done before; running 600 more, to beat 45,000";
        let wrapped = fit(note, 80);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 80),
            "{wrapped}"
        );
        assert!(
            wrapped
                .lines()
                .skip(1)
                .all(|l| l.starts_with("          ") && !l.starts_with("           ")),
            "{wrapped}"
        );
        assert_eq!(
            wrapped.split_whitespace().collect::<Vec<_>>(),
            note.split_whitespace().collect::<Vec<_>>()
        );
        let row = "restarts              heartbeat 0  generator 0  worker 0  logger 0  checkpoint 0  receiver 0  source 2";
        let wrapped = fit(row, 60);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 60),
            "{wrapped}"
        );
        assert!(
            wrapped.lines().nth(1).unwrap().starts_with(&" ".repeat(22)),
            "{wrapped}"
        );
        let path = format!("fizzflow: at {}", "x".repeat(200));
        let wrapped = fit(&path, 50);
        assert!(
            wrapped.lines().all(|l| l.chars().count() <= 50),
            "{wrapped}"
        );
        assert_eq!(wrapped.replace(['\n', ' '], ""), path.replace(' ', ""));
    }
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
