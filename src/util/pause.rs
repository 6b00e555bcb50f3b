//! Test hooks that hold fizzflow still at a named point, or fail one kind
//! of write, so that a test (or the torture) can make a race or a fault
//! happen every time instead of now and then.
//!
//! `FIZZFLOW_TEST_PAUSE=POINT:MILLIS:MARKER`: on reaching POINT, fizzflow
//! creates the file MARKER (so the test knows it is there) and sleeps
//! MILLIS. Unset, each point costs one environment lookup. No user has a
//! reason to set it; it changes no result, only timing.

use std::time::Duration;

pub const PAUSE_ENV: &str = "FIZZFLOW_TEST_PAUSE";

/// Pauses here if the hook names `point`.
pub fn pause_at(point: &str) {
    let Ok(spec) = std::env::var(PAUSE_ENV) else {
        return;
    };
    let mut parts = spec.splitn(3, ':');
    let (Some(at), Some(millis), Some(marker)) = (parts.next(), parts.next(), parts.next()) else {
        return;
    };
    let Ok(millis) = millis.parse::<u64>() else {
        return;
    };
    if at == point {
        let _ = std::fs::write(marker, point);
        std::thread::sleep(Duration::from_millis(millis));
    }
}

/// `FIZZFLOW_TEST_NO_SPACE=WHAT`: writing WHAT (`backups`) fails as on a
/// full disk, while everything else is written: a disk that fills up
/// exactly when a backup is made, every time.
pub const NO_SPACE_ENV: &str = "FIZZFLOW_TEST_NO_SPACE";

/// Whether the hook says there is no space for `what`.
pub fn no_space_for(what: &str) -> bool {
    std::env::var(NO_SPACE_ENV).is_ok_and(|v| v == what)
}

/// `FIZZFLOW_TEST_UNSTARTED=ACTOR:SECS`: the graph leaves ACTOR out, as if
/// its thread could not be started (a process or thread limit), and a
/// launch waits SECS (not the usual limit) for it before giving up.
pub const UNSTARTED_ENV: &str = "FIZZFLOW_TEST_UNSTARTED";

/// The actor the hook leaves out, and how long to wait for it.
pub fn unstarted() -> Option<(String, u64)> {
    let spec = std::env::var(UNSTARTED_ENV).ok()?;
    let (actor, secs) = spec.split_once(':')?;
    Some((actor.to_string(), secs.parse().ok()?))
}
