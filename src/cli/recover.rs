//! `fizzflow recover`: restore the checkpoint file from a verified backup.
//!
//! The source is deterministic and replays from any cut, so an older
//! consistent cut of an unfinished run loses nothing: the next run counts
//! the work after it again, exactly once. A cut of a finished run holds
//! that run whole; what the file had counted after it (later launches, if
//! their backups were lost) is not in it, and the report says so.
//! Recovery is never automatic: `run` and `stats` only say that it is
//! possible and how.

use crate::cli::error::Error;
use crate::cli::error::report;
use crate::cli::state_dir::StateDirArg;
use crate::durable::Error as DurableError;
use crate::durable::backups::{self, Backup};
use crate::durable::inspect::{self, Vetted, checkpoint_path};
use crate::durable::lock::DirLock;
use crate::durable::read::Inspection;
use crate::durable::record::CheckpointRecord;
use crate::durable::restore::restore;
use crate::util::output::{self, note};
use crate::util::time::utc;
use crate::util::units::grouped;
use clap::Args;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[derive(Args, Debug, Clone)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub state: StateDirArg,

    /// List the backups (each checked again), restore nothing
    #[arg(long, conflicts_with_all = ["from", "from_path", "force"])]
    pub list: bool,

    /// Restore the newest backup of this launch on the current timeline
    /// (default: the newest backup that passes its check)
    #[arg(long, value_name = "LAUNCH", value_parser = crate::cli::words::positive)]
    pub from: Option<u64>,

    /// Restore this backup file, from any timeline (`--list` shows the
    /// backups an earlier restore set apart)
    #[arg(long, value_name = "PATH", conflicts_with = "from")]
    pub from_path: Option<PathBuf>,

    /// Replace the checkpoint file even if it is healthy, or cannot be
    /// checked at all (it is kept, renamed, as a damaged one is)
    #[arg(long)]
    pub force: bool,
}

/// What the file in place is, as far as recover is concerned.
enum Current {
    Missing,
    Damaged,
    /// Readable (healthy, or not fizzflow's to judge): replaced only when
    /// forced; its content, where it was read, says what a restore loses.
    Whole(Option<Vetted>),
}

pub fn command(args: &RecoverArgs) -> Result<(), Error> {
    let dir = &args.state.dir;
    if !dir.is_dir() {
        return Err(DurableError::StateDir {
            dir: dir.clone(),
            problem: "does not exist or is not a directory".into(),
        }
        .into());
    }
    if args.list {
        // Reading only, so no lock: a run may hold the dir meanwhile. A
        // backup appears by an atomic rename, and each is checked from a
        // private copy.
        let file = inspect::existing(&checkpoint_path(dir)).ok().flatten();
        let text = listing(dir, file.as_ref().map(|v| &v.seen));
        let text = output::fit_to(output::Stream::Stdout, &text);
        return report("backup list", output::stdout_text(&text));
    }
    crate::cli::run::start_checker(dir)?;
    // The lock: no run may use the file while it is replaced.
    let _lock = DirLock::acquire(dir)?;
    let current = current(dir, args.force)?;
    let why = match current {
        Current::Missing | Current::Damaged => "damaged",
        Current::Whole(_) => "replaced",
    };
    let file = match &current {
        Current::Whole(Some(vetted)) => Some(&vetted.seen),
        _ => None,
    };
    for backup in candidates(args, dir, file)? {
        // Checked again now: a backup is trusted no more than the file was.
        let vetted = match inspect::inspect(&backup.path) {
            Ok(vetted) => vetted,
            Err(e) if args.from.is_some() || args.from_path.is_some() => {
                return Err(Error::NoBackup {
                    dir: dir.clone(),
                    why: format!(
                        "{} fails its check: it {}",
                        backup.path.display(),
                        failure(&e)
                    ),
                });
            }
            Err(e) => {
                note(&format!(
                    "the backup {} fails its check (it {}); trying an older one",
                    backup.path.display(),
                    failure(&e)
                ));
                continue;
            }
        };
        let Some(rec) = vetted.seen.latest().cloned() else {
            note(&format!(
                "{} holds no checkpoint; skipped",
                backup.path.display()
            ));
            continue;
        };
        let done = restore(dir, &vetted.bytes, why, &backup)?;
        let mut text = format!(
            "restored {} from the backup of launch {} (saved {} UTC): {}.",
            checkpoint_path(dir).display(),
            backup.launch,
            utc(backup.saved_unix_ms),
            describe(&rec),
        );
        if let Some(kept) = &done.kept {
            let _ = write!(
                text,
                "\nThe file it replaced is kept as {}.",
                kept.display()
            );
        }
        let _ = write!(
            text,
            "\n{}",
            what_is_lost(&rec, file.and_then(Inspection::latest))
        );
        if vetted.seen.schema_version < crate::durable::schema::CURRENT {
            let _ = write!(
                text,
                "\nThe backup is schema {}; the next run upgrades it.",
                vetted.seen.schema_version
            );
        }
        if let Some((to, n)) = &done.abandoned {
            let _ = write!(
                text,
                "\n{n} newer backup{} belonged to the timeline this restore leaves: set apart in {} (`--from-path` restores one).",
                if *n == 1 { "" } else { "s" },
                to.display()
            );
        }
        return report("recovery report", output::stderr_line(&text));
    }
    Err(Error::NoBackup {
        dir: dir.clone(),
        why: if backups::list(dir).is_empty() {
            format!(
                "no backups in {} (each launch writes one when it ends)",
                backups::dir_of(dir).display()
            )
        } else {
            "no backup passed its check".into()
        },
    })
}

/// The file in place, judged: one that is not damaged is replaced only
/// with --force (the refusal says what it is), and so is one that cannot
/// be checked at all (a killed checker, a full disk).
fn current(dir: &Path, force: bool) -> Result<Current, Error> {
    let shown = checkpoint_path(dir);
    let shown = shown.display();
    let (current, refusal) = match inspect::existing(&checkpoint_path(dir)) {
        Ok(None) => (Current::Missing, None),
        Err(DurableError::Damaged { .. }) => (Current::Damaged, None),
        Err(DurableError::Unusable { problem, .. }) => (
            Current::Whole(None),
            Some(format!(
                "the checkpoint file {shown} {problem}. That is not damage, so recover leaves it; pass --force to replace it anyway (it is kept, renamed)"
            )),
        ),
        Ok(Some(vetted)) => {
            let at = vetted.seen.latest().map(describe).unwrap_or_default();
            (
                Current::Whole(Some(vetted)),
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
        Err(e @ (DurableError::CouldNotCheck { .. } | DurableError::Io { .. })) if force => {
            let why = match e {
                DurableError::CouldNotCheck { problem, .. } => {
                    format!("the checkpoint file {shown} could not be checked ({problem})")
                }
                e => e.to_string(),
            };
            note(&format!(
                "{why}; --force replaces it all the same (it is kept, renamed)"
            ));
            (Current::Whole(None), None)
        }
        Err(DurableError::CouldNotCheck { path, problem }) => {
            let dir = dir.display();
            return Err(DurableError::CouldNotCheck {
                path,
                problem: format!(
                    "{problem}; if that persists, `fizzflow recover --state-dir {dir} --force` puts the newest backup that passes its check in its place without checking it (it is kept, renamed)"
                ),
            }
            .into());
        }
        Err(e) => return Err(e.into()),
    };
    match (refusal, force) {
        (Some(refusal), false) => Err(Error::Usage(refusal)),
        _ => Ok(current),
    }
}

/// The backups to try, in order.
fn candidates(
    args: &RecoverArgs,
    dir: &Path,
    file: Option<&Inspection>,
) -> Result<Vec<Backup>, Error> {
    if let Some(path) = &args.from_path {
        return Ok(vec![named(dir, path)?]);
    }
    // A file that can be read tells its own backups from those of another
    // timeline; a damaged one cannot, and every backup in backups/ is
    // taken as its own (a restore sets the others apart).
    let mine: Vec<Backup> = backups::list(dir)
        .into_iter()
        .filter(|b| {
            file.and_then(Inspection::latest)
                .is_none_or(|r| b.launch <= r.launches)
        })
        .collect();
    let Some(launch) = args.from else {
        return Ok(mine);
    };
    let one: Vec<Backup> = mine.into_iter().filter(|b| b.launch == launch).collect();
    if one.is_empty() {
        return Err(Error::Usage(format!(
            "there is no backup of launch {launch} on the current timeline; `fizzflow recover --list` shows them all"
        )));
    }
    Ok(one)
}

/// A backup named by its path: one of this state dir's, on any timeline.
fn named(dir: &Path, path: &Path) -> Result<Backup, Error> {
    let wanted = std::fs::canonicalize(path).ok();
    let mut all = backups::list(dir);
    all.extend(
        backups::list_abandoned(dir)
            .into_iter()
            .flat_map(|(_, b)| b),
    );
    all.into_iter()
        .find(|b| wanted.is_some() && std::fs::canonicalize(&b.path).ok() == wanted)
        .ok_or_else(|| {
            Error::Usage(format!(
                "{} is not one of the backups of {}; `fizzflow recover --list` shows them",
                path.display(),
                dir.display()
            ))
        })
}

/// What the restored file does not have, in beats and messages where the
/// file it replaces could be read, and what the next run does from there.
fn what_is_lost(restored: &CheckpointRecord, replaced: Option<&CheckpointRecord>) -> String {
    let lost = match replaced {
        Some(old) if old.logger.messages >= restored.logger.messages => format!(
            "It lacks what the replaced file counted after it: {} beats, {} messages.",
            grouped(old.beats.saturating_sub(restored.beats)),
            grouped(old.logger.messages - restored.logger.messages)
        ),
        Some(_) => String::new(),
        None => format!(
            "Whatever the damaged file counted after launch {} is not in it.",
            grouped(restored.launches)
        ),
    };
    let next = if restored.unfinished() {
        format!(
            "The next `fizzflow run` finishes its run from beat {}: what was counted after this cut is counted again, from the same values, exactly once.",
            grouped(restored.beats)
        )
    } else {
        "Its run is finished: the next `fizzflow run --beats N` adds N beats to it.".into()
    };
    format!("{lost} {next}").trim().to_string()
}

/// Why a backup failed its check, without the advice meant for the
/// checkpoint file itself (a backup is never to be moved aside or run).
fn failure(e: &DurableError) -> String {
    match e {
        DurableError::Damaged { problem, .. } | DurableError::Unusable { problem, .. } => {
            problem.clone()
        }
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

/// `recover --list`: the current timeline's backups newest first, each
/// checked again, then those an earlier restore set apart.
fn listing(dir: &Path, file: Option<&Inspection>) -> String {
    let found = backups::list(dir);
    let apart = backups::list_abandoned(dir);
    if found.is_empty() && apart.is_empty() {
        return format!(
            "no backups in {} (each launch writes one when it ends)\n",
            backups::dir_of(dir).display()
        );
    }
    let newest = file.and_then(Inspection::latest);
    let mut out = format!(
        "backups in {}, newest first:\n{:>6}  {:<19}  {:>14}  {:>13}  check\n",
        backups::dir_of(dir).display(),
        "launch",
        "saved (UTC)",
        "messages",
        "beats"
    );
    for b in &found {
        let other = newest.is_some_and(|r| b.launch > r.launches);
        out.push_str(&row(b, if other { "another timeline" } else { "" }));
    }
    for (folder, set) in &apart {
        let _ = writeln!(
            out,
            "set apart by a restore, in {} (another timeline; `--from-path` restores one):",
            folder.display()
        );
        for b in set {
            out.push_str(&row(b, "another timeline"));
            let _ = writeln!(out, "        {}", b.path.display());
        }
    }
    out
}

fn row(b: &Backup, label: &str) -> String {
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
    let check = if label.is_empty() {
        check
    } else {
        format!("{check}, {label}")
    };
    format!(
        "{:>6}  {:<19}  {messages:>14}  {beats:>13}  {check}\n",
        b.launch,
        utc(b.saved_unix_ms)
    )
}

/// A refusal of a checkpoint file, with how to restore a backup if the
/// state dir has one. The person decides; nothing is restored here.
pub fn hint(e: DurableError, dir: &Path) -> Error {
    let DurableError::Damaged { path, problem } = e else {
        return e.into();
    };
    let found = backups::list(dir);
    let Some(newest) = found.first() else {
        return DurableError::Damaged { path, problem }.into();
    };
    let shown = dir.display();
    Error::Recoverable {
        path,
        problem,
        hint: format!(
            "This state dir has {} backup{} (newest: launch {}, saved {} UTC). To restore the newest, keeping this file beside it: fizzflow recover --state-dir {shown} (--list shows them all)",
            found.len(),
            if found.len() == 1 { "" } else { "s" },
            newest.launch,
            utc(newest.saved_unix_ms),
        ),
    }
}
