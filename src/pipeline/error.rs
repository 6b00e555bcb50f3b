//! What can go wrong running a launch's graph.

use crate::pipeline::config::GeometryError;

/// How long the actors may take to start before a launch gives up on them.
pub const STARTUP_LIMIT_SECS: u64 = 30;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The settings cannot run.
    #[error("impossible settings: {0}")]
    Geometry(#[from] GeometryError),
    /// steady_state's own report of a graph that did not stop cleanly.
    #[error("the actors did not stop cleanly: {0}")]
    Stop(String),
    /// Actors that never ran: their threads could not be started.
    #[error(
        "the actors {0} did not start (could their threads not be started? a process or thread limit)"
    )]
    NotStarted(String),
    /// An actor's state stayed locked after its thread should have ended.
    #[error("{0} stayed locked after the graph stopped")]
    StillHeld(&'static str),
}

/// What a checkpoint sink reports when it cannot commit (kept for the end
/// of the launch, which says it).
pub type SinkError = std::sync::Arc<dyn std::error::Error + Send + Sync>;
