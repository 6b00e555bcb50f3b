//! fizzflow: a fast, exact FizzBuzz actor pipeline on steady_state.

// Every write to stdout or stderr goes through `output`, which never panics.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod actor;
pub mod baseline;
pub mod bench;
pub mod child;
pub mod cli;
pub mod config;
pub mod error;
pub mod fault;
pub mod graph;
pub mod inspect;
pub mod launch;
pub mod launch_log;
pub mod live;
pub mod lock;
pub mod logging;
pub mod message;
pub mod metrics;
pub mod migrations;
pub mod output;
pub mod pipeline;
pub mod probe;
pub mod progress;
pub mod record;
pub mod report;
pub mod ring;
pub mod stats;
pub mod store;
pub mod torture;

#[cfg(test)]
pub(crate) mod testing;
