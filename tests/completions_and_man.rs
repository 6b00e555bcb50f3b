//! `fizzflow completions SHELL` and `fizzflow man` come from the clap
//! definition: the bash script completes the real subcommands and flags in
//! a real bash, every shell gets a script, and the man page names every
//! subcommand.

mod common;
use common::*;
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

/// fizzflow with exactly these arguments, to its end.
fn fizzflow_only(args: &[&str]) -> Finished {
    let child = Command::new(BIN)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn fizzflow");
    wait_with_deadline(child, LIMIT)
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let done = fizzflow_only(&["completions", shell]);
        assert!(done.status.success(), "{shell}: {}", done.stderr);
        assert!(done.stdout.contains("fizzflow"), "{shell}");
        assert!(done.stdout.contains("state-dir"), "{shell}");
    }
    let bad = fizzflow_only(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr);
}

/// Completes `words` (the last one is being typed, "" for a new word)
/// with the generated script in a real bash, called as bash calls it.
fn bash_completes(words: &[&str]) -> Vec<String> {
    let script = fizzflow_only(&["completions", "bash"]).stdout;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fizzflow.bash");
    std::fs::write(&path, script).expect("write script");
    let quoted: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let program = format!(
        "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE='{}'; COMP_POINT=${{#COMP_LINE}}; \
         _fizzflow fizzflow \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display(),
        quoted.join(" "),
        words.len() - 1,
        words.join(" ")
    );
    let child = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("bash");
    let done = wait_with_deadline(child, LIMIT);
    assert!(done.status.success(), "{}", done.stderr);
    done.stdout.lines().map(str::to_string).collect()
}

#[test]
fn bash_completes_subcommands_and_flags() {
    let subcommands = bash_completes(&["fizzflow", "st"]);
    assert_eq!(subcommands, ["stats"], "only what starts so");
    let flags = bash_completes(&["fizzflow", "stats", "--la"]);
    assert_eq!(flags, ["--launches"]);
    let pods = bash_completes(&["fizzflow", "pod", ""]);
    assert!(pods.iter().any(|l| l == "sink"), "{pods:?}");
    assert!(pods.iter().any(|l| l == "source"), "{pods:?}");
}

#[test]
fn the_man_page_names_every_subcommand() {
    let done = fizzflow_only(&["man"]);
    assert!(done.status.success(), "{}", done.stderr);
    let page = done.stdout;
    assert!(page.contains(".TH fizzflow 1"), "{page}");
    for sub in [
        "RUN",
        "STATS",
        "RECOVER",
        "BENCH",
        "TORTURE",
        "POD",
        "POD SINK",
        "POD SOURCE",
        "DRIVER",
        "COMPLETIONS",
        "MAN",
    ] {
        assert!(
            page.contains(&format!(".SH \"FIZZFLOW {sub}\"")),
            "{sub} missing"
        );
    }
    assert!(page.contains("\\-\\-state\\-dir"), "flags are listed");
}
