//! The command line's error: every layer's error, the CLI's own, and the
//! one place where each becomes an exit code:
//!
//! 0 done; 1 failed (the reason is printed); 2 bad flags (or a command
//! this build leaves out); 3 the state dir is in use (for the pods: their
//! channel and stream, and the media driver's dir, too); 4 the state dir
//! or its checkpoint file (or the media driver's dir) cannot be used; 5 the
//! media driver is not running or went away (a pod; start the driver and
//! the pod again).

use crate::durable;
use crate::pipeline;
use crate::proving;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Flags that parse but do not make sense together.
    #[error("{0}")]
    Usage(String),
    /// What happened to the state dir, and what the person can do about
    /// it in flags (which the durable layer does not know).
    #[error("{}{}", .0, advice(.0))]
    Durable(#[from] durable::Error),
    /// A damaged checkpoint file in a state dir with backups: `hint` says
    /// how to restore one.
    #[error(
        "checkpoint file {} {problem}. It was left exactly as it was. {hint}",
        path.display()
    )]
    Recoverable {
        path: PathBuf,
        problem: String,
        hint: String,
    },
    #[error(transparent)]
    Pipeline(#[from] pipeline::Error),
    /// A checkpoint the run could not commit, as its sink said it.
    #[error("{0}")]
    Sink(pipeline::SinkError),
    #[error(transparent)]
    Proving(#[from] proving::Error),
    /// The launch's last cut is not one a run can produce: a bug, caught
    /// before it is written.
    #[error("the final totals are not a consistent cut ({0}); the last good checkpoint stands")]
    FinalCut(durable::Broken),
    #[error("the summary cannot be encoded: {0}")]
    Encode(serde_json::Error),
    /// The run finished but its own verification found wrong messages.
    #[error(
        "verification failed: the logger saw {sequence_errors} out-of-sequence or misclassified messages; the totals above are not trustworthy (please report this with the command line)"
    )]
    Verification { sequence_errors: u64 },
    /// The pipeline ended before its target although no stop was asked
    /// for: the cut it reached is committed, so nothing is lost.
    #[error(
        "the pipeline ended at beat {beats} of {target} without being asked to stop; the cut it reached is committed and the next run resumes from it. This is a fizzflow bug: please report it with the command line"
    )]
    EndedEarly { beats: u64, target: u64 },
    /// `recover` found no backup it could restore.
    #[error("nothing to recover in {}: {why}", dir.display())]
    NoBackup { dir: PathBuf, why: String },
    /// `stats` found nothing to show.
    #[error("no checkpoint at {}: {why}", path.display())]
    NoCheckpoint { path: PathBuf, why: &'static str },
    /// A pod's link could not be set up.
    #[error("{}{}", .0, sink_advice(.0))]
    SinkPod(#[from] crate::pods::sink::SinkError),
    #[error(transparent)]
    SourcePod(#[from] crate::pods::source::SourceError),
    /// The media driver went away (or never came): exit 5, so that a
    /// supervisor starts it and the pod again.
    #[error("{0}")]
    LinkLost(String),
    /// `run --pods` could not start or keep its children.
    #[error("{0}")]
    Pods(String),
    /// The sink pod of `run --pods` ended with this code; it said why.
    #[error("the sink pod ended with exit code {0} (its message is above)")]
    PodExit(i32),
    /// A source the sink turned away: another source serves it.
    #[error(
        "the sink on this channel and stream is served by another source; stop that one or pass another --stream-id"
    )]
    SourceRefused,
    /// A command this build leaves out: it needs the cargo feature `pods`,
    /// which compiles Aeron's C media driver.
    #[error(
        "{what} is not in this build. Build it with `cargo build --release --features pods`; that compiles Aeron's C media driver and needs clang, libclang-dev, libbsd-dev, uuid-dev (Debian/Ubuntu: apt-get install -y clang libclang-dev libbsd-dev uuid-dev) and cmake >= 3.30 (pip install cmake==3.31.10)"
    )]
    // A build with the feature has every command.
    #[cfg_attr(feature = "pods", allow(dead_code))]
    NotBuilt { what: &'static str },
    /// The media driver of `fizzflow driver`, and what to pass instead.
    #[cfg(feature = "pods")]
    #[error("{}{}", .0, driver_advice(.0))]
    Driver(#[from] crate::pods::driver::DriverError),
    /// The summary or report could not be written to stdout or stderr;
    /// whatever was committed stays committed.
    #[error("cannot write the {what}: {source}")]
    Output {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// What to do next, where the answer is a flag.
fn advice(e: &durable::Error) -> &'static str {
    use durable::Error as D;
    match e {
        D::InUse { .. } => "; wait for it to finish or pass another --state-dir",
        D::Damaged { .. } => {
            "; to start from zero instead, move it aside or pass another --state-dir"
        }
        D::Changed { .. } => ". Stop that program (or pass another --state-dir) and run again",
        _ => "",
    }
}

fn sink_advice(e: &crate::pods::sink::SinkError) -> &'static str {
    match e {
        crate::pods::sink::SinkError::StreamTaken { .. } => {
            "; pass another --stream-id (the same to both pods) or stop that sink"
        }
        _ => "",
    }
}

#[cfg(feature = "pods")]
fn driver_advice(e: &crate::pods::driver::DriverError) -> &'static str {
    use crate::pods::driver::DriverError as D;
    match e {
        D::InUse { .. } => {
            ". Its clients can use it as it is; to start another, stop that one first or pass another --aeron-dir"
        }
        D::Starting { .. } => "; try again, or pass another --aeron-dir",
        D::Unusable { .. } => ". Pass another --aeron-dir",
        D::Aeron { .. } => "",
    }
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        use crate::pods::sink::SinkError as P;
        use crate::pods::source::SourceError as S;
        use crate::pods::transport::SetupError as T;
        use durable::Error as D;
        match self {
            Error::Usage(_) | Error::NotBuilt { .. } => 2,
            #[cfg(feature = "pods")]
            Error::Driver(d) => {
                use crate::pods::driver::DriverError as R;
                match d {
                    R::InUse { .. } | R::Starting { .. } => 3,
                    R::Unusable { .. } => 4,
                    R::Aeron { .. } => 1,
                }
            }
            Error::Durable(D::InUse { .. } | D::Changed { .. })
            | Error::SinkPod(P::StreamTaken { .. })
            | Error::SourceRefused => 3,
            Error::LinkLost(_)
            | Error::SinkPod(P::Setup(T::Lost(_)))
            | Error::SourcePod(S::Setup(T::Lost(_))) => 5,
            Error::SinkPod(P::Setup(T::Refused { .. }) | P::Lock { .. })
            | Error::SourcePod(S::Setup(T::Refused { .. }) | S::Graph(_))
            | Error::Pods(_) => 1,
            Error::PodExit(code) => *code,
            Error::Durable(D::StateDir { .. } | D::Damaged { .. } | D::Unusable { .. })
            | Error::Recoverable { .. } => 4,
            Error::Durable(
                D::CouldNotCheck { .. } | D::Write { .. } | D::Create { .. } | D::Io { .. },
            )
            | Error::Pipeline(_)
            | Error::Sink(_)
            | Error::FinalCut(_)
            | Error::Encode(_)
            | Error::Proving(_)
            | Error::Verification { .. }
            | Error::EndedEarly { .. }
            | Error::NoBackup { .. }
            | Error::NoCheckpoint { .. }
            | Error::Output { .. } => 1,
        }
    }
}

/// A report the command exists to print; failing to print it fails the
/// command.
pub fn report(what: &'static str, result: std::io::Result<()>) -> Result<(), Error> {
    result.map_err(|source| Error::Output { what, source })
}
