//! `fizzflow run --pods`: the same run as `fizzflow run`, as two processes
//! over Aeron with a media driver of their own (see cli/crew.rs).
//! This process takes no lock and writes nothing: the sink pod does, with
//! the very flags given here.

use crate::cli::crew::{self, Crew};
use crate::cli::error::Error;
use crate::cli::run_args::RunArgs;
use crate::cli::signals;
use std::ffi::OsString;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub fn command(args: &RunArgs) -> Result<(), Error> {
    if !cfg!(feature = "pods") {
        return Err(Error::NotBuilt { what: "run --pods" });
    }
    if args.link_given.1 {
        return Err(Error::Usage(
            "--aeron-dir: run --pods starts its own media driver in a private dir; to use a driver of yours, run `fizzflow pod sink` and `fizzflow pod source`".into(),
        ));
    }
    args.link.channels()?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        signals::on_stop(
            "stopping: the sink drains and commits, then the source and the driver stop (signal again to exit at once)",
            move || stop.store(true, Ordering::SeqCst),
        );
    }
    let dir = crew::private_dir().map_err(|e| {
        Error::Pods(format!(
            "cannot make a private dir for the media driver: {e}"
        ))
    })?;
    let exe = std::env::current_exe().map_err(|e| {
        Error::Pods(format!(
            "cannot find this executable to start the pods: {e}"
        ))
    })?;
    let crew = Crew {
        exe,
        aeron_dir: dir.path().to_path_buf(),
        state_dir: args.state.dir.clone(),
        sink_args: sink_args(std::env::args_os().skip(1)),
        source_args: source_args(args),
    };
    let code = crew.run(&stop).map_err(|e| Error::Pods(e.to_string()))?;
    drop(dir);
    match code {
        0 => Ok(()),
        code => Err(Error::PodExit(code)),
    }
}

/// The sink gets this command line as it was given, without `run` and
/// `--pods`.
fn sink_args(given: impl Iterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = given.collect();
    if args.first().is_some_and(|a| a == "run") {
        args.remove(0);
    }
    args.retain(|a| a != "--pods");
    args
}

/// The source gets the link flags, and keeps quiet: the sink's progress
/// and summary are what a person watches.
fn source_args(args: &RunArgs) -> Vec<OsString> {
    let mut out: Vec<OsString> = vec![
        "--channel".into(),
        args.link.channel.clone().into(),
        "--stream-id".into(),
        args.link.stream_id.to_string().into(),
        "--progress".into(),
        "off".into(),
    ];
    if let Some(control) = &args.link.control {
        out.push("--control".into());
        out.push(control.into());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sink_gets_the_command_line_without_run_and_pods() {
        let given = ["run", "--beats", "5", "--pods", "--rate", "0"].map(OsString::from);
        assert_eq!(
            sink_args(given.into_iter()),
            ["--beats", "5", "--rate", "0"].map(OsString::from)
        );
        let given = ["--pods", "--json"].map(OsString::from);
        assert_eq!(sink_args(given.into_iter()), [OsString::from("--json")]);
    }
}
