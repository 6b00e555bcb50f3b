//! The one error type, with the exit code each kind of failure maps to.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// Flags that parse but do not make sense together (exit 2).
    Usage(String),
    /// The pipeline itself failed (exit 1).
    Pipeline(String),
    /// The run finished but its own verification found wrong messages (exit 1).
    Verification { sequence_errors: u64 },
    /// An I/O failure on a named path (exit 1).
    Io {
        path: PathBuf,
        action: &'static str,
        source: std::io::Error,
    },
    /// Another process holds the state dir (exit 3).
    StateInUse { dir: PathBuf, holder: String },
    /// The state dir cannot be used (exit 4).
    StateDir { dir: PathBuf, problem: String },
    /// The checkpoint file cannot be read; it was left untouched (exit 4).
    Checkpoint { path: PathBuf, problem: String },
    /// The checkpoint file is not a regular file, or is from a newer
    /// fizzflow: unusable here, left untouched, but not damaged, so not
    /// for `recover` without `--force` (exit 4).
    Unusable { path: PathBuf, problem: String },
    /// As `Checkpoint`, in a state dir with backups: `hint` says
    /// how to restore one (exit 4).
    Recoverable {
        path: PathBuf,
        problem: String,
        hint: String,
    },
    /// `recover` found no backup it could restore (exit 1).
    NoBackup { dir: PathBuf, why: String },
    /// The checkpoint file could not be checked for a reason of the
    /// machine's (disk full, file-size limit); it was not changed (exit 1).
    CheckpointIo { path: PathBuf, problem: String },
    /// A checkpoint could not be written; the last committed one stands (exit 1).
    CheckpointWrite { path: PathBuf, problem: String },
    /// A new checkpoint file could not be made; nothing was left (exit 1).
    CheckpointCreate { path: PathBuf, problem: String },
    /// `stats` found nothing to show (exit 1).
    NoCheckpoint { path: PathBuf, why: &'static str },
    /// The checkpoint file changed after it was checked: something else
    /// writes to it (exit 3). Nothing was written.
    Changed { path: PathBuf },
    /// The summary or report could not be written to stdout or stderr
    /// (exit 1); whatever was committed stays committed.
    Output {
        what: &'static str,
        source: std::io::Error,
    },
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::StateInUse { .. } | Error::Changed { .. } => 3,
            Error::StateDir { .. }
            | Error::Checkpoint { .. }
            | Error::Unusable { .. }
            | Error::Recoverable { .. } => 4,
            Error::Pipeline(_)
            | Error::Verification { .. }
            | Error::Io { .. }
            | Error::CheckpointWrite { .. }
            | Error::CheckpointCreate { .. }
            | Error::CheckpointIo { .. }
            | Error::NoCheckpoint { .. }
            | Error::NoBackup { .. }
            | Error::Output { .. } => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(msg) => write!(f, "{msg}"),
            Error::Pipeline(msg) => write!(f, "pipeline failed: {msg}"),
            Error::Verification { sequence_errors } => write!(
                f,
                "verification failed: the logger saw {sequence_errors} out-of-sequence or misclassified messages; the totals above are not trustworthy (please report this with the command line)"
            ),
            Error::Io {
                path,
                action,
                source,
            } => write!(f, "cannot {action} {}: {source}", path.display()),
            Error::StateInUse { dir, holder } => write!(
                f,
                "state dir {} is in use by another fizzflow process{}; wait for it to finish or pass another --state-dir",
                dir.display(),
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                }
            ),
            Error::StateDir { dir, problem } => {
                write!(
                    f,
                    "state dir {} {problem}; pass another --state-dir",
                    dir.display()
                )
            }
            Error::Checkpoint { path, problem } | Error::Unusable { path, problem } => write!(
                f,
                "checkpoint file {} {problem}. It was left exactly as it was. To start from zero, move it aside (or pass another --state-dir); a file from a newer fizzflow needs that newer fizzflow",
                path.display()
            ),
            Error::Recoverable {
                path,
                problem,
                hint,
            } => write!(
                f,
                "checkpoint file {} {problem}. It was left exactly as it was. {hint}",
                path.display()
            ),
            Error::NoBackup { dir, why } => {
                write!(f, "nothing to recover in {}: {why}", dir.display())
            }
            Error::CheckpointWrite { path, problem } => write!(
                f,
                "cannot write a checkpoint to {}: {problem}. The last committed checkpoint is intact; the next run resumes from it",
                path.display()
            ),
            Error::CheckpointCreate { path, problem } => write!(
                f,
                "cannot create the checkpoint file {}: {problem}. Nothing was written; the state dir is as it was",
                path.display()
            ),
            Error::CheckpointIo { path, problem } => write!(
                f,
                "could not check checkpoint file {}: {problem}. This says nothing about the file itself, and it was not changed; try again",
                path.display()
            ),
            Error::NoCheckpoint { path, why } => {
                write!(f, "no checkpoint at {}: {why}", path.display())
            }
            Error::Changed { path } => write!(
                f,
                "checkpoint file {} changed while fizzflow was checking it, so another program is using it; nothing was written. Stop that program (or pass another --state-dir) and run again",
                path.display()
            ),
            Error::Output { what, source } => write!(f, "cannot write the {what}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } | Error::Output { source, .. } => Some(source),
            _ => None,
        }
    }
}
