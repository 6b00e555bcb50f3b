//! Small pieces every part uses: the one error type, output that never
//! panics, the log sink, waiting for child processes, and the binary's
//! allocator.

pub mod alloc;
pub(crate) mod child;
pub(crate) mod logging;
pub(crate) mod output;
pub(crate) mod pause;
pub(crate) mod time;
pub(crate) mod units;

pub use child::{Finished, WaitError, Watched, wait_bounded};
pub use output::RUN_STOPPING;
pub use pause::{NO_SPACE_ENV, PAUSE_ENV, UNSTARTED_ENV};
