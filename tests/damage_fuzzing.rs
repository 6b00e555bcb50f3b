//! Damage is a verdict, never a dead end: real checkpoint files (made here
//! by the binary, and the state dirs the two released binaries wrote, in
//! fixtures/releases) are mutated — single bytes set (0xa0 among them: the
//! largest page order redb accepts, in any byte), bits flipped, the file
//! cut short, and the order byte of page references set to 0xa0: the
//! child references of branch pages (issue 21's byte 0xb02f is one) and
//! the roots in table definitions — and `stats` reads each under an
//! address-space limit of 1 GiB (`ulimit -v 1048576`). Every outcome is
//! exit 0 with exactly the totals of the unmutated file (the byte was in
//! space redb does not read) or exit 4 with the file untouched: never exit
//! 1 ("could not check"), never a hang.
//!
//! A seeded fastrand loop, bounded: FIZZFLOW_FUZZ_SEED replays another
//! seed, FIZZFLOW_FUZZ_ROUNDS multiplies the random mutations per file.

mod common;
use common::pages::*;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// `ulimit -v 1048576`.
const AS_LIMIT: u64 = 1 << 30;
/// Longer than the checker's own 60 s timeout, so that one shows as exit 1.
const DEADLINE: Duration = Duration::from_secs(120);
const DEFAULT_SEED: u64 = 21;

struct Source {
    name: String,
    bytes: Vec<u8>,
    /// `stats --json` of the unmutated file.
    totals: Value,
    /// The order bytes of its page references: branch pages' child
    /// references and table roots.
    references: Vec<usize>,
}

#[derive(Clone, Debug)]
enum Mutation {
    /// A page reference's order byte set to 0xa0 (order 20: 4 GiB).
    Reference(usize),
    Set(usize, u8),
    Flip(usize, u8),
    Truncate(usize),
}

impl Mutation {
    fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let mut out = bytes.to_vec();
        match *self {
            Mutation::Reference(at) => out[at] = 0xa0,
            Mutation::Set(at, v) => out[at] = v,
            Mutation::Flip(at, bit) => out[at] ^= 1 << bit,
            Mutation::Truncate(len) => out.truncate(len),
        }
        out
    }

    fn kind(&self) -> &'static str {
        match self {
            Mutation::Reference(_) => "reference",
            Mutation::Set(_, 0xa0) => "0xa0 set",
            Mutation::Set(..) => "byte set",
            Mutation::Flip(..) => "bit flip",
            Mutation::Truncate(_) => "truncation",
        }
    }
}

/// `stats --json` on a state dir holding only `bytes`, under the limit.
fn stats_of(bytes: &[u8]) -> (Finished, Vec<u8>) {
    let dir = state_dir();
    let path = checkpoint_file(dir.path());
    fs::write(&path, bytes).unwrap();
    let done = run_limited(dir.path(), &["stats", "--json"], AS_LIMIT, DEADLINE);
    let after = fs::read(&path).unwrap();
    (done, after)
}

fn made_by_the_binary(dir: &Path, launches: &[&[&str]]) -> Vec<u8> {
    for args in launches {
        let done = run_in(dir, args, DEADLINE);
        assert!(done.status.success(), "{args:?}: {}", done.stderr);
    }
    fs::read(checkpoint_file(dir)).unwrap()
}

fn sources() -> Vec<Source> {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    // Issue 21's file: two `--rate 0 --beats 10` launches.
    let issue = state_dir();
    let quick: &[&str] = &["--rate", "0", "--beats", "10", "--checkpoint-interval", "0"];
    files.push((
        "made: two short launches".into(),
        made_by_the_binary(issue.path(), &[quick, quick]),
    ));
    // More launches and a longer history: more pages, deeper trees.
    let longer = state_dir();
    let many: &[&str] = &[
        "--rate",
        "0",
        "--beats",
        "40",
        "--checkpoint-interval",
        "1",
        "--checkpoint-history",
        "1000",
    ];
    files.push((
        "made: three launches, checkpoints every ms".into(),
        made_by_the_binary(longer.path(), &[many, many, quick]),
    ));
    let releases = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let mut fixtures: Vec<PathBuf> = fs::read_dir(&releases)
        .unwrap()
        .flatten()
        .flat_map(|release| fs::read_dir(release.path()).unwrap().flatten())
        .map(|dir| dir.path().join("state/checkpoints.redb"))
        .filter(|p| p.is_file())
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 40, "{} fixture files", fixtures.len());
    for path in fixtures {
        let name = path.strip_prefix(&releases).unwrap().display().to_string();
        files.push((name, fs::read(&path).unwrap()));
    }
    files
        .into_iter()
        .map(|(name, bytes)| {
            let (done, _) = stats_of(&bytes);
            let totals = done.success_json();
            Source {
                name,
                references: [
                    branch_child_order_bytes(&bytes),
                    table_root_order_bytes(&bytes),
                ]
                .concat(),
                bytes,
                totals,
            }
        })
        .collect()
}

/// The mutations of one file: a few of each kind at random, biased toward
/// redb's header (where most bytes matter), and the order byte of a few of
/// its page references.
fn mutations(rng: &mut fastrand::Rng, source: &Source, rounds: usize) -> Vec<Mutation> {
    let bytes = &source.bytes;
    let len = bytes.len();
    let anywhere = |rng: &mut fastrand::Rng| {
        if rng.u8(..4) == 0 {
            rng.usize(..320.min(len))
        } else {
            rng.usize(..len)
        }
    };
    let mut out = Vec::new();
    for _ in 0..rounds {
        out.push(Mutation::Set(anywhere(rng), 0xa0));
        // The top byte of an aligned u64: where page numbers keep their order.
        out.push(Mutation::Set(rng.usize(..len / 8) * 8 + 7, 0xa0));
        out.push(Mutation::Set(anywhere(rng), rng.u8(..)));
        out.push(Mutation::Flip(anywhere(rng), rng.u8(..8)));
        out.push(Mutation::Flip(anywhere(rng), rng.u8(..8)));
        out.push(Mutation::Truncate(rng.usize(..len)));
    }
    let mut references = source.references.clone();
    rng.shuffle(&mut references);
    out.extend(
        references
            .into_iter()
            .take(4 * rounds)
            .map(Mutation::Reference),
    );
    out
}

#[derive(Default)]
struct Tally {
    tried: usize,
    harmless: usize,
    refused: usize,
    over_memory: usize,
    /// Of those, how many were at a page reference's order byte.
    over_memory_at_references: usize,
    by_kind: std::collections::BTreeMap<&'static str, [usize; 2]>,
    failures: Vec<String>,
}

#[test]
fn mutated_checkpoint_files_are_read_the_same_or_refused_under_a_memory_limit() {
    let started = Instant::now();
    let seed = std::env::var("FIZZFLOW_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SEED);
    let rounds = std::env::var("FIZZFLOW_FUZZ_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let sources = sources();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut jobs: Vec<(usize, Mutation)> = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        for m in mutations(&mut rng, source, rounds) {
            jobs.push((i, m));
        }
        if i == 0 {
            // Issue 21's byte, in issue 21's file.
            jobs.push((i, Mutation::Set(0xb02f, 0xa0)));
        }
    }
    let queue = Mutex::new(jobs);
    let tally = Mutex::new(Tally::default());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                loop {
                    let Some((i, m)) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let source = &sources[i];
                    let mutated = m.apply(&source.bytes);
                    let (done, after) = stats_of(&mutated);
                    let mut t = tally.lock().unwrap();
                    t.tried += 1;
                    let case = format!("{} {m:?} (seed {seed})", source.name);
                    match done.status.code() {
                        Some(0) => {
                            t.harmless += 1;
                            t.by_kind.entry(m.kind()).or_default()[0] += 1;
                            let seen = done.json();
                            if seen != source.totals {
                                t.failures.push(format!(
                                    "{case}: exit 0 with other totals: {seen} (was {})",
                                    source.totals
                                ));
                            }
                        }
                        Some(4) => {
                            t.refused += 1;
                            t.by_kind.entry(m.kind()).or_default()[1] += 1;
                            if done.stderr.contains("needed more memory") {
                                t.over_memory += 1;
                                if let Mutation::Reference(at)
                                | Mutation::Set(at, _)
                                | Mutation::Flip(at, _) = m
                                    && source.references.contains(&at)
                                {
                                    t.over_memory_at_references += 1;
                                }
                            }
                        }
                        other => t.failures.push(format!(
                            "{case}: exit {other:?} ({:?}): {}",
                            done.status,
                            done.stderr.trim()
                        )),
                    }
                    if after != mutated {
                        t.failures.push(format!("{case}: the file was changed"));
                    }
                }
            });
        }
    });
    let t = tally.into_inner().unwrap();
    eprintln!(
        "damage fuzzing, seed {seed}: {} files, {} mutations in {:.1} s: {} exit 0 (same totals), {} exit 4 ({} over the check's own memory limit, {} of them at a page reference's order byte), {} failures",
        sources.len(),
        t.tried,
        started.elapsed().as_secs_f64(),
        t.harmless,
        t.refused,
        t.over_memory,
        t.over_memory_at_references,
        t.failures.len()
    );
    for (kind, [zero, four]) in &t.by_kind {
        eprintln!("  {kind:<11} exit 0: {zero:>4}  exit 4: {four:>4}");
    }
    assert!(t.failures.is_empty(), "{}", t.failures.join("\n"));
    // The fuzzing reached what it is for.
    assert!(
        t.over_memory > 0,
        "no mutation made a check ask for too much"
    );
    assert!(t.refused > 0 && t.harmless > 0);
}
