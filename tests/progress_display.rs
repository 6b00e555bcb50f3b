//! What a person sees: in a real terminal (tmux, 80 and 200 columns) the
//! progress display is a bar with a percentage and an ETA over a line of
//! details, no line wider than the terminal, cleared before an intact
//! summary; in a log (stderr not a terminal) one plain line a second; with
//! --progress off, nothing but the summary.

mod common;
use common::tmux::Tmux;
use common::*;
use std::time::Duration;

fn run_in_terminal(width: u16, extra: &str) -> Tmux {
    Tmux::start(
        width,
        &format!("--rate 2 --beats 2000 --no-telemetry --no-metrics {extra}"),
    )
}

fn bar_and_details_fit(width: u16) {
    let tmux = run_in_terminal(width, "");
    let screen = tmux.wait_for(Duration::from_secs(60), false, |s| {
        s.iter().any(|l| l.contains("ETA") && l.contains("% · "))
    });
    for row in &screen {
        assert!(
            row.chars().count() < width as usize,
            "a row as wide as the terminal ({width}):\n{}",
            screen.join("\n")
        );
    }
    let bar = screen
        .iter()
        .position(|l| l.contains("ETA"))
        .expect("the bar row");
    assert!(screen[bar].starts_with('['), "{}", screen[bar]);
    assert!(screen[bar].contains('█'), "{}", screen[bar]);
    // The bar did not wrap: its details are the next row, whole.
    assert!(
        screen[bar + 1].starts_with("cpu "),
        "the row under the bar:\n{}",
        screen.join("\n")
    );
    let screen = tmux.wait_for(Duration::from_secs(60), true, |s| {
        s.iter().any(|l| l.starts_with("EXIT="))
    });
    assert!(
        screen.iter().any(|l| l == "EXIT=0"),
        "{}",
        screen.join("\n")
    );
    // The bar is gone and the summary is whole.
    assert!(
        !screen.iter().any(|l| l.contains("ETA")),
        "{}",
        screen.join("\n")
    );
    let done = screen
        .iter()
        .find(|l| l.starts_with("done: this launch 16,384,000 messages, 2,000 beats"))
        .unwrap_or_else(|| panic!("summary:\n{}", screen.join("\n")));
    assert!(done.contains("msgs/s"), "{done}");
    for line in [
        "lifetime 16,384,000 messages, 2,000/2,000 beats, 16,000 batches",
        "fizz 4,369,067 · buzz 2,184,533 · fizzbuzz 1,092,267 · value 8,738,133",
        "sequence errors 0 · duplicates dropped 0 · restarts 0",
    ] {
        assert!(
            screen.iter().any(|l| l.trim() == line),
            "'{line}' in:\n{}",
            screen.join("\n")
        );
    }
}

#[test]
fn the_bar_fits_an_80_column_terminal() {
    bar_and_details_fit(80);
}

#[test]
fn the_bar_fits_a_200_column_terminal() {
    bar_and_details_fit(200);
}

#[test]
fn progress_off_shows_only_the_summary() {
    let tmux = run_in_terminal(100, "--progress off");
    let screen = tmux.wait_for(Duration::from_secs(60), true, |s| {
        s.iter().any(|l| l.starts_with("EXIT="))
    });
    assert!(!screen.iter().any(|l| l.contains("ETA") || l.contains('█')));
    assert!(screen.iter().any(|l| l.starts_with("done: this launch")));
}

#[test]
fn a_log_gets_one_plain_line_a_second() {
    let dir = state_dir();
    let child = std::process::Command::new(BIN)
        .args([
            "run",
            "--rate",
            "2",
            "--beats",
            "1500",
            "--no-telemetry",
            "--no-metrics",
        ])
        .arg("--state-dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let done = wait_with_deadline(child, Duration::from_secs(60));
    assert!(done.status.success(), "{}", done.stderr);
    let lines: Vec<&str> = done
        .stderr
        .lines()
        .filter(|l| l.starts_with('[') && l.contains("ETA"))
        .collect();
    assert!(!lines.is_empty(), "{}", done.stderr);
    for line in lines {
        assert!(!line.contains('\x1b') && !line.contains('\r'), "{line:?}");
        assert!(line.contains("beats") && line.contains("msgs/s"), "{line}");
    }
    let state = std::fs::canonicalize(dir.path()).unwrap();
    assert!(
        done.stderr
            .contains(&format!("launch 1 in {} (new)", state.display())),
        "the state dir, in full: {}",
        done.stderr
    );
}

/// A continued run's bar is this launch's (its percentage, its beats) with
/// the lifetime beside it; it once showed this launch's % over the
/// lifetime's count.
#[test]
fn a_continued_run_shows_this_launch_with_the_lifetime_beside() {
    let tmux = Tmux::script(
        200,
        "$F --state-dir $D --beats 500 --rate 0 --no-telemetry --no-metrics --progress off; \
         $F --state-dir $D --beats 2000 --rate 2 --no-telemetry --no-metrics",
    );
    let screen = tmux.wait_for(Duration::from_secs(60), false, |s| {
        s.iter()
            .any(|l| l.contains("/2,000 beats") && l.contains("lifetime"))
    });
    let bar = screen
        .iter()
        .find(|l| l.contains("/2,000 beats"))
        .expect("the bar");
    assert!(
        bar.contains("lifetime ") && bar.contains("/2,500 beats"),
        "{bar}"
    );
}

/// The bar keeps its length while the numbers beside it grow digits (it
/// jittered with --progress wide): the headline starts in the same column
/// from one redraw to the next.
#[test]
fn the_bar_does_not_jitter() {
    let tmux = Tmux::script(
        120,
        "$F --state-dir $D --beats 4000 --rate 1 --no-telemetry --no-metrics --progress wide",
    );
    let column = |screen: &[String]| {
        screen
            .iter()
            .find(|l| l.starts_with('[') && l.contains("% · "))
            .and_then(|l| l.find("% · ").map(|at| l[..at].chars().count()))
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        let screen = tmux.wait_for(Duration::from_secs(60), false, |s| column(s).is_some());
        seen.push(column(&screen).expect("a bar"));
        std::thread::sleep(Duration::from_millis(1100));
    }
    // The percentage itself may grow a digit (9% to 10%): its end stays.
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
}

/// Ctrl-C in a real terminal leaves no bar behind: the terminal's "^C"
/// echo wrapped after the bar's last line, and the redraw above the
/// "stopping" note left the bar's first line on screen. The terminal's
/// flags are as they were afterwards.
#[test]
fn ctrl_c_leaves_no_bar_behind() {
    let tmux = Tmux::script(
        80,
        "$F --state-dir $D --beats 5000 --no-telemetry --no-metrics; stty -a | tr ' ' '\\n' | grep echoctl",
    );
    tmux.wait_for(Duration::from_secs(60), false, |s| {
        s.iter().any(|l| l.starts_with('[') && l.contains("beats"))
    });
    std::thread::sleep(Duration::from_millis(1500));
    let status = tmux
        .command()
        .args(["send-keys", "-t", "t", "C-c"])
        .status()
        .expect("send-keys");
    assert!(status.success());
    let screen = tmux.wait_for(Duration::from_secs(60), false, |s| {
        s.iter().any(|l| l == "DONE")
    });
    let stale: Vec<&String> = screen.iter().filter(|l| l.starts_with("[ ")).collect();
    assert!(
        stale.is_empty(),
        "{stale:?} left on:\n{}",
        screen.join("\n")
    );
    assert!(
        screen.iter().any(|l| l.starts_with("done: this launch")),
        "{}",
        screen.join("\n")
    );
    assert!(
        screen.iter().any(|l| l == "echoctl"),
        "flags put back:\n{}",
        screen.join("\n")
    );
}

/// A run outside the terminal's foreground job (`timeout` runs it in a
/// process group of its own, as a shell's `&` and run --pods do) runs:
/// changing the terminal's flags from there stopped it with SIGTTOU before
/// its first beat, and only SIGKILL ended it.
#[test]
fn a_run_outside_the_foreground_job_runs() {
    let tmux = Tmux::script(
        80,
        "timeout -k 5 30 $F --state-dir $D --beats 1000 --rate 1 --no-telemetry --no-metrics; echo RC=$?",
    );
    let screen = tmux.wait_for(Duration::from_secs(60), true, |s| {
        s.iter().any(|l| l == "DONE")
    });
    let text = screen.join("\n");
    assert!(screen.iter().any(|l| l == "RC=0"), "{text}");
    assert!(text.contains("1,000/1,000 beats"), "{text}");
}

/// Narrowing a terminal that reflows its lines (tmux, VTE, kitty, iTerm2
/// ...) leaves no piece of the old bar: each row the bar had drawn wraps
/// into two, the redraw cleared only as many rows as it had drawn, and
/// the old bar's upper halves stayed on screen above the new one.
#[test]
fn a_narrowed_terminal_keeps_no_piece_of_the_old_bar() {
    let tmux = Tmux::script(
        120,
        "$F --state-dir $D --beats 60000 --rate 1 --no-telemetry --no-metrics --progress wide",
    );
    let bar = |s: &[String]| s.iter().any(|l| l.starts_with('[') && l.contains("% · "));
    tmux.wait_for(Duration::from_secs(60), false, bar);
    std::thread::sleep(Duration::from_millis(600));
    for width in ["70", "40"] {
        let status = tmux
            .command()
            .args(["resize-window", "-t", "t", "-x", width])
            .status()
            .expect("resize-window");
        assert!(status.success());
        // Two redraws at the new width (the display draws four a second).
        std::thread::sleep(Duration::from_millis(800));
        // Wrapped rows rejoined: the start line, reflowed, is one line.
        let screen = tmux.wait_for(Duration::from_secs(10), true, bar);
        // Above the bar: the start line only.
        let pieces: Vec<&String> = screen
            .iter()
            .take_while(|l| !(l.starts_with('[') && l.contains("% · ")))
            .filter(|l| !l.is_empty() && !l.starts_with("fizzflow: "))
            .collect();
        assert!(
            pieces.is_empty(),
            "at {width} columns, {pieces:?} left of the old bar:\n{}",
            screen.join("\n")
        );
    }
}

/// Notes printed before the bar's first draw keep a line each, and so does
/// the summary of a run that ends before it: with each line ending in a
/// clear instead of padding, a note left the cursor on its own row, and
/// the next note, the bar or the summary was written onto that row (and
/// the bar's redraw then erased it). Each note here waits 300 ms, so they
/// all come before the bar's first draw.
#[test]
fn notes_before_the_first_bar_keep_their_own_lines() {
    let tmux = Tmux::script(
        120,
        "FIZZFLOW_TEST_PAUSE=note:300:$D.note $F --state-dir $D --beats 300 --rate 2 --no-telemetry --metrics-addr 127.0.0.1:0",
    );
    let screen = tmux.wait_for(Duration::from_secs(60), false, |s| {
        s.iter().any(|l| l == "DONE")
    });
    let starts = |prefix: &str| screen.iter().filter(|l| l.starts_with(prefix)).count();
    assert_eq!(
        starts("fizzflow: launch 1 in "),
        1,
        "the launch line:\n{}",
        screen.join("\n")
    );
    assert_eq!(
        starts("fizzflow: metrics at http://127.0.0.1:"),
        1,
        "the metrics line:\n{}",
        screen.join("\n")
    );
    assert_eq!(
        starts("done: this launch 2,457,600 messages, 300 beats"),
        1,
        "the summary on a line of its own:\n{}",
        screen.join("\n")
    );
    // No line holds two of them.
    assert!(
        screen
            .iter()
            .all(|l| l.matches("fizzflow: ").count() <= 1 && !l.contains("beatsdone")),
        "{}",
        screen.join("\n")
    );
}
