//! The state dir: its lock, the checkpoint file's records and launch
//! history, the one writer, and the careful reading of a file nobody
//! trusts yet.

pub(crate) mod backup_keeper;
pub(crate) mod backups;
pub(crate) mod checker;
pub(crate) mod codec;
pub(crate) mod error;
pub(crate) mod files;
pub(crate) mod inspect;
pub(crate) mod launch_log;
pub(crate) mod ledger;
pub(crate) mod lock;
pub(crate) mod probe;
pub(crate) mod probe_limits;
pub(crate) mod read;
pub(crate) mod record;
pub(crate) mod restore;
pub(crate) mod rules;
pub(crate) mod schema;
pub(crate) mod store;

pub use error::Error;
pub use inspect::{Vetted, checkpoint_path, existing, inspect};
pub use launch_log::{LaunchEnd, LaunchRow, Point};
pub use ledger::{CheckpointWriter, Ledger};
pub use probe::{TEST_DELAY_ENV, TEST_FORK_DELAY_ENV, TEST_SPIN_ENV};
pub use read::Inspection;
pub use record::{CheckpointRecord, RunSettings};
pub use rules::{Broken, MAX_RUN_SECS, Rule};
pub use schema::{CHECKPOINTS, CURRENT as SCHEMA, META};
pub use store::{AbortAt, Store, StoreOptions};
