//! The stop signals: SIGINT, SIGTERM and SIGHUP end a run cleanly.

use crate::pipeline::Live;
use crate::util::output::note;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::sync::Arc;

/// What one more signal does.
#[derive(Debug, PartialEq, Eq)]
pub enum Response {
    /// The first: stop the heartbeat, drain, commit, report.
    Stop,
    /// A person asking again (Ctrl-C twice, a second SIGTERM): exit now.
    ExitNow,
    /// Closing a terminal sends SIGHUP more than once (the terminal to its
    /// foreground group, then the shell to its jobs), and a SIGHUP may come
    /// with a SIGTERM or SIGINT (Ctrl-C, then the terminal closed; a
    /// service manager that sends both): one stop, not two.
    AlreadyStopping,
}

/// The signals seen so far.
#[derive(Debug, Default)]
pub struct Seen {
    any: bool,
    /// SIGINT and SIGTERM: the requests a person makes.
    requests: u32,
}

impl Seen {
    pub fn respond(&mut self, signal: i32) -> Response {
        let first = !self.any;
        self.any = true;
        if signal == SIGHUP {
            return if first {
                Response::Stop
            } else {
                Response::AlreadyStopping
            };
        }
        self.requests += 1;
        match (first, self.requests) {
            (true, _) => Response::Stop,
            (false, 1) => Response::AlreadyStopping,
            _ => Response::ExitNow,
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the heartbeat and let the pipeline drain.
/// Installed as soon as the command line is parsed, before the lock, the
/// file's check and the launch record, so a signal at any moment is a clean
/// stop; and before the graph, so steady_state's own Ctrl-C hook (which
/// would stop every actor at once and print to stdout) stays out.
///
/// The signals are read on a thread of their own, which never writes: its
/// note goes to the one output writer (util/output.rs), in order, so a
/// stderr nobody reads cannot hold it back from a second signal.
pub fn install_stop_handler(live: &Arc<Live>) {
    let live = live.clone();
    on_stop(crate::util::output::RUN_STOPPING, move || {
        live.request_stop()
    });
}

/// As [`install_stop_handler`], for any process: the first stop signal
/// says `what` and calls `stop`.
pub fn on_stop(what: &'static str, stop: impl Fn() + Send + 'static) {
    // The thread that reads the signals exists before any handler does: a
    // handler with no reader would swallow every signal, and a process
    // that cannot start a thread must still die of SIGTERM.
    let (hand_over, taken) = std::sync::mpsc::channel::<signal_hook::iterator::Signals>();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            let Ok(mut signals) = taken.recv() else {
                return;
            };
            let mut seen = Seen::default();
            for signal in signals.forever() {
                match seen.respond(signal) {
                    Response::Stop => {
                        // Queued first, so it is out before anything the
                        // stop leads to (the summary).
                        note(what);
                        stop();
                    }
                    Response::ExitNow => crate::util::output::exit_now(130),
                    Response::AlreadyStopping => {}
                }
            }
        });
    if let Err(e) = spawned {
        note(&format!(
            "warning: cannot watch for signals ({e}); a signal stops the run at once"
        ));
        unblock_stop_signals();
        return;
    }
    // steady_state installs a Ctrl-C hook of its own through the ctrlc
    // crate when the graph is built, overwriting any handler unless ctrlc
    // already has one. So ctrlc gets one first, which does nothing, and
    // the real handler is installed over it.
    let _ = ctrlc::set_handler(|| {});
    match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => {
            let _ = hand_over.send(signals);
        }
        Err(e) => note(&format!(
            "warning: cannot install the signal handler ({e}); Ctrl-C will stop at once"
        )),
    }
    // A parent may start us with the stop signals blocked so that none
    // lands before the handler exists; from here on they may come.
    unblock_stop_signals();
}

fn unblock_stop_signals() {
    // SAFETY: plain signal-mask calls on a set built right here.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, sig);
        }
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_terminal_is_one_stop_and_a_second_request_exits() {
        let responses = |signals: &[i32]| {
            let mut seen = Seen::default();
            signals.iter().map(|&s| seen.respond(s)).collect::<Vec<_>>()
        };
        use Response::*;
        for first in [SIGINT, SIGTERM, SIGHUP] {
            assert_eq!(responses(&[first]), [Stop]);
        }
        assert_eq!(
            responses(&[SIGHUP, SIGHUP, SIGHUP]),
            [Stop, AlreadyStopping, AlreadyStopping]
        );
        assert_eq!(responses(&[SIGINT, SIGINT]), [Stop, ExitNow]);
        assert_eq!(responses(&[SIGTERM, SIGINT]), [Stop, ExitNow]);
        // Delivered together, a SIGHUP comes out first (by signal number):
        // a SIGTERM with it is the same one stop, and only another exits.
        assert_eq!(responses(&[SIGHUP, SIGTERM]), [Stop, AlreadyStopping]);
        assert_eq!(
            responses(&[SIGHUP, SIGTERM, SIGTERM]),
            [Stop, AlreadyStopping, ExitNow]
        );
        assert_eq!(responses(&[SIGTERM, SIGHUP]), [Stop, AlreadyStopping]);
    }
}
