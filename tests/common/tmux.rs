//! A real terminal for tests of what a person sees: a tmux server of its
//! own, a screen to capture, and everything it ran killed afterwards.

use super::*;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of its own, running fizzflow on a state dir of its own;
/// killed when the test is done with it (failed or not), before that dir
/// and the server's socket are removed.
pub struct Tmux {
    state: tempfile::TempDir,
    /// Holds the server's socket, which tmux leaves behind.
    socket: tempfile::TempDir,
}

impl Tmux {
    /// Runs `fizzflow ARGS` in a terminal `width` columns wide (30 rows),
    /// then prints its exit code.
    pub fn start(width: u16, args: &str) -> Tmux {
        Tmux::open(
            width,
            30,
            &format!("$F --state-dir $D {args}; echo EXIT=$?"),
        )
    }

    /// Runs `script` (sh) in a terminal `width` columns wide (200 rows),
    /// with `$F` the fizzflow binary and `$D` a state dir of its own, then
    /// prints DONE.
    pub fn script(width: u16, script: &str) -> Tmux {
        Tmux::open(width, 200, &format!("{script}; echo DONE"))
    }

    fn open(width: u16, rows: u16, script: &str) -> Tmux {
        let tmux = Tmux {
            state: state_dir(),
            socket: state_dir(),
        };
        let command = format!(
            "F={BIN}; D={}; {script}; sleep 120",
            tmux.state.path().display()
        );
        let status = tmux
            .command()
            .args(["new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .args(["-y", &rows.to_string(), &command])
            .env_remove("TMUX")
            .status()
            .expect("tmux is installed (.ci/run installs it)");
        assert!(status.success(), "tmux did not start");
        tmux
    }

    /// The whole history of the pane (not just what fits its rows), wrapped
    /// rows rejoined.
    pub fn history(&self) -> Vec<String> {
        let out = self
            .command()
            .args(["capture-pane", "-p", "-J", "-S", "-", "-t", "t"])
            .output()
            .expect("capture-pane");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// A tmux command for this server.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S").arg(self.socket.path().join("tmux"));
        cmd
    }

    /// The visible screen, one row per line; `join` rejoins wrapped rows.
    pub fn screen(&self, join: bool) -> Vec<String> {
        let mut cmd = self.command();
        cmd.args(["capture-pane", "-p", "-t", "t"]);
        if join {
            cmd.arg("-J");
        }
        let out = cmd.output().expect("capture-pane");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.trim_end().to_string())
            .collect()
    }

    /// Polls the screen until `ready` holds, at most `limit`.
    pub fn wait_for(
        &self,
        limit: Duration,
        join: bool,
        ready: impl Fn(&[String]) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let screen = self.screen(join);
            if ready(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "screen never got there:\n{}",
                screen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // The pane's shell and what it runs (fizzflow, or the sleep after
        // it) are killed outright first: a hung-up fizzflow would go on to
        // its final checkpoint in a state dir about to be removed.
        let pane = self
            .command()
            .args(["display-message", "-p", "-t", "t", "#{pane_pid}"])
            .output()
            .ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            });
        if let Some(shell) = pane {
            let mut pids = children_of(shell);
            pids.push(shell);
            for &pid in &pids {
                signal(pid, libc::SIGKILL);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while pids.iter().any(|&pid| running(pid)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let _ = self.command().arg("kill-server").status();
    }
}

/// Whether `pid` is a live process (not gone, not a zombie).
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}
