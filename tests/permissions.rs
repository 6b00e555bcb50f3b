//! A state dir fizzflow may not read or write is reported as such, with the
//! path: exit 4, never "nothing has been checkpointed yet" and never a
//! silent start. Run as root, the commands are started as `nobody`, since
//! root reads and writes everything.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const NOBODY: u32 = 65534;
/// A short run that touches nothing but the state dir.
const RUN: &[&str] = &[
    "run",
    "--rate",
    "0",
    "--beats",
    "5",
    "--no-telemetry",
    "--no-metrics",
];

/// The binary where `nobody` may run it (the build dir may be private):
/// a hard link to it (a copy where the temp dir is on another file
/// system) in a dir of its own, removed when dropped.
fn binary() -> (tempfile::TempDir, PathBuf) {
    let dir = state_dir();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = dir.path().join("fizzflow");
    if std::fs::hard_link(BIN, &bin).is_err() {
        std::fs::copy(BIN, &bin).expect("copy the binary");
    }
    (dir, bin)
}

/// fizzflow as an unprivileged user, with `args` and the state dir `dir`.
fn unprivileged(args: &[&str], dir: &Path) -> Finished {
    let (_bin_dir, bin) = binary();
    let mut cmd = std::process::Command::new(bin);
    cmd.args(args)
        .arg("--state-dir")
        .arg(dir)
        .env_remove("FIZZFLOW_STATE_DIR")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(NOBODY) != 0
                    || libc::setuid(NOBODY) != 0
                {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    wait_with_deadline(cmd.spawn().expect("spawn"), Duration::from_secs(60))
}

/// A state dir with a finished run in it, under a parent anyone may enter.
fn finished_dir() -> (tempfile::TempDir, PathBuf) {
    let parent = state_dir();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = parent.path().join("state");
    let done = run_in(
        &dir,
        &["--rate", "0", "--beats", "5"],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    (parent, dir)
}

fn says_permission_denied(done: &Finished, dir: &Path) {
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    let text = done.stderr.to_lowercase();
    assert!(text.contains("permission denied"), "{}", done.stderr);
    assert!(
        done.stderr.contains(dir.to_str().unwrap()),
        "{}",
        done.stderr
    );
}

#[test]
fn stats_on_a_dir_it_cannot_read_says_permission_denied() {
    let (_parent, dir) = finished_dir();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    let done = unprivileged(&["stats"], &dir);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    says_permission_denied(&done, &dir);
    assert!(
        !done.stderr.contains("nothing has been checkpointed"),
        "{}",
        done.stderr
    );
}

#[test]
fn run_on_a_dir_it_cannot_write_is_exit_4_and_changes_nothing() {
    let (_parent, dir) = finished_dir();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let before = std::fs::read(checkpoint_file(&dir)).unwrap();
    let done = unprivileged(RUN, &dir);
    says_permission_denied(&done, &dir);
    assert_eq!(std::fs::read(checkpoint_file(&dir)).unwrap(), before);
}

/// Backups of a file that is gone stop a new file for anyone, even a user
/// who could not have moved them (issue 21, item 4: a lost file is never a
/// silent start from zero). In a sticky, world-writable state dir `nobody`
/// may create files but not rename the root-owned `backups`.
#[test]
fn backups_of_a_lost_file_stop_a_new_file_for_anyone() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to hand the state dir to nobody");
        return;
    }
    let parent = state_dir();
    std::fs::set_permissions(parent.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = parent.path().join("state");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::create_dir(dir.join("backups")).unwrap();
    std::fs::write(dir.join("backups/launch-4.redb"), b"an old lifetime's").unwrap();
    let done = unprivileged(RUN, &dir);
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(done.stderr.contains("deleted or lost"), "{}", done.stderr);
    assert!(!checkpoint_file(&dir).exists(), "no new file was made");
    assert!(dir.join("backups/launch-4.redb").exists());
}
