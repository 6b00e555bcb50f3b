//! The tools that prove the product: `fizzflow torture` and `fizzflow
//! bench`, with the framework-free baselines the bench compares against.

pub mod baseline;
pub mod bench;
pub mod torture;
