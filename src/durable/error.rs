//! What can go wrong with a state dir and its checkpoint file, each with
//! the path it happened to. The CLI turns these into exit codes (in one
//! place, cli/error.rs); nothing here knows about them.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another process holds the state dir.
    #[error(
        "state dir {} is in use by another fizzflow process{}; wait for it to finish or pass another --state-dir",
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
        "checkpoint file {} {problem}. It was left exactly as it was; to start from zero instead, move it aside or pass another --state-dir",
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
        "checkpoint file {} changed while fizzflow was checking it, so another program is using it; nothing was written. Stop that program (or pass another --state-dir) and run again",
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
