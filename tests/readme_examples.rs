//! The README's code blocks are tested, so a sample can never drift from
//! what fizzflow does. Every indented block carries a marker, an HTML
//! comment on the line before it (a blank line between is allowed):
//!
//! - `<!-- readme: run -->`: each line is a shell command (after `# `, a
//!   comment); run in a scratch dir with `fizzflow` on the PATH, each must
//!   exit 0.
//! - `<!-- readme: output SCRIPT -->`: the block is what SCRIPT (sh, in a
//!   scratch dir) prints. Numbers, paths and times are normalised, and
//!   every line of the block must be a line of what SCRIPT printed.
//! - `<!-- readme: layout -->`: every path the block names exists.
//! - `<!-- readme: skip REASON -->`: not run, with the reason (a build, a
//!   synopsis with placeholders, a terminal capture other tests check).
//!
//! A block without a marker fails the test.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

struct Block {
    line: usize,
    marker: String,
    lines: Vec<String>,
}

/// The README's indented blocks (outside fenced ones), with their markers.
fn blocks() -> Vec<Block> {
    let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let lines: Vec<&str> = text.lines().collect();
    let mut out: Vec<Block> = Vec::new();
    let mut fenced = false;
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        if l.starts_with("```") {
            fenced = !fenced;
        }
        let starts = !fenced
            && l.starts_with("    ")
            && !l.trim().is_empty()
            && i > 0
            && lines[i - 1].trim().is_empty();
        // A block starts after a blank line that follows prose, a heading
        // or a marker (list items continue with two spaces, not four).
        let after_prose = i < 2 || !lines[i - 2].starts_with("    ");
        if starts && after_prose {
            let marker = [i.checked_sub(1), i.checked_sub(2)]
                .into_iter()
                .flatten()
                .map(|j| lines[j].trim())
                .find(|l| l.starts_with("<!-- readme:"))
                .map(|m| {
                    m.trim_start_matches("<!-- readme:")
                        .trim_end_matches("-->")
                        .trim()
                        .to_string()
                })
                .unwrap_or_default();
            let mut body = Vec::new();
            while i < lines.len() && (lines[i].starts_with("    ") || lines[i].trim().is_empty()) {
                // A blank line followed by prose ends the block.
                if lines[i].trim().is_empty()
                    && !lines.get(i + 1).is_some_and(|n| n.starts_with("    "))
                {
                    break;
                }
                body.push(lines[i].get(4..).unwrap_or("").to_string());
                i += 1;
            }
            out.push(Block {
                line: i - body.len() + 1,
                marker,
                lines: body,
            });
            continue;
        }
        i += 1;
    }
    out
}

/// A scratch dir with `fizzflow` on the PATH (this build's binary).
fn sandbox() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("bin")).expect("bin");
    std::os::unix::fs::symlink(BIN, dir.path().join("bin/fizzflow")).expect("symlink");
    dir
}

fn shell(dir: &Path, script: &str) -> Finished {
    let path = format!(
        "{}:{}",
        dir.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let child = Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("FIZZFLOW_STATE_DIR")
        .env_remove("COLUMNS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh");
    wait_with_deadline(child, LIMIT)
}

/// Numbers, times and paths as shapes: `40,960,000` and `4.10` are `#`,
/// a duration in any unit (`17 µs`, `1.42 ms`, `10.0 s`) is `# T`,
/// `/tmp/demo/checkpoints.redb` is `PATH`; runs of spaces are one.
fn normalised(line: &str) -> String {
    let shape = shapes(line);
    let mut out = String::new();
    let mut rest = shape.as_str();
    while let Some(at) = rest.find("# ") {
        out.push_str(&rest[..at + 2]);
        rest = &rest[at + 2..];
        for unit in ["µs", "ms", "ns", "s"] {
            if let Some(after) = rest.strip_prefix(unit)
                && !after.starts_with(|c: char| c.is_alphanumeric())
            {
                out.push('T');
                rest = after;
                break;
            }
        }
    }
    out.push_str(rest);
    out
}

fn shapes(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.trim_end().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            while chars
                .peek()
                .is_some_and(|n| n.is_ascii_digit() || matches!(n, ',' | '.' | ':' | '-'))
            {
                chars.next();
            }
            out.push('#');
        } else if c == '/' && (out.is_empty() || out.ends_with(' ')) {
            while chars
                .peek()
                .is_some_and(|n| !n.is_whitespace() && *n != ')')
            {
                chars.next();
            }
            out.push_str("PATH");
        } else if c == ' ' && out.ends_with(' ') {
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn every_block_has_a_marker() {
    let unmarked: Vec<String> = blocks()
        .iter()
        .filter(|b| b.marker.is_empty())
        .map(|b| format!("README.md:{}: {}", b.line, b.lines[0]))
        .collect();
    assert!(
        unmarked.is_empty(),
        "blocks without a readme marker:\n{}",
        unmarked.join("\n")
    );
}

#[test]
fn run_blocks_run() {
    for block in blocks().iter().filter(|b| b.marker == "run") {
        let dir = sandbox();
        for command in block.lines.iter().filter(|l| !l.trim().is_empty()) {
            let command = command.split("  # ").next().unwrap_or("");
            let done = shell(dir.path(), command);
            assert!(
                done.status.success(),
                "README.md:{}: `{command}` failed ({:?}):\n{}",
                block.line,
                done.status,
                done.stderr
            );
        }
    }
}

#[test]
fn output_samples_are_what_fizzflow_prints() {
    let mut checked = 0;
    for block in blocks().iter().filter(|b| b.marker.starts_with("output ")) {
        let script = block.marker.trim_start_matches("output ");
        let dir = sandbox();
        let done = shell(dir.path(), script);
        assert!(
            done.status.success(),
            "README.md:{}: `{script}` failed:\n{}",
            block.line,
            done.stderr
        );
        let printed: Vec<String> = format!("{}\n{}", done.stdout, done.stderr)
            .lines()
            .map(normalised)
            .collect();
        for line in block.lines.iter().filter(|l| !l.trim().is_empty()) {
            let want = normalised(line);
            assert!(
                printed.contains(&want),
                "README.md:{}: the sample line\n  {line}\nis not what `{script}` prints; it printed:\n{}",
                block.line,
                printed.join("\n")
            );
        }
        checked += 1;
    }
    assert!(checked > 0, "no output sample was checked");
}

#[test]
fn the_layout_names_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for block in blocks().iter().filter(|b| b.marker == "layout") {
        for line in &block.lines {
            let Some(path) = line.split_whitespace().next() else {
                continue;
            };
            if !path.contains('/')
                || path.contains('*')
                || path.contains('<')
                || line.starts_with(' ')
            {
                continue;
            }
            for one in path.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let one = if one.contains('/') {
                    one.to_string()
                } else {
                    format!("migrations/{one}")
                };
                assert!(
                    root.join(&one).exists(),
                    "README.md:{}: {one} does not exist",
                    block.line
                );
            }
        }
    }
}

#[test]
fn the_normalising_keeps_words_and_drops_numbers() {
    assert_eq!(
        normalised("done: this launch 40,960,000 messages, 5,000 beats, in 10.0 s (4.10 M msgs/s)"),
        "done: this launch # messages, # beats, in # T (# M msgs/s)"
    );
    assert_eq!(
        normalised("checkpoint file       /tmp/demo/checkpoints.redb (schema 3)"),
        "checkpoint file PATH (schema #)"
    );
}
