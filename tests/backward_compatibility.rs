//! Every state dir a released fizzflow wrote opens in this build, reads as
//! that release read it, and goes on exactly.
//!
//! The corpus, fixtures/releases/<commit>/<scenario>/, was made by the
//! released binaries themselves (scripts/make-fixtures.sh builds the release
//! commit in a throwaway worktree; CHANGELOG.md lists the releases): each
//! scenario holds the state dir as the release left it and what the
//! release itself printed of it. Nothing here was written by today's code,
//! so a check that refuses what a release really wrote fails this test.

mod common;
use common::*;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

/// One scenario of one release.
struct Released {
    release: String,
    scenario: String,
    path: PathBuf,
}

impl Released {
    fn name(&self) -> String {
        format!("{}/{}", self.release, self.scenario)
    }

    /// A private copy of the state dir, so the corpus is never written to.
    fn copy(&self) -> tempfile::TempDir {
        let dir = state_dir();
        copy_tree(&self.path.join("state"), dir.path());
        dir
    }

    /// What the release printed, where it printed it.
    fn sidecar(&self, file: &str) -> Option<Value> {
        let text = fs::read_to_string(self.path.join(file)).ok()?;
        Some(serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {file}: {e}", self.name())))
    }
}

/// Every scenario of every release, in a fixed order.
fn corpus() -> Vec<Released> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/releases");
    let mut all = Vec::new();
    for release in sorted_entries(&root) {
        for scenario in sorted_entries(&release) {
            all.push(Released {
                release: file_name(&release),
                scenario: file_name(&scenario),
                path: scenario,
            });
        }
    }
    all
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    entries.sort();
    entries
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every file under `dir` with its bytes, to show a command changed none.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(snapshot(&path));
        } else {
            files.push((path.clone(), fs::read(&path).unwrap()));
        }
    }
    files.sort();
    files
}

/// The checks of one scenario, collected so one run names every failure.
#[derive(Default)]
struct Verdicts(Vec<String>);

impl Verdicts {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }

    fn assert_none(self, what: &str) {
        assert!(
            self.0.is_empty(),
            "{what}: {} failures:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// Runs a command that must succeed; its stdout as JSON.
fn json_of(dir: &Path, args: &[&str]) -> Result<Value, String> {
    json_of_output(args, &run_in(dir, args, LIMIT))
}

/// The JSON a finished command printed, or what went wrong.
fn json_of_output(args: &[&str], done: &Finished) -> Result<Value, String> {
    if !done.status.success() {
        return Err(format!(
            "{args:?}: exit {:?}: {}",
            done.status.code(),
            done.stderr.trim()
        ));
    }
    serde_json::from_str(done.stdout.trim()).map_err(|e| format!("{args:?}: {e}: {}", done.stdout))
}

/// Fields a release printed that this build no longer prints, and why:
/// the same information is in another field of the same object.
const DROPPED: [(&str, &str); 1] = [(
    "ending",
    "the launch's end as an enum; `ended` says the same in words (0.3.0)",
)];

/// What a release printed and what this build prints agree: every whole
/// number exactly, every float to within its last digits, every text and
/// every nested value the same way. Fields this build added are not the
/// old release's business.
fn agree(old: &Value, new: &Value, at: &str, out: &mut Vec<String>) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (key, value) in o {
                if DROPPED.iter().any(|(k, _)| k == key) {
                    continue;
                }
                match n.get(key) {
                    Some(v) => agree(value, v, &format!("{at}.{key}"), out),
                    None => out.push(format!("{at}.{key}: missing (was {value})")),
                }
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            if o.len() != n.len() {
                out.push(format!("{at}: {} entries, was {}", n.len(), o.len()));
            }
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                agree(a, b, &format!("{at}[{i}]"), out);
            }
        }
        (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            if (a - b).abs() > 1e-12 * a.abs().max(b.abs()) {
                out.push(format!("{at}: {b}, was {a}"));
            }
        }
        (a, b) if a != b => out.push(format!("{at}: {b}, was {a}")),
        _ => {}
    }
}

fn integer(v: &Value, name: &str) -> Option<u64> {
    v.get(name).and_then(Value::as_u64)
}

/// The messages line of `stats`'s table, as a number.
fn table_messages(table: &str) -> Option<u64> {
    let line = table.lines().find(|l| l.starts_with("messages"))?;
    line["messages".len()..]
        .trim()
        .replace(',', "")
        .parse()
        .ok()
}

#[test]
fn the_corpus_holds_at_least_twelve_dirs_of_each_release() {
    let all = corpus();
    let mut releases: Vec<&str> = all.iter().map(|r| r.release.as_str()).collect();
    releases.dedup();
    assert!(
        releases.len() >= 2,
        "releases in fixtures/releases: {releases:?}"
    );
    for release in releases {
        let n = all.iter().filter(|r| r.release == release).count();
        assert!(n >= 12, "{release}: {n} scenarios");
    }
}

#[test]
fn every_released_state_dir_reads_as_its_release_read_it_and_is_left_alone() {
    let mut failures = Verdicts::default();
    for dir in corpus() {
        let name = dir.name();
        let copy = dir.copy();
        let before = snapshot(copy.path());
        let mut diffs = Vec::new();
        for (args, file) in [
            (&["stats", "--json"][..], "stats.json"),
            (&["stats", "--history", "--json"][..], "history.json"),
            (&["stats", "--launches", "--json"][..], "launches.json"),
        ] {
            let Some(old) = dir.sidecar(file) else {
                continue;
            };
            match json_of(copy.path(), args) {
                Ok(new) => agree(&old, &new, file, &mut diffs),
                Err(e) => diffs.push(e),
            }
        }
        let table = run_in(copy.path(), &["stats"], LIMIT);
        let old_messages = dir
            .sidecar("stats.json")
            .and_then(|v| integer(&v, "messages"));
        failures.check(
            table.status.success() && table_messages(&table.stdout) == old_messages,
            || {
                format!(
                    "{name}: the table says {:?}, the release {old_messages:?}: {}",
                    table_messages(&table.stdout),
                    table.stderr.trim()
                )
            },
        );
        failures.check(diffs.is_empty(), || format!("{name}: {}", diffs.join("; ")));
        failures.check(snapshot(copy.path()) == before, || {
            format!("{name}: stats changed the state dir")
        });
        if dir.path.join("recover-list.txt").exists() {
            let list = run_in(copy.path(), &["recover", "--list"], LIMIT);
            failures.check(list.status.success(), || {
                format!("{name}: recover --list: {}", list.stderr.trim())
            });
        }
    }
    failures.assert_none("released state dirs read by this build");
}

#[test]
fn every_released_state_dir_finishes_and_continues_exactly() {
    const MORE: u64 = 7;
    let mut failures = Verdicts::default();
    for dir in corpus() {
        let name = dir.name();
        let copy = dir.copy();
        let d = copy.path();
        let result = (|| -> Result<(), String> {
            let old = json_of(d, &["stats", "--json"])?;
            let old_history = json_of(d, &["stats", "--history", "--json"])?;
            let worker_batch = old_history[0]["settings"]["worker_batch"]
                .as_u64()
                .ok_or("no worker batch in the history")?;
            let launches = integer(&old, "launches").unwrap_or(0);
            let mut runs = 0;
            // An unfinished run is finished first, as the resume rules
            // require: no flags, the stored settings and target.
            if integer(&old, "beats") < integer(&old, "beats_target") {
                let v = json_of(d, &["--rate", "0", "--json"])?;
                runs += 1;
                if v["beats"] != v["beats_target"] || v["beats_target"] != old["beats_target"] {
                    return Err(format!(
                        "resumed to {} of {}",
                        v["beats"], v["beats_target"]
                    ));
                }
            }
            let finished = json_of(d, &["stats", "--json"])?;
            let more = ["--rate", "0", "--beats", &MORE.to_string(), "--json"];
            let done = run_in(d, &more, LIMIT);
            let v = json_of_output(&more, &done)?;
            runs += 1;
            let messages = integer(&finished, "messages").unwrap() + MORE * 32 * worker_batch;
            if integer(&v, "messages") != Some(messages)
                || integer(&v, "beats") != integer(&finished, "beats").map(|b| b + MORE)
            {
                return Err(format!(
                    "{MORE} more beats gave {v}, after {finished}; it said: {}",
                    done.stderr.trim()
                ));
            }
            assert_closed_form(&v);
            assert_whole_beats(&v, worker_batch);

            let rows = json_of(d, &["stats", "--launches", "--json"])?;
            let rows = rows.as_array().ok_or("launches: not an array")?;
            let numbers: Vec<u64> = rows.iter().filter_map(|r| integer(r, "launch")).collect();
            if numbers != (1..=launches + runs).collect::<Vec<_>>() {
                return Err(format!(
                    "launch rows {numbers:?} after {launches} + {runs} launches"
                ));
            }
            // Every launch the release recorded keeps its row; one it left
            // open (killed) now has the end the next launch found for it.
            if let Some(old_rows) = dir.sidecar("launches.json") {
                for (o, n) in old_rows.as_array().unwrap().iter().zip(rows) {
                    if o["ending"] == "Open" {
                        continue;
                    }
                    let mut diffs = Vec::new();
                    agree(o, n, "launches", &mut diffs);
                    if !diffs.is_empty() {
                        return Err(diffs.join("; "));
                    }
                }
            }
            // What the launches added is the lifetime, where every launch's
            // start is known (a first-release history that was pruned no
            // longer knows where its oldest launches began).
            let added: Option<u64> = rows.iter().map(|r| r["added_messages"].as_u64()).sum();
            if added.is_some_and(|a| Some(a) != integer(&v, "messages")) {
                return Err(format!(
                    "the launches add up to {added:?}, the lifetime is {}",
                    v["messages"]
                ));
            }
            let list = run_in(d, &["recover", "--list"], LIMIT);
            if !list.status.success() {
                return Err(format!(
                    "recover --list after the runs: {}",
                    list.stderr.trim()
                ));
            }
            Ok(())
        })();
        if let Err(e) = result {
            failures.0.push(format!("{name}: {e}"));
        }
    }
    failures.assert_none("released state dirs continued by this build");
}

#[test]
fn a_crash_inside_the_upgrade_leaves_the_released_file_and_the_next_run_upgrades() {
    let dir = corpus()
        .into_iter()
        .find(|r| r.release == "2db95b0" && r.scenario == "paced-and-unpaced")
        .expect("in the corpus");
    let copy = dir.copy();
    let d = copy.path();
    let done = run_in(
        d,
        &["--rate", "0", "--beats", "3", "--inject-abort", "upgrade"],
        LIMIT,
    );
    assert!(done.status.code().is_none(), "aborted: {}", done.stderr);
    assert!(
        done.stderr.contains("inside the upgrade from schema 1"),
        "{}",
        done.stderr
    );
    // redb's header may now say the file needs a repair; its data is the
    // release's, unchanged.
    let v = json_of(d, &["stats", "--json"]).unwrap();
    assert_eq!(field(&v, "schema_version"), 1);
    let old = dir.sidecar("stats.json").unwrap();
    let mut diffs = Vec::new();
    agree(&old, &v, "stats", &mut diffs);
    assert!(diffs.is_empty(), "{diffs:?}");
    let v = json_of(d, &["--rate", "0", "--beats", "3", "--json"]).unwrap();
    assert_eq!(field(&v, "beats"), field(&old, "beats") + 3);
    assert_closed_form(&v);
    let now = json_of(d, &["stats", "--json"]).unwrap();
    assert!(field(&now, "schema_version") >= 2, "{now}");
}
