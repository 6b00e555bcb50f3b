//! fizzflow: a fast, exact FizzBuzz actor pipeline on steady_state.

pub mod actor;
pub mod cli;
pub mod config;
pub mod error;
pub mod fault;
pub mod graph;
pub mod live;
pub mod message;
pub mod pipeline;
pub mod progress;
pub mod ring;
pub mod stats;

#[cfg(test)]
pub(crate) mod testing;
