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
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) => 2,
            Error::Pipeline(_) | Error::Verification { .. } | Error::Io { .. } => 1,
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
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
