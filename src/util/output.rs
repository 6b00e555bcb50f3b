//! Writing to stdout and stderr without ever panicking. `println!` panics
//! when the write fails (`>/dev/full`, a closed pipe); here a failed write
//! is an error the caller reports (the summary: exit 1) or, for notes and
//! progress on stderr, a loss nobody can be told about.

use crate::util::error::Error;
use std::io::Write;

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

/// Text on stderr as it is, for a status line rewritten in place.
pub fn stderr_text(text: &str) {
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// `fizzflow: <text>` on stderr, best effort: if stderr is gone there is
/// nowhere left to say so.
pub fn note(text: &str) {
    let _ = stderr_line(&format!("fizzflow: {text}"));
}

/// A report the command exists to print; failing to print it fails the command.
pub fn report(what: &'static str, result: std::io::Result<()>) -> Result<(), Error> {
    result.map_err(|source| Error::Output { what, source })
}
