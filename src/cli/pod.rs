//! `fizzflow pod sink` and `fizzflow pod source`: the pipeline as two
//! processes over Aeron. The sink owns the run (its flags, its target, its
//! state dir) and is `run` with its values coming over the link; the
//! source generates what the sink asks for and keeps nothing.

use crate::cli::aeron_dir::AeronDirArg;
use crate::cli::error::Error;
use crate::cli::run;
use crate::cli::run_args::RunArgs;
use crate::cli::signals;
use crate::observe::exposition::{SourceSample, render_source};
use crate::observe::metrics::{MetricsServer, Site};
use crate::observe::status::ProgressMode;
use crate::pipeline::{Live, Shape};
use crate::pods::source::{self, SourceEnd, SourceGauges};
use crate::pods::uri::{Channels, DEFAULT_CHANNEL, DEFAULT_STREAM, UriError};
use crate::util::output::note;
use crate::util::units::grouped;
use clap::{Args, Subcommand};
use std::sync::Arc;
use std::time::Duration;

/// How long a pod waits for its media driver to be there: `run --pods`
/// starts the driver and the pods at once.
const CONNECT_WAIT: Duration = Duration::from_secs(10);

/// The link between the pods: the same on both.
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Pods (with --pods, or for `fizzflow pod`)")]
pub struct LinkArgs {
    /// The data stream's Aeron channel: aeron:ipc (one machine, through one
    /// media driver) or aeron:udp?endpoint=SINK_HOST:PORT
    #[arg(long, value_name = "URI", default_value = DEFAULT_CHANNEL)]
    pub channel: String,

    /// Across machines: aeron:udp?endpoint=SOURCE_HOST:PORT, where the
    /// source hears the sink's orders (on UDP loopback the next port is used)
    #[arg(long, value_name = "URI")]
    pub control: Option<String>,

    /// The data stream's id, the same on both pods (the control stream is
    /// the next one); runs that share a driver and channel need their own
    #[arg(long, value_name = "N", default_value_t = DEFAULT_STREAM as i64, allow_negative_numbers = true)]
    pub stream_id: i64,

    #[command(flatten)]
    pub aeron: AeronDirArg,
}

impl LinkArgs {
    pub fn channels(&self) -> Result<Channels, Error> {
        Channels::new(&self.channel, self.control.as_deref(), self.stream_id).map_err(link_usage)
    }
}

/// A link the flags describe wrongly, said with the flag to change.
pub fn link_usage(e: UriError) -> Error {
    let flag = match e {
        UriError::Channel(_) | UriError::ControlNeeded(_) | UriError::NoNextPort(_) => "--channel",
        UriError::Control(_) | UriError::ControlWithIpc => "--control",
        UriError::Stream(_) => "--stream-id",
    };
    let extra = match e {
        UriError::ControlNeeded(_) => ": pass --control to both pods",
        UriError::NoNextPort(_) => " (--control)",
        _ => "",
    };
    Error::Usage(format!("{flag}: {e}{extra}"))
}

#[derive(Subcommand, Debug)]
pub(crate) enum PodCommand {
    /// The sink pod: heartbeat, worker, logger and checkpoints in the state
    /// dir; takes `run`'s flags, resumes as `run` does, prints its summary
    #[command(after_help = SINK_EXAMPLES)]
    Sink(Box<RunArgs>),
    /// The source pod: generates the values the sink asks for; stores
    /// nothing, exits 0 when the sink says the run is done
    #[command(after_help = SINK_EXAMPLES)]
    Source(SourceArgs),
}

const SINK_EXAMPLES: &str = "\
Three terminals, one machine (a build with --features pods for the driver):
  fizzflow driver
  fizzflow pod sink --state-dir /tmp/pods --beats 2000 --rate 0
  fizzflow pod source

Any of them may be killed and started again with the same command: the
sink's lifetime totals stay exact. Over UDP, give both pods
--channel aeron:udp?endpoint=SINK_HOST:PORT (and, across machines,
--control aeron:udp?endpoint=SOURCE_HOST:PORT).

Exit codes as `run`, and 5: the media driver is not running or went away
(start it and run the pod again).";

#[derive(Args, Debug, Clone)]
pub struct SourceArgs {
    #[command(flatten)]
    pub link: LinkArgs,

    /// How the source shows its progress: one line (one), the same with
    /// more detail (wide), or none (off)
    #[arg(long, value_name = "MODE", value_enum, default_value_t = ProgressMode::One)]
    pub progress: ProgressMode,

    /// Serve the source's metrics (which pod, positions sent and
    /// committed, lag) at http://ADDR/metrics; off unless given
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// `fizzflow pod sink`.
pub fn sink(args: &RunArgs) -> Result<(), Error> {
    if args.pods {
        return Err(Error::Usage(
            "--pods is for `fizzflow run`, which starts both pods; `pod sink` is one of them"
                .into(),
        ));
    }
    let channels = args.link.channels()?;
    let live = Arc::new(Live::new(Shape::Sink));
    signals::install_stop_handler(&live);
    crate::util::logging::init(crate::util::logging::level(
        args.log_level.as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    ));
    let setup = crate::pods::sink::prepare(&args.link.aeron.dir, &channels, CONNECT_WAIT)?;
    run::launch(args, live, Some(setup))
}

/// `fizzflow pod source`.
pub fn source(args: &SourceArgs) -> Result<(), Error> {
    let channels = args.link.channels()?;
    let gauges = Arc::new(SourceGauges::default());
    {
        let gauges = gauges.clone();
        signals::on_stop("stopping: the source stops sending", move || {
            gauges.request_stop()
        });
    }
    let metrics = match args.metrics_addr {
        Some(addr) => {
            let g = gauges.clone();
            let render = Arc::new(move || {
                let r = g.reading();
                render_source(SourceSample {
                    serving: r.serving,
                    sent: r.sent,
                    next: r.next,
                    committed: r.committed,
                })
            });
            let site = Site {
                metrics: render,
                graph: None,
            };
            let server = MetricsServer::start(addr, site)
                .map_err(|e| Error::Usage(format!("--metrics-addr: {e}")))?;
            note(&format!("metrics at http://{}/metrics", server.addr()));
            Some(server)
        }
        None => None,
    };
    let reporter =
        (args.progress != ProgressMode::Off).then(|| report_every_second(gauges.clone()));
    let end = source::run(
        &args.link.aeron.dir,
        &channels,
        gauges.clone(),
        CONNECT_WAIT,
    )?;
    drop(reporter);
    if let Some(server) = metrics {
        server.finish();
    }
    let r = gauges.reading();
    match end {
        SourceEnd::Done => {
            note(&format!(
                "source: done, the sink's run is durable at position {} ({} values sent by this process)",
                grouped(r.committed.max(r.next)),
                grouped(r.sent)
            ));
            Ok(())
        }
        SourceEnd::Stopped => {
            note(&format!(
                "source: stopped ({} values sent)",
                grouped(r.sent)
            ));
            Ok(())
        }
        SourceEnd::Refused => Err(Error::SourceRefused),
        SourceEnd::Lost(lost) => Err(Error::LinkLost(lost.to_string())),
    }
}

/// A line a second while the source runs, on stderr; ends when dropped.
fn report_every_second(gauges: Arc<SourceGauges>) -> impl Drop {
    struct Stop(Arc<std::sync::atomic::AtomicBool>);
    impl Drop for Stop {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop = Stop(done.clone());
    let _ = std::thread::Builder::new()
        .name("source-progress".into())
        .spawn(move || {
            let mut last = gauges.reading();
            loop {
                for _ in 0..10 {
                    std::thread::sleep(Duration::from_millis(100));
                    if done.load(std::sync::atomic::Ordering::Relaxed) {
                        return;
                    }
                }
                let r = gauges.reading();
                note(&source_line(&r, r.sent - last.sent));
                last = r;
            }
        });
    stop
}

/// One progress line of the source pod.
pub fn source_line(r: &source::SourceReading, per_sec: u64) -> String {
    if !r.serving {
        return format!(
            "source: waiting for a sink ({} values sent so far)",
            grouped(r.sent)
        );
    }
    format!(
        "source: sent to {} ({}/s) · sink's cut {} · lag {}",
        grouped(r.next),
        grouped(per_sec),
        grouped(r.committed),
        grouped(r.next.saturating_sub(r.committed))
    )
}
