//! What can go wrong with a state dir and its checkpoint file, each with
//! the path it happened to. The CLI turns these into exit codes (in one
//! place, cli/error.rs); nothing here knows about them.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the state dir.
    #[error(
        "state dir {} is in use by another fizzflow process{}",
        dir.display(),
        holder.map(|pid| format!(" (pid {pid})")).unwrap_or_default()
    )]
    InUse { dir: PathBuf, holder: Option<u32> },

    /// The state dir cannot be used: what is wrong with it.
    #[error("state dir {} {problem}", dir.display())]
    StateDir { dir: PathBuf, problem: String },

    /// The checkpoint file's content cannot be trusted: damaged, foreign,
    /// impossible. It was left untouched.
    #[error(
        "checkpoint file {} {problem}. It was left exactly as it was",
        path.display()
    )]
    Damaged { path: PathBuf, problem: String },

    /// The checkpoint path holds something fizzflow cannot use but that is
    /// not damage (a newer fizzflow's file, not a regular file). Left
    /// untouched, and not for `recover` without --force.
    #[error(
        "checkpoint file {} {problem}. It was left exactly as it was",
        path.display()
    )]
    Unusable { path: PathBuf, problem: String },

    /// The check could not be made, for a reason of the machine's.
    #[error(
        "could not check checkpoint file {}: {problem}. This says nothing about the file itself, and it was not changed; try again",
        path.display()
    )]
    CouldNotCheck { path: PathBuf, problem: String },

    /// A checkpoint could not be written; the last committed one stands.
    #[error(
        "cannot write a checkpoint to {}: {problem}. The last committed checkpoint is intact; the next run resumes from it",
        path.display()
    )]
    Write { path: PathBuf, problem: String },

    /// A new checkpoint file could not be made; nothing was left.
    #[error(
        "cannot create the checkpoint file {}: {problem}. Nothing was written; the state dir is as it was",
        path.display()
    )]
    Create { path: PathBuf, problem: String },

    /// The file changed after it was checked: another program writes to it.
    #[error(
        "checkpoint file {} changed while fizzflow was checking it, so another program is using it; nothing was written",
        path.display()
    )]
    Changed { path: PathBuf },

    /// An I/O failure on a named path.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}

/// What can fail inside one of fizzflow's write transactions: redb, a value
/// in the file that does not decode, or a file that is not what it should
/// be. The store says which file (see [`Error::Write`]).
#[derive(Debug, thiserror::Error)]
pub enum TxnError {
    #[error(transparent)]
    Redb(#[from] redb::Error),
    #[error("{what}: {source}")]
    Value {
        what: String,
        source: crate::durable::codec::CodecError,
    },
    /// Old data a schema step cannot read.
    #[error("{0}")]
    Damaged(String),
    #[error("launch {0} has no row to close")]
    NoRow(u64),
    /// The newest record is not the one that was checked.
    #[error("its newest checkpoint is not the one that was checked")]
    Changed,
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for TxnError {
            fn from(e: $t) -> Self {
                TxnError::Redb(e.into())
            }
        }
    )*};
}
from_redb!(
    redb::TableError,
    redb::StorageError,
    redb::TransactionError,
    redb::CommitError,
    redb::SetDurabilityError
);

/// Why a copy of a checkpoint file could not be read: the verdict a probe
/// gives (and the exit code it gives it with, see probe.rs).
#[derive(Debug, PartialEq)]
pub enum Problem {
    /// The file's content: refuse it (exit 4) and leave it alone.
    Damaged(String),
    /// Not the file's fault: a full disk, a killed checker… (exit 1).
    Io(String),
    /// Sound, as far as can be told, but written by a newer fizzflow
    /// (exit 4, and not damage: `recover` leaves it alone).
    Newer(String),
}

/// Sorts redb's errors by their type, never by their text: I/O failures
/// are the machine's, anything else is the file's.
pub fn problem(what: &str) -> impl Fn(redb::Error) -> Problem + '_ {
    move |e| match e {
        // Running out of bytes is the file's: the private copy holds all of
        // it, so a read past its end means it is cut short (shorter than
        // redb's header, or than a page it refers to).
        redb::Error::Io(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => Problem::Damaged(
            format!("is damaged: {what}: it ends where redb expects more ({io})"),
        ),
        // Any other I/O error is about the machine (the copy's disk), not
        // the file: the message must not call the file damaged.
        redb::Error::Io(io) => Problem::Io(format!("the check of a private copy failed: {io}")),
        // fizzflow has only ever written redb file format 3, so a header
        // that claims another is damage (one flipped bit of that byte gives
        // 1, 2 or something above 3), never "a newer redb": redb names
        // formats 1 and 2 by this error, any other by `Corrupted`. Only the
        // schema version in fizzflow's own meta table can say "newer".
        redb::Error::UpgradeRequired(format) => Problem::Damaged(format!(
            "{what}: it is damaged: its header claims redb file format {format}, and fizzflow only ever wrote format 3"
        )),
        e => Problem::Damaged(format!("{what}: {e}")),
    }
}
