//! Bad flags get a clear message and exit code 2, before anything runs.

mod common;
use common::*;
use std::time::Duration;

fn rejected(args: &[&str], expect_in_stderr: &str) {
    let done = run(args, Duration::from_secs(30));
    assert_eq!(
        done.status.code(),
        Some(2),
        "args {args:?}\nstderr:\n{}",
        done.stderr
    );
    assert!(
        done.stderr.contains(expect_in_stderr),
        "args {args:?}: expected '{expect_in_stderr}' in:\n{}",
        done.stderr
    );
    assert!(done.stdout.is_empty(), "nothing on stdout: {}", done.stdout);
}

#[test]
fn zero_and_non_numeric_sizes() {
    rejected(&["--worker-batch", "0"], "--worker-batch");
    rejected(&["--beats", "many"], "--beats");
    rejected(&["--channel-capacity", "0"], "--channel-capacity");
}

#[test]
fn batch_larger_than_its_channel() {
    rejected(
        &["--logger-batch", "10000"],
        "larger than --channel-capacity 8192",
    );
    rejected(
        &[
            "--channel-capacity",
            "16",
            "--generator-batch",
            "1",
            "--worker-batch",
            "1",
            "--logger-batch",
            "1",
        ],
        "from 32 (one beat of signals)",
    );
}

#[test]
fn unknown_actor_in_inject_panic() {
    rejected(&["--inject-panic", "chef:10"], "unknown actor 'chef'");
    rejected(&["--inject-panic", "worker"], "ACTOR:N");
}

#[test]
fn empty_state_dir() {
    rejected(&["--state-dir", ""], "must not be empty");
}

#[test]
fn unknown_flag() {
    rejected(&["--rates", "3"], "--rates");
}

#[test]
fn help_explains_the_pipeline() {
    let done = run(&["--help"], Duration::from_secs(30));
    assert!(done.status.success());
    assert!(
        done.stdout.contains("beats × 32 × worker-batch"),
        "{}",
        done.stdout
    );
    assert!(
        !done.stdout.contains("inject-panic"),
        "fault injection stays hidden"
    );
}

#[test]
fn unknown_bench_configurations_are_named() {
    let bench = |args: &[&str]| {
        let child = fizzflow(args).spawn().expect("spawn");
        wait_with_deadline(child, Duration::from_secs(30))
    };
    let done = bench(&["bench", "--only", "bogus"]);
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    for name in ["bogus", "telemetry-off", "plain-threads", "fused-loop"] {
        assert!(done.stderr.contains(name), "'{name}' in {}", done.stderr);
    }
    let help = bench(&["bench", "--help"]);
    assert!(help.stdout.contains("checkpoints-off"), "{}", help.stdout);
}

#[test]
fn errors_say_what_a_flag_takes_in_words() {
    rejected(
        &["--worker-batch", "0"],
        "--worker-batch <N>': must be 1 or more",
    );
    rejected(&["--rate", "0.5"], "must be a whole number of milliseconds");
    rejected(&["--rate", "250us"], "must come to whole milliseconds");
    rejected(&["--checkpoint-interval", "5 parsecs"], "unknown time unit");
    rejected(&["--beats", "-1"], "not negative");
    rejected(&["--beats", "99999999999999999999"], "too large");
    for args in [
        &["--worker-batch", "0"][..],
        &["--rate", "0.5"],
        &["--beats", "-1"],
    ] {
        let done = run(args, Duration::from_secs(30));
        for raw in ["is not in 1..", "invalid digit", "unexpected argument"] {
            assert!(!done.stderr.contains(raw), "{args:?}: {}", done.stderr);
        }
    }
}

#[test]
fn help_shows_examples_and_each_value_list_once() {
    for args in [
        &["--help"][..],
        &["run", "--help"],
        &["stats", "--help"],
        &["torture", "--help"],
        &["bench", "--help"],
    ] {
        let child = fizzflow(args).spawn().expect("spawn");
        let done = wait_with_deadline(child, Duration::from_secs(30));
        assert!(done.status.success(), "{args:?}");
        assert!(
            done.stdout.contains("Examples:"),
            "{args:?}: {}",
            done.stdout
        );
    }
    let child = fizzflow(&["run", "--help"]).spawn().expect("spawn");
    let help = wait_with_deadline(child, Duration::from_secs(30)).stdout;
    assert!(help.contains("Resume and continue:"), "{help}");
    assert_eq!(
        help.matches("trace").count(),
        1,
        "log levels listed once:\n{help}"
    );
}

#[test]
fn bench_and_torture_counts_are_bounded_not_overflowed() {
    // Before: --beats 0 benchmarked nothing and called it a result, and a
    // huge --beats, --rate or --cycles overflowed into a panic (exit 101).
    rejected(&["bench", "--beats", "0"], "must be 1 or more");
    rejected(&["bench", "--beats", "18446744073709551615"], "too large");
    rejected(
        &["bench", "--paced-beats", "18446744073709551615"],
        "too large",
    );
    rejected(
        &["bench", "--soak-secs", "18446744073709551615"],
        "too large",
    );
    rejected(&["torture", "--cycles", "0"], "must be 1 or more");
    rejected(&["torture", "--beats", "0"], "must be 1 or more");
    rejected(&["torture", "--rate", "18446744073709551615"], "too large");
    rejected(&["torture", "--beats", "1000", "--rate", "100"], "as hung");
    rejected(&["torture", "--state-dir", ""], "must not be empty");
    rejected(&["--checkpoint-history", "1000001"], "the most is 1000000");
}

#[test]
fn a_state_dir_need_not_be_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let parent = state_dir();
    let dir = parent
        .path()
        .join(std::ffi::OsStr::from_bytes(b"state-\xff"));
    for args in [
        &["--rate", "0", "--beats", "3", "--json"][..],
        &["stats", "--json"],
    ] {
        let child = fizzflow(args)
            .arg("--state-dir")
            .arg(&dir)
            .spawn()
            .expect("spawn");
        let done = wait_with_deadline(child, Duration::from_secs(60));
        assert_eq!(done.status.code(), Some(0), "{args:?}: {}", done.stderr);
        assert_eq!(field(&done.json(), "beats"), 3);
    }
}

/// Issue 21, item 13: a refused run touches nothing. Before, a refusal that
/// needed the stored run (a target past the largest count) came after the
/// state dir, its lock file and its telemetry dir had been made, and a
/// typo in --state-dir made every missing parent.
#[test]
fn a_refused_run_creates_nothing() {
    let scratch = state_dir();
    let fresh = scratch.path().join("fresh");
    let done = run(
        &[
            "--state-dir",
            fresh.to_str().unwrap(),
            "--beats",
            "18446744073709551615",
        ],
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert!(!fresh.exists(), "a refused run made {}", fresh.display());

    let typo = scratch.path().join("no-such").join("deeper").join("state");
    let done = run(
        &["--state-dir", typo.to_str().unwrap(), "--beats", "1"],
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(4), "{}", done.stderr);
    assert!(done.stderr.contains("does not exist"), "{}", done.stderr);
    assert!(done.stderr.contains("mkdir -p"), "{}", done.stderr);
    assert!(
        !scratch.path().join("no-such").exists(),
        "parents were made"
    );

    // A dir with a run: flags that contradict it are refused before the
    // telemetry dir (or anything else) appears.
    let held = scratch.path().join("held");
    let done = run(
        &[
            "--state-dir",
            held.to_str().unwrap(),
            "--beats",
            "2",
            "--rate",
            "0",
        ],
        Duration::from_secs(30),
    );
    assert!(done.status.success(), "{}", done.stderr);
    let listing = |dir: &std::path::Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = listing(&held);
    let mut cmd = std::process::Command::new(BIN);
    cmd.args([
        "--state-dir",
        held.to_str().unwrap(),
        "--worker-batch",
        "512",
    ])
    .args(["--progress", "off", "--no-metrics"])
    .env_remove("FIZZFLOW_STATE_DIR");
    let done = wait_with_deadline(
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(30),
    );
    assert_eq!(done.status.code(), Some(2), "{}", done.stderr);
    assert_eq!(
        listing(&held),
        before,
        "with telemetry on, a refusal made files"
    );
}

/// `bench --reference` names a file that can be run before a minute of
/// benchmarking, and a binary that is not the lesson ends the bench with
/// exit 1 saying so, instead of a table with a made-up row.
#[test]
fn a_bench_reference_must_be_the_lesson() {
    rejected(
        &["bench", "--reference", "/nonexistent/performant"],
        "cannot use /nonexistent/performant",
    );
    let dir = state_dir();
    let plain = dir.path().join("notes.txt");
    std::fs::write(&plain, "not a program").unwrap();
    let plain = plain.to_str().unwrap();
    rejected(
        &["bench", "--reference", plain],
        &format!("{plain} is not an executable file"),
    );
    let done = run(
        &[
            "bench",
            "--only",
            "plain-threads",
            "--beats",
            "1",
            "--paced-beats",
            "0",
            "--rounds",
            "1",
            "--reference",
            "/bin/true",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(done.status.code(), Some(1), "{}", done.stderr);
    assert!(
        done.stderr.contains("printed no \"Total: N\""),
        "{}",
        done.stderr
    );
    assert!(done.stdout.is_empty(), "no table: {}", done.stdout);
}
