//! The tools that prove the product: `fizzflow torture` and `fizzflow
//! bench`, with the framework-free baselines the bench compares against.

pub mod baseline;
pub mod bench;
pub(crate) mod error;
pub mod torture;

pub use error::Error;
