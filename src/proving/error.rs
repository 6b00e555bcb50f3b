//! What can go wrong proving: a torture that found a broken promise, a
//! bench that could not measure.

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An invariant did not hold, or a child did what it must not.
    #[error("torture failed (seed {seed}): {why}")]
    Torture { seed: u64, why: String },
    /// A measurement could not be made.
    #[error("bench failed: {0}")]
    Bench(String),
    /// Its report could not be written.
    #[error("cannot write the {what}: {source}")]
    Output {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The machine did not let it start (no scratch dir, no binary).
    #[error("cannot {action}: {source}")]
    Setup {
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
}
