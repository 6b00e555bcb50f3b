//! The pipeline split across two processes over Aeron: a source pod that
//! generates the values and a sink pod that owns the run (heartbeat,
//! worker, logger, checkpoints). The protocol keeps the lifetime exact
//! whichever process, or the media driver, is killed.
//!
//! `driver` (cargo feature `pods`): the Aeron media driver, Aeron's own C
//! driver embedded, that the two processes talk through.

/// How `fizzflow driver`'s stderr line starts once it serves: what a
/// watcher of its stderr waits for.
pub const DRIVER_SERVING: &str = "fizzflow: media driver (Aeron ";

pub(crate) mod actor;
#[cfg(feature = "pods")]
pub(crate) mod driver;
pub(crate) mod protocol;
#[cfg(test)]
mod simulation;
pub(crate) mod sink;
pub(crate) mod sink_link;
pub(crate) mod source;
pub(crate) mod transport;
pub(crate) mod uri;
pub(crate) mod wire;
