//! Writing to stdout and stderr without ever panicking. `println!` panics
//! when the write fails (`>/dev/full`, a closed pipe); here a failed write
//! is an error the caller reports (the summary: exit 1) or, for notes and
//! progress on stderr, a loss nobody can be told about.

use crate::util::error::Error;
use std::io::Write;
use std::sync::RwLock;

/// Where notes go instead of straight to stderr: a progress bar on the
/// terminal prints them above itself, so they do not tear its redraws.
type Printer = Box<dyn Fn(&str) + Send + Sync>;
static DIVERT: RwLock<Option<Printer>> = RwLock::new(None);

/// Sends notes to `printer` until called again with None.
pub fn divert(printer: Option<Printer>) {
    *DIVERT.write().unwrap_or_else(|p| p.into_inner()) = printer;
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

/// One line on stderr.
pub fn stderr_line(text: &str) -> std::io::Result<()> {
    writeln!(std::io::stderr().lock(), "{text}")
}

/// `fizzflow: <text>` on stderr, best effort: if stderr is gone there is
/// nowhere left to say so.
pub fn note(text: &str) {
    let line = format!("fizzflow: {text}");
    match DIVERT.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
        Some(printer) => printer(&line),
        None => {
            let _ = stderr_line(&line);
        }
    }
}

/// A report the command exists to print; failing to print it fails the command.
pub fn report(what: &'static str, result: std::io::Result<()>) -> Result<(), Error> {
    result.map_err(|source| Error::Output { what, source })
}
