//! Where steady_state's telemetry writes its files.
//!
//! steady_state writes `logs/graph.dot` and creates `../output_logs`
//! relative to the working directory, and follows symlinks on the way. A
//! run with telemetry therefore works from a directory it made inside its
//! own locked state dir, so those writes cannot land anywhere else (a
//! `logs/graph.dot` symlink in the directory fizzflow was started from
//! would otherwise be truncated and overwritten).

use crate::cli::error::Error;
use crate::durable::lock::refusal;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

/// Under the state dir: `telemetry/run/logs/graph.dot` and the (empty in
/// this build) `telemetry/output_logs`.
pub const TELEMETRY_DIR: &str = "telemetry";

/// Makes `<state-dir>/telemetry/run` and moves the process into it.
/// `state_dir` must be absolute, and every path used after this too.
pub fn enter(state_dir: &Path) -> Result<PathBuf, Error> {
    let work = prepare(state_dir)?;
    std::env::set_current_dir(&work).map_err(|e| refusal(&work, "enter the telemetry dir", e))?;
    Ok(work)
}

/// Makes `<state-dir>/telemetry/run` with no symlink on the way or in it.
fn prepare(state_dir: &Path) -> Result<PathBuf, Error> {
    debug_assert!(state_dir.is_absolute());
    let root = state_dir.join(TELEMETRY_DIR);
    let work = root.join("run");
    for dir in [
        root.clone(),
        root.join("output_logs"),
        work.clone(),
        work.join("logs"),
    ] {
        plain_dir(&dir).map_err(|e| refusal(&dir, "make the telemetry dir", e))?;
    }
    let dot = work.join("logs").join("graph.dot");
    fresh(&dot).map_err(|e| refusal(&dot, "remove the last run's graph", e))?;
    Ok(work)
}

/// A directory that is one, not a symlink to one: a symlink is removed (it
/// is only the link) and a directory made in its place; any other file is
/// left alone and refused.
fn plain_dir(dir: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => {
            fs::remove_file(dir)?;
            fs::create_dir(dir)
        }
        Ok(_) => Err(std::io::Error::new(
            ErrorKind::AlreadyExists,
            "a file is in the way of a directory",
        )),
        Err(e) if e.kind() == ErrorKind::NotFound => fs::create_dir(dir),
        Err(e) => Err(e),
    }
}

/// Removes the last run's file, so steady_state writes a new one: it
/// writes through whatever is at the path, and a symlink or a hard link
/// planted there would carry its writes to another file.
fn fresh(file: &Path) -> std::io::Result<()> {
    match fs::remove_file(file) {
        Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlinks_in_the_telemetry_dir_are_replaced_not_followed() {
        let state = tempfile::tempdir().unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let victim = elsewhere.path().join("victim");
        fs::write(&victim, "keep me").unwrap();
        let root = state.path().join(TELEMETRY_DIR);
        fs::create_dir_all(root.join("run/logs")).unwrap();
        symlink(&victim, root.join("run/logs/graph.dot")).unwrap();
        symlink(elsewhere.path(), root.join("output_logs")).unwrap();
        let work = prepare(state.path()).unwrap();
        assert_eq!(work, root.join("run"));
        assert!(!root.join("run/logs/graph.dot").exists());
        // A hard link is a name of the victim too: removed, not written.
        fs::hard_link(&victim, root.join("run/logs/graph.dot")).unwrap();
        prepare(state.path()).unwrap();
        assert!(!root.join("run/logs/graph.dot").exists());
        assert!(
            fs::symlink_metadata(root.join("output_logs"))
                .unwrap()
                .is_dir()
        );
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    }

    #[test]
    fn a_file_in_the_way_is_refused_and_kept() {
        let state = tempfile::tempdir().unwrap();
        fs::write(state.path().join(TELEMETRY_DIR), "mine").unwrap();
        let err = prepare(state.path()).unwrap_err();
        assert_eq!(err.exit_code(), 4, "{err}");
        assert_eq!(
            fs::read_to_string(state.path().join(TELEMETRY_DIR)).unwrap(),
            "mine"
        );
    }
}
