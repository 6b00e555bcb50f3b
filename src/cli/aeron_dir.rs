//! `--aeron-dir`, shared by the commands that talk to a media driver.

use clap::Args;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct AeronDirArg {
    /// The media driver's directory (its CnC file and log buffers): the
    /// driver and every process that talks to it must name the same one
    #[arg(
        long = "aeron-dir",
        value_name = "DIR",
        env = "AERON_DIR",
        default_value_os_t = default_dir(),
        value_parser = crate::cli::words::dir_path()
    )]
    pub dir: PathBuf,
}

/// Aeron's own default, `/dev/shm/aeron-<user>`, worked out as its C
/// driver and client do (aeron_default_path): $USER, else the name of the
/// real uid, else `default`. The Rust `aeron` client stops at $USER, so
/// where USER is unset (cron, CI, systemd) it would look elsewhere than the
/// driver: fizzflow computes the dir once, here, and names it to both.
pub fn default_dir() -> PathBuf {
    let mut dir = OsString::from("/dev/shm/aeron-");
    dir.push(user_name(std::env::var_os("USER")));
    PathBuf::from(dir)
}

fn user_name(user_env: Option<OsString>) -> OsString {
    if let Some(user) = user_env {
        return user;
    }
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: getpwuid_r writes only into `entry` and `buffer`, whose
    // sizes it is given; `found` points at `entry` or is null.
    unsafe {
        let mut entry: libc::passwd = std::mem::zeroed();
        let mut found: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        if rc == 0 && !found.is_null() && !entry.pw_name.is_null() {
            let name = std::ffi::CStr::from_ptr(entry.pw_name).to_bytes();
            if !name.is_empty() {
                return OsStr::from_bytes(name).to_os_string();
            }
        }
    }
    OsString::from_vec(b"default".to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_per_user_under_dev_shm() {
        let dir = default_dir();
        assert_eq!(dir.parent(), Some(std::path::Path::new("/dev/shm")));
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("aeron-"), "{name}");
    }

    #[test]
    fn user_wins_and_without_it_the_account_name_is_used() {
        assert_eq!(user_name(Some("alice".into())), OsString::from("alice"));
        let account = user_name(None);
        assert!(!account.is_empty());
        // SAFETY: getuid cannot fail.
        if unsafe { libc::getuid() } == 0 {
            assert!(account == "root" || account == "default", "{account:?}");
        }
    }
}
