//! fizzflow: a fast, exact FizzBuzz actor pipeline on steady_state, with
//! crash-safe totals in redb.
//!
//! ```text
//!   cli ───────────────┬──────────────┬──────────────┬──────────────┐
//!   flags, one file    │              │              │              │
//!   per subcommand,    ▼              ▼              ▼              ▼
//!   exit codes  pipeline ◀──────── durable       observe        proving
//!               the actors,        the state     progress line, torture,
//!               their config,      dir: lock,    /proc, the     bench,
//!               messages,          records and   metrics        baselines
//!               live values        their rules,  endpoint
//!                                  store, checks,
//!                                  backups,
//!                                  migrations
//!   util: output that never panics, child processes, time, test hooks
//! ```
//!
//! Data flows one way: `cli` drives everything; `pipeline` knows nothing of
//! disks or terminals (its checkpoint actor commits through
//! [`pipeline::CutSink`], which `durable` implements); `durable` uses only
//! the pipeline's plain data types; `observe` reads the pipeline's live
//! values; `proving` runs this binary and reads what `durable` wrote;
//! `pods` puts the pipeline across processes over Aeron (so far, the
//! media driver).

// Every write to stdout or stderr goes through `util::output`, which never panics.
#![deny(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod durable;
pub mod observe;
pub mod pipeline;
pub mod pods;
mod proving;
pub mod util;
