//! Test hooks that hold fizzflow still at a named point, so that a test can
//! make a race happen every time instead of now and then.
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
