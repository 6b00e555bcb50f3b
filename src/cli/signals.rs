//! The stop signals: SIGINT, SIGTERM and SIGHUP end a run cleanly.

use crate::pipeline::Live;
use crate::util::output::note;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use std::sync::Arc;

/// What one more signal does, given how many came before it.
#[derive(Debug, PartialEq, Eq)]
pub enum Response {
    /// The first: stop the heartbeat, drain, commit, report.
    Stop,
    /// A person asking again (Ctrl-C twice, a second SIGTERM): exit now.
    ExitNow,
    /// Closing a terminal sends SIGHUP more than once (the terminal to its
    /// foreground group, then the shell to its jobs): one stop, not two.
    AlreadyStopping,
}

pub fn respond(signal: i32, earlier: u32) -> Response {
    match (earlier, signal) {
        (0, _) => Response::Stop,
        (_, SIGHUP) => Response::AlreadyStopping,
        _ => Response::ExitNow,
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
    // steady_state installs a Ctrl-C hook of its own through the ctrlc
    // crate when the graph is built, overwriting any handler unless ctrlc
    // already has one. So ctrlc gets one first, which does nothing, and
    // the real handler is installed over it.
    let _ = ctrlc::set_handler(|| {});
    let mut signals = match signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) {
        Ok(signals) => signals,
        Err(e) => {
            note(&format!(
                "warning: cannot install the signal handler ({e}); Ctrl-C will stop at once"
            ));
            return;
        }
    };
    // A parent may start us with the stop signals blocked so that none
    // lands before the handler exists; from here on they may come.
    unblock_stop_signals();
    let live = live.clone();
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for (earlier, signal) in (0u32..).zip(signals.forever()) {
                match respond(signal, earlier) {
                    Response::Stop => {
                        // Queued first, so it is out before anything the
                        // stop leads to (the summary).
                        note("stopping: draining the beats already sent (signal again to exit at once)");
                        live.request_stop();
                    }
                    Response::ExitNow => std::process::exit(130),
                    Response::AlreadyStopping => {}
                }
            }
        });
    if let Err(e) = spawned {
        note(&format!(
            "warning: cannot watch for signals ({e}); Ctrl-C will not stop the run cleanly"
        ));
    }
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
        for first in [SIGINT, SIGTERM, SIGHUP] {
            assert_eq!(respond(first, 0), Response::Stop);
        }
        assert_eq!(respond(SIGHUP, 1), Response::AlreadyStopping);
        assert_eq!(respond(SIGHUP, 5), Response::AlreadyStopping);
        assert_eq!(respond(SIGINT, 1), Response::ExitNow);
        assert_eq!(respond(SIGTERM, 2), Response::ExitNow);
    }
}
