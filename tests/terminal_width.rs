//! Every line fizzflow prints fits an 80-column terminal: driven in tmux
//! (the pane's history, wrapped rows rejoined, so a line wider than the
//! terminal shows as one long line): runs new and continued, the summary,
//! stats, stats --launches, recover --list, a refusal and its advice.
//! Piped output is not wrapped, so scripts keep their lines.

mod common;
use common::tmux::Tmux;
use common::*;
use std::time::Duration;

#[test]
fn every_line_fits_80_columns() {
    let script = "\
        $F --state-dir $D --beats 300 --rate 0 --no-telemetry --metrics-addr 127.0.0.1:0 --progress off; \
        $F --state-dir $D --beats 200 --rate 0 --no-telemetry --metrics-addr 127.0.0.1:0 --progress off; \
        $F stats --state-dir $D; \
        $F stats --state-dir $D --launches; \
        $F recover --state-dir $D --list; \
        $F --state-dir $D --beats 10 --worker-batch 512 --no-telemetry --no-metrics; \
        $F stats --state-dir $D/nowhere; \
        $F --help; $F pod sink --help; $F torture --help";
    let tmux = Tmux::script(80, script);
    let history = tmux.wait_for(Duration::from_secs(120), false, |s| {
        s.iter().any(|l| l == "DONE")
    });
    drop(history);
    let lines = tmux.history();
    let text = lines.join("\n");
    // Everything ran: both summaries, the tables, the refusal.
    for seen in [
        "done: this launch",
        "(continued)",
        "checkpoint file",
        "launch  ",
        "error:",
        "Usage: fizzflow",
    ] {
        assert!(text.contains(seen), "{seen} missing:\n{text}");
    }
    let wide: Vec<&String> = lines.iter().filter(|l| l.chars().count() > 80).collect();
    assert!(
        wide.is_empty(),
        "wider than 80 columns:\n{wide:#?}\n\nall:\n{text}"
    );
}

#[test]
fn piped_output_is_not_wrapped() {
    let state = state_dir();
    for _ in 0..2 {
        run_in(
            state.path(),
            &["--beats", "50", "--rate", "0"],
            Duration::from_secs(60),
        );
    }
    let done = run_in(
        state.path(),
        &["stats", "--launches"],
        Duration::from_secs(60),
    );
    assert!(done.status.success(), "{}", done.stderr);
    // The full table, flags and all, one line per launch.
    let rows: Vec<&str> = done
        .stdout
        .lines()
        .filter(|l| l.contains("--beats 50"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", done.stdout);
    assert!(
        rows.iter().all(|l| l.chars().count() > 80),
        "{}",
        done.stdout
    );
}
