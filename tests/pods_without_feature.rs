//! A build without the cargo feature `pods` has no media driver: `fizzflow
//! driver` says how to get one and exits 2, before touching any dir.
#![cfg(not(feature = "pods"))]

mod common;
use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

#[test]
fn driver_exits_2_with_how_to_build_it() {
    let parent = state_dir();
    let dir = parent.path().join("aeron");
    let child = Command::new(BIN)
        .arg("driver")
        .arg("--aeron-dir")
        .arg(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fizzflow");
    let done = wait_with_deadline(child, Duration::from_secs(30));
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    for hint in [
        "`fizzflow driver` is not in this build",
        "cargo build --release --features pods",
        "apt-get install -y clang libclang-dev libbsd-dev uuid-dev",
        "cmake >= 3.30",
    ] {
        assert!(
            done.stderr.contains(hint),
            "no {hint:?} in:\n{}",
            done.stderr
        );
    }
    assert!(done.stdout.is_empty(), "{}", done.stdout);
    assert!(!dir.exists(), "a driver dir was made");
}
