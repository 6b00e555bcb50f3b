//! The stop signals: SIGINT, SIGTERM and SIGHUP end a run cleanly.

use crate::pipeline::Live;
use crate::util::output::note;
use std::sync::Arc;

/// SIGINT, SIGTERM and SIGHUP stop the heartbeat and let the pipeline drain.
/// Installed as soon as the command line is parsed, before the lock, the
/// file's check and the launch record, so a signal at any moment is a clean
/// stop; and before the graph, so steady_state's own Ctrl-C hook (which
/// would stop every actor at once and print to stdout) stays out.
///
/// The handler never writes to stderr itself: a stderr nobody reads (a full
/// pipe) would block it, and then neither this signal nor a second one
/// could end the run. Its note goes out from a thread of its own.
pub fn install_stop_handler(live: &Arc<Live>) {
    let live = live.clone();
    let mut signals = 0u32;
    let installed = ctrlc::set_handler(move || {
        signals += 1;
        if signals == 1 {
            live.request_stop();
            say("stopping: draining the beats already sent (signal again to exit at once)");
        } else {
            std::process::exit(130);
        }
    });
    match installed {
        // A parent may start us with the stop signals blocked so that none
        // lands before this handler exists; from here on they may come.
        Ok(()) => unblock_stop_signals(),
        Err(e) => note(&format!(
            "warning: cannot install the signal handler ({e}); Ctrl-C will stop at once"
        )),
    }
}

/// A note that no blocked stderr can hold the handler back for.
fn say(text: &'static str) {
    let _ = std::thread::Builder::new()
        .name("note".into())
        .spawn(move || note(text));
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
