//! What the recovery tests share: runs that must succeed, `recover`,
//! `stats --json`, the totals an uninterrupted twin must match, and the
//! backups of a launch.

use super::*;
use serde_json::Value;
use std::fs;
use std::path::Path;

pub const LIMIT: Duration = Duration::from_secs(60);

pub fn ok(dir: &Path, args: &[&str]) -> Finished {
    let done = run_in(dir, args, LIMIT);
    assert!(done.status.success(), "{args:?}: {}", done.stderr);
    done
}

/// 300 beats, then 200 more: each launch ends with a backup of its cut.
pub fn two_launches(dir: &Path) {
    ok(dir, &["--rate", "0", "--beats", "300"]);
    ok(dir, &["--rate", "0", "--beats", "200"]);
}

pub fn recover(dir: &Path, extra: &[&str]) -> Finished {
    let mut args = vec!["recover"];
    args.extend_from_slice(extra);
    run_in(dir, &args, LIMIT)
}

pub fn stats(dir: &Path) -> Value {
    ok(dir, &["stats", "--json"]).json()
}

/// The totals that must match an uninterrupted twin.
pub fn totals(v: &Value) -> Vec<u64> {
    [
        "messages",
        "fizz",
        "buzz",
        "fizzbuzz",
        "value",
        "beats",
        "beats_target",
        "sequence_errors",
    ]
    .iter()
    .map(|k| field(v, k))
    .collect()
}

/// The backups of one launch, as fizzflow names them.
pub fn backups_of(dir: &Path, launch: u64) -> Vec<std::path::PathBuf> {
    let prefix = format!("launch-{launch}-");
    fs::read_dir(dir.join("backups"))
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    let name = p.file_name().unwrap().to_string_lossy();
                    name.starts_with(&prefix) && name.ends_with(".redb")
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The one backup of a launch's final cut.
pub fn backup_of(dir: &Path, launch: u64) -> std::path::PathBuf {
    let mut found = backups_of(dir, launch);
    assert_eq!(found.len(), 1, "backups of launch {launch}: {found:?}");
    found.remove(0)
}
