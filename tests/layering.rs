//! The layers of src/ depend one way only: util < pipeline < durable,
//! observe and pods < proving < cli (durable, observe and pods do not use
//! each other).
//! A lower layer that names a higher one fails this test, with the file
//! and the name. `migrations/` belongs to durable.

use std::fs;
use std::path::{Path, PathBuf};

/// Each layer and the layers it may use (itself included).
const LAYERS: [(&str, &[&str]); 7] = [
    ("util", &["util"]),
    ("pipeline", &["pipeline", "util"]),
    ("durable", &["durable", "pipeline", "util"]),
    ("observe", &["observe", "pipeline", "util"]),
    ("pods", &["pods", "pipeline", "util"]),
    (
        "proving",
        &["proving", "durable", "observe", "pods", "pipeline", "util"],
    ),
    (
        "cli",
        &[
            "cli", "proving", "durable", "observe", "pods", "pipeline", "util",
        ],
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The layers a file names as `crate::<layer>`, in `use` lines and paths.
fn named_layers(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.push(name);
        }
    }
    // `use crate::{a::x, b::y}` names several.
    for (i, _) in text.match_indices("crate::{") {
        let group = &text[i + "crate::{".len()..];
        let group = &group[..group.find('}').unwrap_or(group.len())];
        for part in group.split(',') {
            let name: String = part
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

#[test]
fn no_layer_uses_a_higher_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let known: Vec<&str> = LAYERS.iter().map(|(l, _)| *l).collect();
    let mut violations = Vec::new();
    let mut checked = 0;
    for (layer, allowed) in LAYERS {
        let mut files = Vec::new();
        rust_files(&root.join("src").join(layer), &mut files);
        if layer == "durable" {
            rust_files(&root.join("migrations"), &mut files);
        }
        assert!(!files.is_empty(), "no files in layer {layer}");
        for file in files {
            checked += 1;
            let text = fs::read_to_string(&file).unwrap();
            for name in named_layers(&text) {
                if known.contains(&name.as_str()) && !allowed.contains(&name.as_str()) {
                    violations.push(format!(
                        "{} ({layer}) uses crate::{name}",
                        file.strip_prefix(root).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(checked > 40, "only {checked} files were read");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn every_folder_of_src_is_a_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                LAYERS.iter().any(|(l, _)| *l == name),
                "src/{name} is in no layer: add it to LAYERS"
            );
        }
    }
}

#[test]
fn the_test_sees_a_violation() {
    let names = named_layers("use crate::cli::error::Error;\nuse crate::{durable::X, util::y};");
    assert_eq!(names, ["cli", "durable", "util"]);
}

/// The flags a line of code names in its strings (comments are skipped):
/// `--word` after a space, a quote, a backtick or a parenthesis.
fn named_flags(line: &str) -> Vec<String> {
    let code = line.trim_start();
    if code.starts_with("//") || !code.contains('"') {
        return Vec::new();
    }
    let bytes = code.as_bytes();
    let mut found = Vec::new();
    for (i, _) in code.match_indices("--") {
        let before_ok = i == 0 || matches!(bytes[i - 1], b' ' | b'"' | b'`' | b'(');
        let flag: String = code[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        if before_ok && !flag.is_empty() {
            found.push(format!("--{flag}"));
        }
    }
    found
}

/// Flags are the CLI's: what the layers below it say names what happened,
/// and the CLI adds what to pass instead (issue 22, item 3).
#[test]
fn no_layer_below_the_cli_names_a_flag() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for layer in ["util", "pipeline", "durable", "observe", "pods"] {
        rust_files(&root.join("src").join(layer), &mut files);
    }
    rust_files(&root.join("migrations"), &mut files);
    let mut violations = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap();
        // Unit tests may run the binary with flags; only the code itself counts.
        let code = text.split("#[cfg(test)]").next().unwrap();
        for (n, line) in code.lines().enumerate() {
            for flag in named_flags(line) {
                violations.push(format!(
                    "{}:{}: {flag}",
                    file.strip_prefix(root).unwrap().display(),
                    n + 1
                ));
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_flag_test_sees_a_flag() {
    assert_eq!(
        named_flags(r#"    "pass another --state-dir","#),
        ["--state-dir"]
    );
    assert!(named_flags("    // pass another --state-dir").is_empty());
    assert!(named_flags(r#"    let n = x--y; "s""#).is_empty());
}
