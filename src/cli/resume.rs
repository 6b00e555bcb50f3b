//! Where a launch starts: fresh, resuming an unfinished run, or continuing
//! a finished one; and which flags may not say otherwise.

use crate::cli::error::Error;
use crate::cli::run_args::RunArgs;
use crate::durable::record::CheckpointRecord;
use crate::pipeline::config::{PipelineConfig, StartPoint, max_beats};
use crate::util::units::{counted, grouped};

/// Where a launch starts, given the newest checkpoint (if any):
/// - none: a fresh run of `--beats`;
/// - an unfinished run: resume it toward its stored target, with its stored
///   batch settings; flags given explicitly that say otherwise are refused;
/// - a finished run: `--beats` more on top, same worker batch (so that
///   messages = beats × 32 × worker batch stays true for the whole file).
///
/// Returns the configuration and a sentence saying which it is.
/// `run_beats` is the `--beats` that started the stored run, where the
/// launch history knows it.
pub fn plan(
    args: &RunArgs,
    previous: Option<&CheckpointRecord>,
    run_beats: Option<u64>,
) -> Result<(PipelineConfig, String), Error> {
    let given = args.given;
    let Some(p) = previous else {
        let start = StartPoint::default();
        let cfg = args.pipeline_config(
            start,
            args.worker_batch,
            args.target(&start, args.worker_batch)?,
        );
        let note = format!("(new): running {}", counted(args.beats, "beat"));
        return Ok((cfg, note));
    };
    let start = StartPoint {
        beats: p.beats,
        logger: p.logger,
    };
    let s = p.settings;
    if p.unfinished() {
        let mut conflicts = Vec::new();
        for (flag, was_given, asked, stored) in [
            (
                "--generator-batch",
                given.generator_batch,
                args.generator_batch,
                s.generator_batch,
            ),
            (
                "--worker-batch",
                given.worker_batch,
                args.worker_batch,
                s.worker_batch,
            ),
            (
                "--logger-batch",
                given.logger_batch,
                args.logger_batch,
                s.logger_batch,
            ),
            (
                "--channel-capacity",
                given.channel_capacity,
                args.channel_capacity,
                s.channel_capacity,
            ),
        ] {
            if was_given && asked != stored {
                conflicts.push(format!("{flag} {asked} (the run has {stored})"));
            }
        }
        // The run was started with some --beats N: re-running that command
        // is fine, any other N is not. Where the history does not know N (a
        // file from schema 1), any N that could have started the run (from
        // beat 0 up to now) is taken as that command.
        let left = p.beats_target - p.beats;
        let same_command = match run_beats {
            Some(n) => args.beats == n,
            None => (left..=p.beats_target).contains(&args.beats),
        };
        if given.beats && !same_command {
            conflicts.push(format!(
                "--beats {} (the run ends at beat {}, {left} to go)",
                args.beats, p.beats_target
            ));
        }
        if !conflicts.is_empty() {
            let (them, they) = if conflicts.len() == 1 {
                ("that flag", "it then applies")
            } else {
                ("those flags", "they then apply")
            };
            return Err(Error::Usage(format!(
                "this state dir holds an unfinished run at beat {}/{} (batches {}/{}/{}, channel {}), and {} would change it. Run `fizzflow` without {them} to finish it ({they} to the next run), or pass another --state-dir to start a new one with {them}",
                p.beats,
                p.beats_target,
                s.generator_batch,
                s.worker_batch,
                s.logger_batch,
                s.channel_capacity,
                conflicts.join(", "),
            )));
        }
        let cfg = PipelineConfig {
            generator_batch: s.generator_batch as usize,
            logger_batch: s.logger_batch as usize,
            channel_capacity: s.channel_capacity as usize,
            ..args.pipeline_config(start, s.worker_batch, p.beats_target)
        };
        let note = format!(
            "(resumed): the unfinished run at beat {}/{} ({} messages so far; batches {}/{}/{}, channel {} as stored)",
            grouped(p.beats),
            grouped(p.beats_target),
            grouped(p.logger.messages),
            s.generator_batch,
            s.worker_batch,
            s.logger_batch,
            s.channel_capacity
        );
        return Ok((cfg, note));
    }
    // The worker batch sets the size of a beat for the dir's whole life: an
    // explicit other value is refused, the default quietly becomes the dir's.
    if given.worker_batch && args.worker_batch != s.worker_batch {
        return Err(Error::Usage(format!(
            "this state dir counts beats of 32 × {} messages; --worker-batch {} would break messages = beats × 32 × worker batch. Pass --worker-batch {} or another --state-dir",
            s.worker_batch, args.worker_batch, s.worker_batch
        )));
    }
    // The other settings are free to change, but one not given stays as it
    // was: a dir with a worker batch larger than the default channel needs
    // its larger channel again.
    let stored_unless_given = |was_given: bool, asked: u64, stored: u64| {
        (if was_given { asked } else { stored }) as usize
    };
    let cfg = PipelineConfig {
        generator_batch: stored_unless_given(
            given.generator_batch,
            args.generator_batch,
            s.generator_batch,
        ),
        logger_batch: stored_unless_given(given.logger_batch, args.logger_batch, s.logger_batch),
        channel_capacity: stored_unless_given(
            given.channel_capacity,
            args.channel_capacity,
            s.channel_capacity,
        ),
        ..args.pipeline_config(start, s.worker_batch, args.target(&start, s.worker_batch)?)
    };
    let note = format!(
        "(continued): {} ({}) done before; running {} more, to beat {}",
        counted(p.beats, "beat"),
        counted(p.logger.messages, "message"),
        grouped(args.beats),
        grouped(cfg.beats_target)
    );
    Ok((cfg, note))
}

impl RunArgs {
    /// The beat `--beats` more beats from `start` reach; every count must
    /// stay below 2^64, so a target past that is refused with the limit.
    pub fn target(&self, start: &StartPoint, worker_batch: u64) -> Result<u64, Error> {
        let beat = crate::pipeline::config::beat_size(worker_batch);
        // A stream with sequence errors may have moved its next value past
        // its count; the values still to come must fit above it.
        let ahead = start
            .logger
            .next_expected
            .saturating_sub(start.logger.messages);
        let most = max_beats(beat).saturating_sub(ahead.div_ceil(beat));
        start
            .beats
            .checked_add(self.beats)
            .filter(|t| *t <= most)
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--beats {} is too large: a state dir holds at most {most} beats of {beat} messages, and this one is at beat {}, so --beats can be at most {}",
                    self.beats,
                    start.beats,
                    most.saturating_sub(start.beats)
                ))
            })
    }

    /// The configuration of a run from `start` to `beats_target` with these
    /// flags and the given worker batch.
    pub fn pipeline_config(
        &self,
        start: StartPoint,
        worker_batch: u64,
        beats_target: u64,
    ) -> PipelineConfig {
        PipelineConfig {
            rate_ms: self.rate,
            beats_target,
            generator_batch: self.generator_batch as usize,
            worker_batch: worker_batch as usize,
            logger_batch: self.logger_batch as usize,
            channel_capacity: self.channel_capacity as usize,
            inject_panic: self.inject_panic.clone(),
            inject_delay: self.inject_delay.clone(),
            single_item: self.single_item,
            start,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::run_args::Given;
    use crate::cli::{Cli, Command};
    use crate::durable::ledger::Ledger;
    use clap::Parser;

    fn args(extra: &[&str], given: Given) -> RunArgs {
        let mut argv = vec!["fizzflow", "run"];
        argv.extend_from_slice(extra);
        let Some(Command::Run(mut a)) = Cli::try_parse_from(argv).expect("parses").command else {
            panic!("run subcommand")
        };
        a.given = given;
        *a
    }

    fn record(beats: u64, target: u64) -> CheckpointRecord {
        let cfg = PipelineConfig {
            beats_target: target,
            ..Default::default()
        };
        let mut rec = Ledger::launch(None, &cfg);
        rec.beats = beats;
        rec.logger.messages = beats * 8192;
        rec
    }

    #[test]
    fn explicit_flags_that_contradict_an_unfinished_run_are_refused() {
        let p = record(5, 2009);
        let given = Given {
            worker_batch: true,
            beats: true,
            ..Default::default()
        };
        let err = plan(
            &args(&["--worker-batch", "512", "--beats", "10"], given),
            Some(&p),
            None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.exit_code(), 2);
        assert!(
            text.contains("--worker-batch 512 (the run has 256)"),
            "{text}"
        );
        assert!(text.contains("--beats 10"), "{text}");
        assert!(text.contains("unfinished run at beat 5/2009"), "{text}");
        // The same command line again, or no flags at all, resumes.
        let same = Given {
            beats: true,
            ..Default::default()
        };
        let (cfg, _) = plan(&args(&["--beats", "2009"], same), Some(&p), None).unwrap();
        assert_eq!(cfg.beats_target, 2009);
        // Where the history knows the run's --beats, only that one is the
        // same command.
        assert!(plan(&args(&["--beats", "2009"], same), Some(&p), Some(2000)).is_err());
        assert!(plan(&args(&["--beats", "2000"], same), Some(&p), Some(2000)).is_ok());
        let (cfg, note) = plan(
            &args(&["--worker-batch", "512"], Given::default()),
            Some(&p),
            None,
        )
        .unwrap();
        assert_eq!((cfg.beats_target, cfg.worker_batch), (2009, 256));
        assert!(note.starts_with("(resumed)"), "{note}");
    }

    #[test]
    fn a_target_past_the_largest_count_is_refused_with_the_limit() {
        let p = record(10, 10);
        let beats = u64::MAX.to_string();
        let err = plan(
            &args(&["--beats", &beats], Given::default()),
            Some(&p),
            None,
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let most = max_beats(8192) - 10;
        assert!(
            err.to_string().contains(&format!("at most {most}")),
            "{err}"
        );
        let ok = plan(
            &args(&["--beats", &most.to_string()], Given::default()),
            Some(&p),
            None,
        );
        assert_eq!(ok.unwrap().0.beats_target, max_beats(8192));
    }

    #[test]
    fn a_finished_dir_keeps_its_worker_batch_unless_told_otherwise() {
        let mut p = record(10, 10);
        p.settings.worker_batch = 512;
        p.logger.messages = 10 * 32 * 512;
        let (cfg, _) = plan(&args(&["--beats", "3"], Given::default()), Some(&p), None).unwrap();
        assert_eq!((cfg.worker_batch, cfg.beats_target), (512, 13));
        let given = Given {
            worker_batch: true,
            ..Default::default()
        };
        let err = plan(&args(&["--worker-batch", "256"], given), Some(&p), None).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn a_finished_dir_keeps_the_settings_not_given_again() {
        // A worker batch above the default channel (8192) needed a larger
        // channel; continuing with no flags must not fall back to 8192.
        let mut p = record(10, 10);
        p.settings.worker_batch = 10_000;
        p.settings.channel_capacity = 16_384;
        p.settings.logger_batch = 10_000;
        p.logger.messages = 10 * 32 * 10_000;
        let (cfg, _) = plan(&args(&["--beats", "3"], Given::default()), Some(&p), None).unwrap();
        assert_eq!(
            (cfg.worker_batch, cfg.channel_capacity, cfg.logger_batch),
            (10_000, 16_384, 10_000)
        );
        cfg.validate().unwrap();
        // Given again, a setting changes.
        let given = Given {
            channel_capacity: true,
            ..Default::default()
        };
        let (cfg, _) = plan(
            &args(&["--channel-capacity", "32768"], given),
            Some(&p),
            None,
        )
        .unwrap();
        assert_eq!(cfg.channel_capacity, 32_768);
    }

    #[test]
    fn run_args_become_a_config() {
        // Every value differs from its default and from the others, so a
        // field left at its default, or taken from the wrong flag, shows.
        let a = args(
            &[
                "--rate",
                "3",
                "--beats",
                "7",
                "--generator-batch",
                "64",
                "--worker-batch",
                "512",
                "--logger-batch",
                "2048",
                "--channel-capacity",
                "16384",
                "--inject-panic",
                "worker:9",
                "--inject-delay",
                "logger:300",
                "--single-item",
            ],
            Given::default(),
        );
        let mut start = StartPoint {
            beats: 5,
            ..Default::default()
        };
        start.logger.messages = 5 * 32 * 128;
        start.logger.next_expected = start.logger.messages;
        // The worker batch is the run's (a resumed run keeps its own), not
        // the flag's.
        let cfg = a.pipeline_config(start, 128, a.target(&start, 128).unwrap());
        let expected = PipelineConfig {
            rate_ms: 3,
            beats_target: 5 + 7,
            generator_batch: 64,
            worker_batch: 128,
            logger_batch: 2048,
            channel_capacity: 16384,
            inject_panic: vec![crate::cli::values::panic_spec("worker:9").unwrap()],
            inject_delay: vec![crate::cli::values::delay_spec("logger:300").unwrap()],
            single_item: true,
            start,
        };
        assert_eq!(cfg, expected);
        assert_eq!(
            cfg.panic_every(crate::pipeline::actor::worker::NAME),
            Some(9)
        );
    }
}
