//! The names of the pipeline's parts: its actors, channels and batching
//! stages, as flags, gauges and labels spell them.

use std::fmt;
use std::str::FromStr;

/// An actor's name: its telemetry label, its key in the restart counts a
/// state dir keeps, and what `--inject-panic` and `--inject-delay` call it.
/// Each actor's file defines its own (`NAME`), and the graph lists them
/// ([`crate::pipeline::graph::ALL`]): an actor is added there and
/// nowhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ActorName(&'static str);

impl ActorName {
    pub const fn new(name: &'static str) -> Self {
        ActorName(name)
    }

    pub fn as_str(self) -> &'static str {
        self.0
    }

    /// Its place in the graph's list, for per-actor counters.
    pub fn index(self) -> usize {
        crate::pipeline::graph::ALL
            .iter()
            .position(|a| *a == self)
            .expect("every actor name is in the graph's list")
    }
}

impl fmt::Display for ActorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A name that is not one of the graph's actors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownActor(pub String);

impl fmt::Display for UnknownActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let known: Vec<&str> = crate::pipeline::graph::ALL
            .iter()
            .map(|a| a.as_str())
            .collect();
        write!(
            f,
            "unknown actor '{}' (expected one of: {})",
            self.0,
            known.join(", ")
        )
    }
}

impl std::error::Error for UnknownActor {}

impl FromStr for ActorName {
    type Err = UnknownActor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        crate::pipeline::graph::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| UnknownActor(s.to_string()))
    }
}

/// The pipeline's channels, for fill gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    Beats,
    Values,
    Messages,
}

impl Channel {
    pub const ALL: [Channel; 3] = [Channel::Beats, Channel::Values, Channel::Messages];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Beats => "heartbeat_to_worker",
            Channel::Values => "generator_to_worker",
            Channel::Messages => "worker_to_logger",
        }
    }
}

/// Stages that write in batches, for batch-efficiency gauges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Generator,
    Worker,
}
