//! One actor per file; each has a thin `run` that wires it into the graph
//! and an `internal_behavior` that unit tests drive directly.

pub mod checkpoint;
pub mod generator;
pub mod heartbeat;
pub mod logger;
pub mod receiver;
pub mod worker;
