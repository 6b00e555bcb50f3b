//! `fizzflow driver`: the Aeron media driver in the foreground, until
//! Ctrl-C or SIGTERM. The driver itself is in pods/driver/, and only in
//! a build with the cargo feature `pods` (it compiles Aeron's C driver).

use crate::cli::aeron_dir::AeronDirArg;
use crate::cli::error::Error;
use clap::Args;

#[derive(Args, Debug, Clone)]
pub struct DriverArgs {
    #[command(flatten)]
    pub aeron: AeronDirArg,
}

#[cfg(not(feature = "pods"))]
pub fn command(_args: &DriverArgs) -> Result<(), Error> {
    Err(Error::NotBuilt {
        what: "`fizzflow driver`",
    })
}

#[cfg(feature = "pods")]
pub fn command(args: &DriverArgs) -> Result<(), Error> {
    use crate::pods::driver;
    use crate::util::output::note;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let stop = Arc::new(AtomicBool::new(false));
    let on_stop = stop.clone();
    crate::cli::signals::on_stop(
        "stopping the media driver (signal again to exit at once)",
        move || on_stop.store(true, Ordering::SeqCst),
    );
    let running = driver::start(&args.aeron.dir)?;
    let dir = running.dir().display().to_string();
    if let Some(previous) = running.previous() {
        let pid = previous
            .pid
            .map(|p| format!(" (pid {p})"))
            .unwrap_or_default();
        note(&format!("cleared a dead driver's files{pid} from {dir}"));
    }
    note(&format!(
        "{}{}) serving {dir}, pid {}; Ctrl-C or SIGTERM stops it",
        // note() gives every line its "fizzflow: ".
        crate::pods::DRIVER_SERVING.trim_start_matches("fizzflow: "),
        driver::aeron_version(),
        std::process::id()
    ));
    let removed = running.serve(&|| stop.load(Ordering::SeqCst))?;
    if removed {
        note(&format!("media driver stopped; {dir} removed"));
    } else {
        note(&format!(
            "media driver stopped; {dir} could not be removed (remove it by hand when no process uses it)"
        ));
    }
    Ok(())
}
