//! The terminal the progress display draws on: stderr, with each of the
//! display's lines kept a line of its own, and a narrowing followed.
//!
//! indicatif pads every line it draws with spaces to the last column and
//! lets the terminal wrap to the next row. A terminal that reflows its
//! text on a resize (tmux, VTE, kitty, iTerm2, Windows Terminal, ...)
//! then holds the whole display as one long line, and after a narrowing
//! it fills more rows than indicatif drew: the redraw cleared as many rows
//! as it had drawn and left the rest of the old display on screen.
//! Here each line ends by clearing the rest of its row and the next one
//! starts on a new row, so a line reflows on its own; the rows a
//! narrowing added are counted from the lengths drawn and cleared with
//! the old display.

use console::{Term, measure_text_width};
use indicatif::TermLike;
use std::io;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Drawn {
    /// The width of every line of the last draw, in columns.
    lines: Vec<usize>,
    /// The terminal's width when they were drawn.
    width: usize,
    /// The next string written is the filler of the line just written.
    filler_next: bool,
    /// Something was written since the cursor last moved: the next move
    /// starts a redraw from the last line of the display.
    wrote: bool,
    /// The cursor is at the end of a line written, on its row: what comes
    /// next starts on a new row. A redraw clears the display's rows, but
    /// a note drawn while there is no bar yet stays, and the line after
    /// it (the bar, another note, the summary) must not join it.
    row_used: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct ReflowTerm {
    term: Term,
    reflows: bool,
    drawn: Arc<Mutex<Drawn>>,
}

impl ReflowTerm {
    pub fn stderr() -> ReflowTerm {
        ReflowTerm {
            term: Term::buffered_stderr(),
            reflows: terminal_reflows(|name| {
                std::env::var_os(name).map(|v| v.into_string().unwrap_or_default())
            }),
            drawn: Arc::new(Mutex::new(Drawn::default())),
        }
    }

    fn drawn(&self) -> std::sync::MutexGuard<'_, Drawn> {
        self.drawn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Moves up `n` rows; the first move of a redraw also climbs the rows
    /// a narrowing added to the display's lines and clears each row it
    /// climbed, so no part of the old display stays.
    fn climb(&self, n: usize) -> io::Result<()> {
        let mut drawn = self.drawn();
        drawn.filler_next = false;
        if !std::mem::take(&mut drawn.wrote) {
            return self.term.move_cursor_up(n);
        }
        let now = self.width();
        let extra = if self.reflows {
            added_rows(&drawn.lines, n + 1, drawn.width, now as usize)
        } else {
            0
        };
        drawn.lines.clear();
        if extra == 0 {
            return self.term.move_cursor_up(n);
        }
        // Row by row: a clear to the end of the screen from its top corner
        // (where a climb over a tall display ends) is taken by tmux for a
        // clear screen, which copies the screen into its scrollback.
        let rows = n + extra;
        self.term.move_cursor_up(rows)?;
        for row in 0..=rows {
            self.term.write_str("\r\x1b[2K")?;
            if row < rows {
                self.term.move_cursor_down(1)?;
            }
        }
        drawn.row_used = false;
        self.term.move_cursor_up(rows)
    }

    /// Ends the row a note left the cursor on, so what is printed next
    /// (the summary, once the display is gone) starts a line of its own.
    pub fn end_line(&self) -> io::Result<()> {
        if std::mem::take(&mut self.drawn().row_used) {
            self.term.write_str("\r\n")?;
        }
        self.term.flush()
    }

    /// indicatif writes each line as two strings, the line and the spaces
    /// that fill its row: the filler becomes a clear to the row's end,
    /// and the next line starts on a row of its own.
    fn write(&self, s: &str) -> io::Result<()> {
        let mut drawn = self.drawn();
        if !drawn.wrote {
            drawn.wrote = true;
            drawn.width = self.width() as usize;
        }
        if drawn.filler_next {
            drawn.filler_next = false;
            return self.term.write_str("\x1b[K");
        }
        if drawn.row_used {
            self.term.write_str("\r\n")?;
        }
        drawn.lines.push(measure_text_width(s));
        drawn.filler_next = true;
        drawn.row_used = true;
        self.term.write_str(s)
    }
}

/// The rows the last `count` lines fill at `now` columns beyond the one
/// each filled at `then` (a line fitted to `then` filled one, or more if
/// it was wider).
fn added_rows(lines: &[usize], count: usize, then: usize, now: usize) -> usize {
    if now == 0 || now >= then {
        return 0;
    }
    let rows = |len: usize, width: usize| len.div_ceil(width).max(1);
    lines
        .iter()
        .rev()
        .take(count)
        .map(|&len| rows(len, now).saturating_sub(rows(len, then)))
        .sum()
}

/// Whether the terminal rewraps its text when it gets narrower. A guess
/// from what the terminals set in the environment: a wrong "yes" would
/// clear rows of earlier output above the display after a narrowing, a
/// wrong "no" leaves pieces of the old display there, so only terminals
/// known to reflow are named (xterm, the Linux console and rxvt cut rows
/// short instead, and need nothing).
fn terminal_reflows(var: impl Fn(&str) -> Option<String>) -> bool {
    const SET_BY_REFLOWING: [&str; 8] = [
        "TMUX",
        "VTE_VERSION",
        "KITTY_WINDOW_ID",
        "WT_SESSION",
        "ALACRITTY_WINDOW_ID",
        "WEZTERM_PANE",
        "KONSOLE_VERSION",
        "GHOSTTY_RESOURCES_DIR",
    ];
    const REFLOWING_PROGRAMS: [&str; 5] = [
        "iTerm.app",
        "Apple_Terminal",
        "WezTerm",
        "vscode",
        "ghostty",
    ];
    SET_BY_REFLOWING.iter().any(|name| var(name).is_some())
        || var("TERM_PROGRAM").is_some_and(|p| REFLOWING_PROGRAMS.contains(&p.as_str()))
}

impl TermLike for ReflowTerm {
    fn width(&self) -> u16 {
        self.term.size().1
    }

    fn height(&self) -> u16 {
        self.term.size().0
    }

    fn move_cursor_up(&self, n: usize) -> io::Result<()> {
        self.climb(n)
    }

    fn move_cursor_down(&self, n: usize) -> io::Result<()> {
        self.drawn().filler_next = false;
        self.term.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> io::Result<()> {
        self.term.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> io::Result<()> {
        self.drawn().filler_next = false;
        self.term.write_line(s)
    }

    fn write_str(&self, s: &str) -> io::Result<()> {
        self.write(s)
    }

    fn clear_line(&self) -> io::Result<()> {
        let mut drawn = self.drawn();
        drawn.filler_next = false;
        drawn.row_used = false;
        drop(drawn);
        self.term.clear_line()
    }

    fn flush(&self) -> io::Result<()> {
        self.term.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_narrowing_adds_the_rows_each_line_now_wraps_into() {
        // Three lines drawn at 120 columns, the display's two last.
        let lines = [100, 119, 50];
        assert_eq!(added_rows(&lines, 2, 120, 70), 1);
        assert_eq!(added_rows(&lines, 3, 120, 40), 2 + 2 + 1);
        assert_eq!(added_rows(&lines, 2, 120, 120), 0);
        assert_eq!(added_rows(&lines, 2, 80, 120), 0);
        assert_eq!(added_rows(&[0], 1, 120, 10), 0);
    }

    #[test]
    fn only_terminals_known_to_reflow_are_taken_for_it() {
        let env = |set: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                set.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert!(terminal_reflows(env(&[(
            "TMUX",
            "/tmp/tmux-0/default,1,0"
        )])));
        assert!(terminal_reflows(env(&[("TERM_PROGRAM", "iTerm.app")])));
        assert!(!terminal_reflows(env(&[("TERM", "xterm-256color")])));
        assert!(!terminal_reflows(env(&[("TERM_PROGRAM", "something")])));
        assert!(!terminal_reflows(env(&[])));
    }
}
