//! `--state-dir`, shared by the commands that use one.

use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct StateDirArg {
    /// State directory: its checkpoints.redb holds the lifetime totals, and a
    /// relaunch resumes from it
    #[arg(
        long = "state-dir",
        value_name = "DIR",
        env = "FIZZFLOW_STATE_DIR",
        default_value = "fizzflow-state",
        value_parser = crate::cli::words::dir_path()
    )]
    pub dir: PathBuf,
}
