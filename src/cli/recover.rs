//! `fizzflow recover`: restore the checkpoint file from a verified backup.
//!
//! The source is deterministic and replays from any cut, so an older
//! consistent cut loses nothing but the work after it, and that work is
//! done again, exactly: after a restore and a run to the target the totals
//! are those of one uninterrupted run. Recovery is never automatic: `run`
//! and `stats` only say that it is possible and how.

use crate::cli::state_dir::StateDirArg;
use crate::durable::backups::{self, Backup};
use crate::durable::inspect::{self, checkpoint_path};
use crate::durable::lock::DirLock;
use crate::durable::record::CheckpointRecord;
use crate::util::error::Error;
use crate::util::output::{self, note};
use crate::util::time::utc;
use crate::util::units::grouped;
use clap::Args;
use std::fmt::Write as _;
use std::path::Path;

#[derive(Args, Debug, Clone)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub state: StateDirArg,

    /// List the backups (each checked again), restore nothing
    #[arg(long, conflicts_with_all = ["from", "force"])]
    pub list: bool,

    /// Restore the backup of this launch (default: the newest that passes
    /// its check)
    #[arg(long, value_name = "LAUNCH", value_parser = crate::util::values::positive)]
    pub from: Option<u64>,

    /// Replace the checkpoint file even if it is healthy or cannot be
    /// checked (it is kept, renamed, as a damaged one is)
    #[arg(long)]
    pub force: bool,
}

pub fn command(args: &RecoverArgs) -> Result<(), Error> {
    let dir = &args.state.dir;
    if !dir.is_dir() {
        return Err(Error::StateDir {
            dir: dir.clone(),
            problem: "does not exist or is not a directory".into(),
        });
    }
    // The lock: no run may use the file while it is replaced.
    let _lock = DirLock::acquire(dir)?;
    let found = backups::list(dir);
    if args.list {
        return output::report("backup list", output::stdout_text(&listing(dir, &found)));
    }
    let path = checkpoint_path(dir);
    // A file that is not damaged is replaced only when forced; the
    // refusal says what the file is.
    let shown = path.display();
    let (why, refusal) = match inspect::existing(&path) {
        Ok(None) => ("missing", None),
        Err(Error::Checkpoint { .. } | Error::Recoverable { .. }) => ("damaged", None),
        Err(Error::Unusable { problem, .. }) => (
            "replaced",
            Some(format!(
                "the checkpoint file {shown} {problem}. That is not damage, so recover leaves it; pass --force to replace it anyway (it is kept, renamed)"
            )),
        ),
        Ok(Some(vetted)) => {
            let at = vetted.seen.latest().map(describe).unwrap_or_default();
            (
                "replaced",
                Some(format!(
                    "the checkpoint file {shown} is healthy ({at}); recover replaces a damaged or missing one. Pass --force to replace it anyway (it is kept, renamed)"
                )),
            )
        }
        // Could not tell (a killed check, a full disk, a memory limit set
        // for fizzflow, a read error): forced, the file is replaced (and
        // kept) all the same, since the backups are checked on their own;
        // not forced, nothing is touched (exit 1) and the message says how
        // to force it.
        Err(e @ (Error::CheckpointIo { .. } | Error::Io { .. })) if args.force => {
            let why = match e {
                Error::CheckpointIo { problem, .. } => {
                    format!("the checkpoint file {shown} could not be checked ({problem})")
                }
                e => e.to_string(),
            };
            note(&format!(
                "{why}; --force replaces it all the same (it is kept, renamed)"
            ));
            ("replaced", None)
        }
        Err(Error::CheckpointIo { path, problem }) => {
            let dir = dir.display();
            return Err(Error::CheckpointIo {
                path,
                problem: format!(
                    "{problem}; if that persists, `fizzflow recover --state-dir {dir} --force` puts the newest backup that passes its check in its place without checking it (it is kept, renamed)"
                ),
            });
        }
        Err(e) => return Err(e),
    };
    if let (Some(refusal), false) = (refusal, args.force) {
        return Err(Error::Usage(refusal));
    }
    let candidates: Vec<&Backup> = match args.from {
        Some(launch) => {
            let one: Vec<&Backup> = found.iter().filter(|b| b.launch == launch).collect();
            if one.is_empty() {
                return Err(Error::Usage(format!(
                    "there is no backup of launch {launch}; `fizzflow recover --list` shows the backups"
                )));
            }
            one
        }
        None => found.iter().collect(),
    };
    for backup in &candidates {
        // Checked again now: a backup is trusted no more than the file was.
        match inspect::inspect(&backup.path) {
            Ok(vetted) => {
                let Some(rec) = vetted.seen.latest().cloned() else {
                    note(&format!(
                        "backup of launch {} holds no checkpoint; skipped",
                        backup.launch
                    ));
                    continue;
                };
                let done = backups::restore(dir, &vetted.bytes, why)?;
                let kept = match (&done.kept, why) {
                    (Some(k), "replaced") => {
                        format!(" The file it replaced is kept as {}.", k.display())
                    }
                    (Some(k), _) => format!(" The damaged file is kept as {}.", k.display()),
                    (None, _) => String::new(),
                };
                let schema = if vetted.seen.schema_version < crate::durable::schema::CURRENT {
                    format!(
                        " The backup is schema {}; the next run upgrades it.",
                        vetted.seen.schema_version
                    )
                } else {
                    String::new()
                };
                let text = format!(
                    "restored {} from the backup of launch {} (saved {} UTC): {}.{kept}{schema}\nThe next `fizzflow run` continues from there: whatever was counted after this backup is counted again, from the same values, exactly once.",
                    path.display(),
                    backup.launch,
                    utc(backup.saved_unix_ms),
                    describe(&rec),
                );
                return output::report("recovery report", output::stderr_line(&text));
            }
            Err(e) if args.from.is_some() => {
                return Err(Error::NoBackup {
                    dir: dir.clone(),
                    why: format!(
                        "the backup of launch {} fails its check: it {}",
                        backup.launch,
                        failure(&e)
                    ),
                });
            }
            Err(e) => note(&format!(
                "the backup of launch {} fails its check (it {}); trying an older one",
                backup.launch,
                failure(&e)
            )),
        }
    }
    Err(Error::NoBackup {
        dir: dir.clone(),
        why: if found.is_empty() {
            format!(
                "no backups in {} (each launch that opens an existing checkpoint file makes one)",
                backups::dir_of(dir).display()
            )
        } else {
            "no backup passed its check".into()
        },
    })
}

/// Why a backup failed its check, without the advice meant for the
/// checkpoint file itself (a backup is never to be moved aside or run).
fn failure(e: &Error) -> String {
    match e {
        Error::Checkpoint { problem, .. } | Error::Unusable { problem, .. } => problem.clone(),
        e => format!("could not be checked: {e}"),
    }
}

/// One checkpoint in words: its totals and where the run stands.
fn describe(rec: &CheckpointRecord) -> String {
    format!(
        "{} messages, beats {}/{}, launch count {}",
        grouped(rec.logger.messages),
        grouped(rec.beats),
        grouped(rec.beats_target),
        grouped(rec.launches)
    )
}

/// `recover --list`: newest first, each checked again.
fn listing(dir: &Path, found: &[Backup]) -> String {
    if found.is_empty() {
        return format!(
            "no backups in {} (each launch that opens an existing checkpoint file makes one)\n",
            backups::dir_of(dir).display()
        );
    }
    let mut out = format!(
        "{:>6}  {:<19}  {:>16}  {:>21}  check\n",
        "launch", "saved (UTC)", "messages", "beats"
    );
    for b in found {
        let (messages, beats, check) = match inspect::inspect(&b.path) {
            Ok(v) => match v.seen.latest() {
                Some(r) => (
                    grouped(r.logger.messages),
                    format!("{}/{}", grouped(r.beats), grouped(r.beats_target)),
                    "ok".to_string(),
                ),
                None => ("-".into(), "-".into(), "holds no checkpoint".into()),
            },
            Err(e) => ("-".into(), "-".into(), format!("fails: it {}", failure(&e))),
        };
        let _ = writeln!(
            out,
            "{:>6}  {:<19}  {messages:>16}  {beats:>21}  {check}",
            b.launch,
            utc(b.saved_unix_ms)
        );
    }
    out
}

/// A refusal of a checkpoint file, with how to restore a backup if the
/// state dir has one. The person decides; nothing is restored here.
pub fn hint(e: Error, dir: &Path) -> Error {
    let Error::Checkpoint { path, problem } = e else {
        return e;
    };
    let found = backups::list(dir);
    let Some(newest) = found.first() else {
        return Error::Checkpoint { path, problem };
    };
    let shown = dir.display();
    Error::Recoverable {
        path,
        problem,
        hint: format!(
            "If it is damaged, this state dir has {} backup{} (newest: launch {}, saved {} UTC): `fizzflow recover --state-dir {shown}` restores the newest and keeps this file beside it; `fizzflow recover --state-dir {shown} --list` shows them. Work after the backup is redone exactly",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            newest.launch,
            utc(newest.saved_unix_ms),
        ),
    }
}
