//! The progress display on a terminal, drawn by indicatif: a bar with the
//! percentage, beats, messages, rate and ETA, and under it a line of
//! details (two with `--progress wide`). Every line is fitted to the
//! terminal's width by dropping its least useful fields, so a redraw never
//! wraps, and a narrowing of the terminal leaves nothing behind (see
//! reflow.rs); notes printed meanwhile go above the bar, not through it.

use crate::observe::reflow::ReflowTerm;
use crate::observe::status::{ProgressMode, Status, fit};
use crate::util::units::short_duration;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;

/// The narrowest bar worth drawing; below it the bar is left out.
const MIN_BAR: usize = 10;
/// The widest bar: the rest of a wide terminal is for the numbers.
const MAX_BAR: usize = 40;
const SEP: &str = " · ";

/// Ctrl-C's echo ("^C") lands after the bar's last line, which indicatif
/// pads to the terminal's last column: the echo wraps to a row of its own,
/// the redraw that follows counts one row short, and the bar's first line
/// stayed on screen above the "stopping" note. With ECHOCTL off the
/// terminal echoes the character itself, which moves nothing. The flags
/// are put back when the bar goes, and before an exit at once.
fn quiet_control_echo() -> Option<libc::termios> {
    // SAFETY: plain calls on fd 2 and on a termios we own.
    unsafe {
        // Only the terminal's foreground job may change its flags: a job in
        // the background (`&`, `timeout`, a pod of run --pods) that tried
        // would be stopped by SIGTTOU, and froze.
        if libc::tcgetpgrp(2) != libc::getpgrp() {
            return None;
        }
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(2, &mut t) != 0 || t.c_lflag & libc::ECHOCTL == 0 {
            return None;
        }
        let before = t;
        t.c_lflag &= !libc::ECHOCTL;
        set_flags(&t).then_some(before)
    }
}

fn restore_echo(before: Option<libc::termios>) {
    if let Some(t) = before {
        set_flags(&t);
    }
}

/// tcsetattr with SIGTTOU blocked in this thread: a job moved to the
/// background since (Ctrl-Z, bg) puts the flags back instead of stopping.
fn set_flags(t: &libc::termios) -> bool {
    // SAFETY: sigset and mask calls on values we own; tcsetattr on fd 2.
    unsafe {
        let mut block: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut block);
        libc::sigaddset(&mut block, libc::SIGTTOU);
        libc::pthread_sigmask(libc::SIG_BLOCK, &block, &mut old);
        let done = libc::tcsetattr(2, libc::TCSANOW, t) == 0;
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        done
    }
}

pub(crate) struct Bars {
    multi: Arc<MultiProgress>,
    term: ReflowTerm,
    bar: ProgressBar,
    lines: Vec<ProgressBar>,
    echo: Option<libc::termios>,
    /// The template drawn: the style is set again only when it changes.
    shape: std::sync::Mutex<String>,
}

impl Bars {
    pub fn show(mode: ProgressMode) -> Bars {
        let term = ReflowTerm::stderr();
        let multi = Arc::new(MultiProgress::with_draw_target(
            ProgressDrawTarget::term_like_with_hz(Box::new(term.clone()), 4),
        ));
        let bar = multi.add(ProgressBar::new(100));
        let count = if mode == ProgressMode::Wide { 2 } else { 1 };
        let lines = (0..count)
            .map(|_| {
                let line = multi.add(ProgressBar::new(1));
                line.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
                line
            })
            .collect();
        // Notes and warnings go above the bar while it is shown.
        let printer = multi.clone();
        crate::util::output::divert(Some(Box::new(move |line: &str| {
            let _ = printer.println(line);
        })));
        let echo = quiet_control_echo();
        // A second Ctrl-C exits at once: the terminal gets its flags back.
        crate::util::output::before_exit(Some(Box::new(move || restore_echo(echo))));
        Bars {
            multi,
            term,
            bar,
            lines,
            echo,
            shape: std::sync::Mutex::new(String::new()),
        }
    }

    pub fn draw(&self, status: &Status) {
        // One column short of the width: a line that fills the last column
        // leaves some terminals wrapping before the next one.
        let width = console::Term::stderr()
            .size_checked()
            .map_or(80, |(_, cols)| cols as usize)
            .saturating_sub(1);
        let prefix = format!("[{:>5}]", short_duration(status.elapsed_secs));
        // The bar's length depends on the terminal's width only: the
        // numbers beside it grow digits ("9%" to "10%", "k" to "M") and a
        // bar sized from them jittered from one redraw to the next.
        let free = width.saturating_sub(prefix.len() + 2);
        let bar = (free / 4).clamp(MIN_BAR, MAX_BAR);
        let room = free.saturating_sub(bar);
        let msg = fit(&status.headline(), SEP, room);
        let template = if msg.is_empty() || free < MIN_BAR * 2 {
            "{prefix}".to_string()
        } else {
            format!("{{prefix}} {{bar:{bar}}} {{msg}}")
        };
        let mut shape = self.shape.lock().unwrap_or_else(|p| p.into_inner());
        if *shape != template {
            self.bar.set_style(
                ProgressStyle::with_template(&template)
                    .expect("a valid template")
                    .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            *shape = template;
        }
        drop(shape);
        self.bar.set_length(status.total.max(1));
        self.bar.set_position(status.done.min(status.total));
        self.bar.set_prefix(prefix);
        self.bar.set_message(msg);
        let groups = [status.details(), status.wide()];
        for (line, fields) in self.lines.iter().zip(groups) {
            line.set_message(fit(fields, SEP, width));
        }
    }

    /// Takes the display off the screen, so the summary starts on a clean line.
    pub fn clear(self) {
        crate::util::output::divert(None);
        crate::util::output::before_exit(None);
        restore_echo(self.echo);
        for line in &self.lines {
            line.finish_and_clear();
        }
        self.bar.finish_and_clear();
        let _ = self.multi.clear();
        let _ = self.term.end_line();
    }
}
