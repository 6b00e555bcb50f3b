//! The names of the pipeline's parts: its actors, channels and batching
//! stages, as flags, gauges and labels spell them.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ActorName {
    Heartbeat,
    Generator,
    Worker,
    Logger,
}

impl ActorName {
    pub const ALL: [ActorName; 4] = [
        ActorName::Heartbeat,
        ActorName::Generator,
        ActorName::Worker,
        ActorName::Logger,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ActorName::Heartbeat => "heartbeat",
            ActorName::Generator => "generator",
            ActorName::Worker => "worker",
            ActorName::Logger => "logger",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for ActorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ActorName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ActorName::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown actor '{s}' (expected one of: heartbeat, generator, worker, logger)"
                )
            })
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
