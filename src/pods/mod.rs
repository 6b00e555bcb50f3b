//! The pipeline split across two processes over Aeron: a source pod that
//! generates the values and a sink pod that owns the run (heartbeat,
//! worker, logger, checkpoints). The protocol keeps the lifetime exact
//! whichever process, or the media driver, is killed.

pub(crate) mod protocol;
pub(crate) mod wire;
