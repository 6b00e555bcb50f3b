//! One `fizzflow run`: take the state dir, decide where this launch starts
//! (fresh, resumed, or continued), record the launch, run the pipeline,
//! write the final checkpoint and report.
//!
//! Everything that can refuse (flags, the lock, the file's check, flags that
//! conflict with the stored run) happens before the checkpoint file is opened
//! for writing, so a refused run leaves it byte-identical.

use crate::cli::error::Error;
use crate::cli::error::report;
use crate::cli::recover;
use crate::cli::resume;
use crate::cli::run_args::RunArgs;
use crate::cli::signals;
use crate::cli::summary::{self, Summary};
use crate::cli::telemetry_dir;
use crate::cli::values::geometry_usage;
use crate::durable::Error as DurableError;
use crate::durable::backups;
use crate::durable::inspect::{self, Vetted, checkpoint_path};
use crate::durable::launch_log::{LaunchEnd, LaunchRow};
use crate::durable::ledger::{CheckpointWriter, Ledger};
use crate::durable::lock::{DirLock, refusal};
use crate::durable::record::CheckpointRecord;
use crate::durable::schema;
use crate::durable::store::{Store, StoreOptions};
use crate::observe::metrics::{MetricsServer, Site};
use crate::observe::progress::Reporter;
use crate::pipeline::config::{PipelineConfig, StartPoint};
use crate::pipeline::{self, Abandon, CheckpointPlan, LinkPlan, Live, RunOptions};
use crate::pods::sink::SinkSetup;
use crate::util::output::{self, note};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// steady_state takes its telemetry address from the environment, which
/// may only be set while no other thread exists: `main` calls this before
/// anything else happens. Its port scan (the default port taken → the next
/// free one) runs only when the port is left unset, so an explicit port is
/// passed and the default not.
pub fn telemetry_env(args: &RunArgs) {
    let mut port = args.telemetry_addr.port();
    if args.telemetry_addr_given && port == 0 {
        // Port 0 is "any free port": picked here, so steady_state gets a
        // port of its own and does not report the person's choice as "the
        // default port 0 in use".
        let mut any = args.telemetry_addr;
        any.set_port(0);
        if let Some(free) = std::net::TcpListener::bind(any)
            .and_then(|l| l.local_addr())
            .ok()
            .map(|a| a.port())
        {
            port = free;
            let _ = TELEMETRY_PICKED.set(std::net::SocketAddr::new(any.ip(), free));
        }
    }
    // SAFETY: called from `main` before any thread is started.
    unsafe {
        std::env::set_var("TELEMETRY_SERVER_IP", args.telemetry_addr.ip().to_string());
        if args.telemetry_addr_given {
            std::env::set_var("TELEMETRY_SERVER_PORT", port.to_string());
        }
    }
}

/// The telemetry address picked for a `--telemetry-addr` with port 0.
static TELEMETRY_PICKED: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();

/// `fizzflow run`: the stop handler first, so that a signal at any moment
/// after this is a clean stop. `run --pods` has a handler of its own (one
/// per process: two each said "stopping", and each counted the signals).
pub fn command(args: &RunArgs) -> Result<(), Error> {
    if args.pods {
        return crate::cli::pods_run::command(args);
    }
    let live = Arc::new(Live::default());
    signals::install_stop_handler(&live);
    crate::util::logging::init(crate::util::logging::level(
        args.log_level.as_deref(),
        std::env::var("RUST_LOG").ok().as_deref(),
    ));
    if args.link_given.0 {
        return Err(Error::Usage(
            "--channel, --control, --stream-id and --aeron-dir are for the pods: add --pods".into(),
        ));
    }
    launch(args, live, None)
}

/// Runs one launch. `live` already carries the stop handler's flag, so a
/// signal at any moment, even before this is called, ends it cleanly. A
/// sink pod (`pod`) takes its values from the source over the link, and
/// tells the source when the run is done and durable.
pub(crate) fn launch(
    args: &RunArgs,
    live: Arc<Live>,
    mut pod: Option<SinkSetup>,
) -> Result<(), Error> {
    // The batch geometry is checked before the state dir is touched; the
    // target only once the stored run is known.
    args.pipeline_config(StartPoint::default(), args.worker_batch, args.beats)
        .validate()
        .map_err(usage)?;
    // A state dir that does not exist yet holds no run: everything the
    // flags can be refused for is known now, before anything is created.
    if std::fs::symlink_metadata(&args.state.dir).is_err() {
        let (cfg, _) = resume::plan(args, None, None)?;
        cfg.validate().map_err(usage)?;
    }
    // Bound before the state dir is touched: an address the person named
    // that is taken refuses the run (exit 2) with nothing written.
    let capacity = Arc::new(AtomicUsize::new(args.channel_capacity as usize));
    let metrics = bind_metrics(args, &live, &capacity)?;
    start_checker(&args.state.dir)?;
    let _lock = DirLock::acquire(&args.state.dir)?;
    // Absolute from here: messages name it in full (`stats` run from
    // elsewhere needs the same path), and telemetry moves the process.
    let dir = &std::fs::canonicalize(&args.state.dir)
        .map_err(|e| refusal(&args.state.dir, "find the state dir's full path", e))?;
    // Every refusal comes before the first write: the check and the plan,
    // then the telemetry dir, then the launch record.
    let planned = plan_launch(args, dir)?;
    if !args.no_telemetry {
        telemetry_dir::enter(dir)?;
    }
    let (cfg, writer, took) = record_launch(args, dir, planned)?;
    let launch = writer.last.clone();
    live.note_checkpoint(launch.unix_ms, took);
    live.publish(&launch.logger);
    capacity.store(cfg.channel_capacity, Ordering::Relaxed);
    if let (Some(addr), false) = (TELEMETRY_PICKED.get(), args.no_telemetry) {
        note(&format!("steady_state's telemetry at http://{addr}/"));
    }
    if let Some(server) = &metrics {
        note(&format!("metrics at http://{}/metrics", server.addr()));
        note(&format!(
            "the pipeline, drawn live (works offline): http://{}/",
            server.addr()
        ));
    }

    let final_delay = cfg.delay_for(crate::pipeline::actor::checkpoint::NAME);
    // The launch's run time counts from here, not from the checks before.
    let mut writer = writer;
    writer.ledger.started = Instant::now();
    let plan = CheckpointPlan::new(
        writer,
        Duration::from_millis(args.checkpoint_interval),
        final_delay,
    );
    let reporter = Reporter::spawn(
        live.clone(),
        Arc::new(cfg.clone()),
        args.progress_mode(),
        Instant::now(),
    );
    let link = pod.as_mut().map(|p| {
        let end = cfg.beats_target.saturating_mul(cfg.beat_size());
        Arc::new(LinkPlan::new(p.link(cfg.start.logger.next_expected, end)))
    });
    let opts = RunOptions {
        telemetry: !args.no_telemetry,
        link,
    };
    let mut final_record = None;
    let outcome = pipeline::run(cfg, plan, opts, live.clone(), |writer, outcome| {
        reporter.finish();
        if let Some(why) = live.checkpoint_error() {
            return Err(Error::Sink(why));
        }
        // A sink whose values stopped coming ends at its last durable cut:
        // what was counted after it is not a whole beat, and the source
        // regenerates it from there next time.
        let rec = match live.abandoned() {
            Some(_) => {
                writer.final_cut(&writer.last.logger.clone(), outcome.restarts.clone(), None)
            }
            None => writer.final_cut(
                &outcome.stats,
                outcome.restarts.clone(),
                outcome.last_counted,
            ),
        };
        rec.check().map_err(Error::FinalCut)?;
        // The injected slow disk slows the final commit too, so that the
        // torture can kill a run inside it.
        if let Some(d) = final_delay {
            std::thread::sleep(d);
        }
        let ending = if let Some(Abandon::LinkLost(_)) = live.abandoned() {
            LaunchEnd::Failed(LINK_LOST)
        } else if outcome.stats.sequence_errors > launch.logger.sequence_errors
            || (rec.unfinished() && !live.stop_requested())
        {
            LaunchEnd::Failed(1)
        } else if rec.unfinished() {
            LaunchEnd::Stopped
        } else {
            LaunchEnd::Finished
        };
        final_record = Some(rec.clone());
        writer.commit_final(rec, ending, outcome.restarts.clone())?;
        writer.back_up();
        Ok(())
    })?;
    let rec = final_record.expect("a launch that ends well has written its final checkpoint");
    let summary = Summary {
        beat_latency_us: outcome.latency.map(Into::into),
        ..Summary::of(&rec, Some(&launch))
    };
    // Both are attempted, so a broken stderr does not cost a script its JSON.
    let human = report(
        "summary",
        output::stderr_line(&summary::human(&launch, &rec, outcome.latency)),
    );
    let json = if args.json {
        serde_json::to_string(&summary)
            .map_err(Error::Encode)
            .and_then(|json| report("JSON summary", output::stdout_line(&json)))
    } else {
        Ok(())
    };
    if let Some(server) = metrics {
        std::thread::sleep(Duration::from_millis(args.metrics_linger));
        server.finish();
    }
    if !args.no_telemetry {
        // The graph's own stop writes telemetry's last report and
        // logs/graph.dot; a short run would otherwise exit before it.
        live.over().wait_for_graph(Duration::from_secs(3));
    }
    human.and(json)?;
    // Short of its target and nobody asked it to stop: not a clean end
    // (once seen under a loaded test suite, 0 of 7 beats and exit 0).
    if rec.unfinished() && !live.stop_requested() {
        return Err(Error::EndedEarly {
            beats: rec.beats,
            target: rec.beats_target,
        });
    }
    // A link lost after the run's last value changes nothing of the run:
    // it is done and durable (exit 0); only an unfinished one is exit 5.
    if let Some(Abandon::LinkLost(why)) = live.abandoned()
        && rec.unfinished()
    {
        return Err(Error::LinkLost(why.clone()));
    }
    if let Some(pod) = &pod
        && !rec.unfinished()
    {
        crate::util::pause::pause_at("pod-done");
        if let Err(lost) = pod.done(rec.generator_position) {
            note(&format!(
                "the run is done and durable, but the media driver went away before the source heard so ({lost}); a source still waiting can be stopped"
            ));
        }
    }
    // Only this launch's errors: one bad launch must not fail every later one.
    let new_errors = outcome.stats.sequence_errors - launch.logger.sequence_errors;
    if new_errors > 0 {
        return Err(Error::Verification {
            sequence_errors: new_errors,
        });
    }
    Ok(())
}

/// The exit code, and a launch row's ending, of a pod whose media driver
/// went away.
pub const LINK_LOST: i32 = 5;

/// Settings the pipeline cannot run with are bad flags.
fn usage(e: crate::pipeline::config::GeometryError) -> Error {
    Error::Usage(geometry_usage(e))
}

/// Starts the checker process, before the lock: a lock holder must never
/// fork (see durable/checker.rs).
pub(crate) fn start_checker(dir: &Path) -> Result<(), Error> {
    crate::durable::checker::start().map_err(|e| {
        DurableError::CouldNotCheck {
            path: checkpoint_path(dir),
            problem: format!("the checker process could not be started ({e})"),
        }
        .into()
    })
}

/// What a launch will be, decided before anything is written.
struct Planned {
    vetted: Option<Vetted>,
    previous: Option<CheckpointRecord>,
    stored_run_beats: Option<u64>,
    cfg: PipelineConfig,
    start_note: String,
    /// Its launch record.
    launch: CheckpointRecord,
}

/// Checks the state dir's file and decides where this launch starts; every
/// refusal that depends on the stored run happens here, before any write.
fn plan_launch(args: &RunArgs, dir: &Path) -> Result<Planned, Error> {
    let path = checkpoint_path(dir);
    let vetted = inspect::existing(&path).map_err(|e| recover::hint(e, dir))?;
    if vetted.is_none() {
        missing_with_backups(dir)?;
    }
    let previous = vetted.as_ref().and_then(|v| v.seen.latest()).cloned();
    let stored_run_beats = vetted
        .as_ref()
        .and_then(|v| v.seen.launches.last())
        .and_then(|row| row.run_beats);
    let (cfg, start_note) = resume::plan(args, previous.as_ref(), stored_run_beats)?;
    cfg.validate().map_err(usage)?;
    let launch = Ledger::launch(previous.as_ref(), &cfg);
    // A file at the end of its counts cannot take one more launch.
    launch.check().map_err(|e| DurableError::Damaged {
        path: path.clone(),
        problem: format!("cannot record another launch ({e})"),
    })?;
    Ok(Planned {
        vetted,
        previous,
        stored_run_beats,
        cfg,
        start_note,
        launch,
    })
}

/// Commits the launch record (and its launch row, and an upgrade of an
/// older file) before anything runs, so a launch killed before its first
/// checkpoint still counts.
fn record_launch(
    args: &RunArgs,
    dir: &Path,
    planned: Planned,
) -> Result<(PipelineConfig, CheckpointWriter, Duration), Error> {
    let path = checkpoint_path(dir);
    let Planned {
        vetted,
        previous,
        stored_run_beats,
        cfg,
        start_note,
        launch,
    } = planned;
    if let Some(v) = &vetted
        && v.seen.schema_version < schema::CURRENT
    {
        note(&format!(
            "upgrading {} from schema {} to {} (one transaction, with the launch record)",
            path.display(),
            v.seen.schema_version,
            schema::CURRENT
        ));
    }
    let opts = StoreOptions {
        keep: args.checkpoint_history,
        abort_at: args.inject_abort,
    };
    // A resumed run keeps the --beats of the run it resumes.
    let run_beats = match &previous {
        Some(p) if p.unfinished() => stored_run_beats,
        _ => Some(args.beats),
    };
    let row = LaunchRow::opening(&launch, args.flags.clone(), run_beats);
    let (store, took) = match &vetted {
        None => Store::create(dir, opts, &launch, &row)?,
        Some(vetted) => {
            let (store, took) = Store::open(&path, opts, vetted, &launch, &row)?;
            // Only now: a launch refused at the open (the file changed
            // under the check) must not have touched the backups.
            keep_backup(dir, vetted);
            if let Some(names) = store.links_broken() {
                note(&format!(
                    "{} had {names} names (hard links, as a `cp -al` snapshot makes): it is written in place, so this run works on a copy of its own and the other names keep the bytes they had",
                    path.display()
                ));
            }
            (store, took)
        }
    };
    note(&format!(
        "launch {} in {} {start_note}",
        launch.launches,
        dir.display()
    ));
    let every = Duration::from_secs(args.backup_every);
    Ok((cfg, CheckpointWriter::new(store, launch, every), took))
}

/// The bytes that just passed the full check become the newest backup,
/// unless the newest holds them already (the launch before ended with
/// one). A backup that cannot be written costs the run nothing but the
/// backup.
fn keep_backup(dir: &Path, vetted: &Vetted) {
    backups::sweep_unfinished(dir);
    if backups::newest_holds(dir, &vetted.bytes) {
        return;
    }
    let launches = vetted.seen.latest().map_or(0, |r| r.launches);
    if let Err(e) = backups::save(dir, launches, &vetted.bytes) {
        note(&format!(
            "warning: no backup of this launch's starting point in {}: {e}",
            backups::dir_of(dir).display()
        ));
    }
}

/// A state dir with backups but no checkpoint file has lost its file: a
/// fresh lifetime from zero would quietly drop the totals its backups
/// hold, so nothing is started (exit 4) and the hint says how to recover.
pub(super) fn missing_with_backups(dir: &Path) -> Result<(), Error> {
    let shown = dir.display();
    let found = backups::list(dir);
    let apart: Vec<_> = backups::list_abandoned(dir)
        .into_iter()
        .filter(|(_, set)| !set.is_empty())
        .collect();
    let advice = match (found.first(), apart.first()) {
        (None, None) => return Ok(()),
        (Some(newest), _) => format!(
            "To restore the newest (launch {}): fizzflow recover --state-dir {shown}",
            newest.launch
        ),
        (None, Some((folder, _))) => format!(
            "Its backups were set apart by a restore, in {}: `fizzflow recover --state-dir {shown} --list` shows them, `--from-path PATH` restores one",
            folder.display()
        ),
    };
    Err(DurableError::StateDir {
        dir: dir.to_path_buf(),
        problem: format!(
            "has backups of a checkpoint file but no file: it was deleted or lost, and a new lifetime from zero would drop the totals they hold. {advice}; to start from zero instead, move {} away",
            backups::dir_of(dir).display()
        ),
    }
    .into())
}

/// fizzflow's metrics endpoint, unless turned off. An address the person
/// named must be free (exit 2 otherwise); the default port, when another
/// fizzflow has it, moves to the next free one of ten, with a note (two
/// runs and the pods must coexist); past that, a warning and no endpoint.
fn bind_metrics(
    args: &RunArgs,
    live: &Arc<Live>,
    capacity: &Arc<AtomicUsize>,
) -> Result<Option<MetricsServer>, Error> {
    if args.no_metrics {
        return Ok(None);
    }
    let (for_metrics, for_graph) = (live.clone(), live.clone());
    let (cap_metrics, cap_graph) = (capacity.clone(), capacity.clone());
    let site = Site {
        metrics: Arc::new(move || {
            crate::observe::exposition::render(&for_metrics, cap_metrics.load(Ordering::Relaxed))
        }),
        graph: Some(Arc::new(move || {
            crate::observe::graph_page::dot(&for_graph, cap_graph.load(Ordering::Relaxed))
        })),
    };
    let first = args.metrics_addr;
    if args.metrics_addr_given {
        return MetricsServer::start(first, site).map(Some).map_err(|e| {
            Error::Usage(format!(
                "--metrics-addr {first}: {}; pass another --metrics-addr (port 0 takes any free one) or --no-metrics",
                e.source
            ))
        });
    }
    let mut tried = first;
    for step in 0..10u16 {
        let Some(port) = first.port().checked_add(step) else {
            break;
        };
        tried.set_port(port);
        match MetricsServer::start(tried, site.clone()) {
            Ok(server) => {
                if step > 0 {
                    note(&format!(
                        "the metrics port {} is taken (another fizzflow?); serving on {port}",
                        first.port()
                    ));
                }
                return Ok(Some(server));
            }
            Err(e) if e.source.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => {
                note(&format!(
                    "warning: no metrics endpoint: {e} (pass --metrics-addr or --no-metrics)"
                ));
                return Ok(None);
            }
        }
    }
    note(&format!(
        "warning: no metrics endpoint: ports {} to {} are taken (pass --metrics-addr, port 0 takes any free one, or --no-metrics)",
        first.port(),
        tried.port()
    ));
    Ok(None)
}
