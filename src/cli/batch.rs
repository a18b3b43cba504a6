//! `whisper-spec batch INPUT... -o OUTDIR`: transcribe whole archives, resumably, with a pool
//! of workers, progress bars and a report (see [`crate::batch`]).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::Args;

use super::decode_args::DecodeArgs;
use super::model_args::ModelArgs;
use super::setup;
use super::vad_args::VadArgs;
use crate::batch::naming::output_file;
use crate::batch::runner::{self, Settings, Task};
use crate::batch::state::{self, Fingerprint, State};
use crate::batch::{self, Progress, ProgressMode, Report};
use crate::output;

/// Arguments of `whisper-spec batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Audio files, directories (searched recursively: audio by extension, hidden entries
    /// skipped), or `@LIST` files naming one file or directory per line.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output directory. Outputs mirror the input tree here (`show/ep.mp3` gives
    /// `OUTDIR/show/ep.txt`); the resume record and report.json live here too.
    #[arg(short, long)]
    pub output_dir: PathBuf,
    /// Output formats: txt, json, srt, vtt, tsv, a comma list, or all.
    #[arg(short = 'f', long, default_value = "txt", value_parser = super::ranges::output_formats)]
    pub output_format: String,
    /// Files transcribed at once; they share one copy of the model. Default: one job per core
    /// (one thread each) on machines of up to 2 cores, where 2 jobs of 1 thread beat 1 job of
    /// 2 threads by 5-10 % (benches/batch_throughput.py); else 1 job using every core, since
    /// the model's CPU kernels run on one shared thread pool that concurrent jobs would take
    /// turns in.
    #[arg(short, long, value_parser = super::ranges::threads)]
    pub jobs: Option<usize>,
    /// Threads per job (default: all cores divided among the jobs).
    #[arg(short, long, value_parser = super::ranges::threads)]
    pub threads: Option<usize>,
    /// Model and speculative draft.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Redo every input, even those an earlier run finished with the same options.
    #[arg(long)]
    pub force: bool,
    /// Progress display: bars on a terminal, plain lines for logs, or none.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// An input longer than this (hours) fails instead of being transcribed: it bounds the
    /// memory one file can take (about 0.4 GB per hour of audio).
    #[arg(long, default_value_t = 12.0, value_parser = super::ranges::hours)]
    pub max_hours: f64,
    /// How to decode.
    #[command(flatten)]
    pub decode: DecodeArgs,
    /// Voice activity detection.
    #[command(flatten)]
    pub vad: VadArgs,
}

/// Runs `whisper-spec batch`.
pub fn run(args: BatchArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let formats = output::parse_formats(&args.output_format)?;
    let opts = crate::TranscribeOptions {
        vad: args.vad.options(),
        ..args.decode.options()?
    };
    let subtitles = args.decode.subtitles();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut jobs = args.jobs.unwrap_or(if cores <= 2 { cores } else { 1 });
    anyhow::ensure!(jobs >= 1, "--jobs must be at least 1");
    anyhow::ensure!(args.threads != Some(0), "--threads must be at least 1");
    anyhow::ensure!(
        args.max_hours > 0.0 && args.max_hours.is_finite(),
        "--max-hours must be above 0"
    );

    let outdir = &args.output_dir;
    std::fs::create_dir_all(outdir)
        .with_context(|| format!("cannot create output directory {}", outdir.display()))?;
    let state = State::open(outdir)?;
    let stale = batch::remove_stale_temps(outdir);
    if stale > 0 {
        tracing::info!("removed {stale} temporary files left by an interrupted run");
    }

    let found = batch::discover(&args.inputs, outdir)?;
    anyhow::ensure!(
        !found.files.is_empty() || !found.unreadable.is_empty(),
        "no audio files in {} ({} hidden and {} other files skipped)",
        args.inputs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        found.hidden,
        found.not_audio
    );

    // Everything that changes the outputs, besides the input: the draft is not part of it,
    // since speculative decoding gives the model's own output.
    let model = args.model.describe();
    let describe = format!(
        "{}\n{:?}\n{:?}",
        model,
        crate::TranscribeOptions {
            verify: false,
            ..opts.clone()
        },
        subtitles
    );
    let options_key = state::options_key(&describe);
    let mut report = Report {
        output_dir: outdir.display().to_string(),
        model: model.clone(),
        ignored_hidden: found.hidden,
        ignored_not_audio: found.not_audio,
        ..Report::default()
    };
    for u in &found.unreadable {
        report.fail(u.path.display().to_string(), u.error.clone());
    }
    let todo = Todo {
        formats: &formats,
        model: &model,
        options_key: &options_key,
        force: args.force,
    };
    let tasks = todo.plan(found.files, &state, &mut report);

    // No more workers than files: one long episode gets all the cores.
    if args.jobs.is_none() {
        jobs = jobs.min(tasks.len()).max(1);
    }
    let threads = args.threads.unwrap_or((cores / jobs).max(1));
    if jobs > 1 && threads > 1 {
        tracing::warn!(
            "{jobs} jobs of {threads} threads: the model's CPU kernels share one pool of \
             {threads} threads, which the jobs take turns in; --threads 1 lets them run side by side"
        );
    }
    // Before the model loads and before any thread starts.
    setup::set_threads(Some(threads))?;
    report.jobs = jobs;
    report.threads = threads;

    let mut interrupted = false;
    let mut fatal = None;
    if !tasks.is_empty() {
        let transcriber = args.vad.attach(args.model.load()?)?;
        transcriber.check_options(&opts)?;
        report.draft = transcriber.draft().map(|d| d.label().to_string());
        let total_s: f64 = tasks.iter().map(|t| t.estimate_s).sum();
        let progress = Progress::new(args.progress, jobs, tasks.len(), total_s);
        if report.skipped > 0 {
            progress.message(&format!(
                "{} files already done (skipped), {} to transcribe",
                report.skipped,
                tasks.len()
            ));
        }
        let stop = Arc::new(AtomicBool::new(false));
        install_ctrl_c(&stop)?;
        let settings = Settings {
            outdir,
            formats: &formats,
            subtitles: &subtitles,
            opts: &opts,
            model: &model,
            options_key: &options_key,
            jobs,
            threads,
            max_s: args.max_hours * 3600.0,
        };
        let state = Mutex::new(state);
        let queued: Vec<String> = tasks
            .iter()
            .map(|t| t.found.path.display().to_string())
            .collect();
        let result = runner::run(&transcriber, tasks, &settings, &state, &progress, &stop)?;
        progress.close();
        interrupted = stop.load(Ordering::SeqCst) && result.fatal.is_none();
        fatal = result.fatal.clone();
        report.tally(&result.results);
        report.not_started(queued);
    }
    report.files.sort_by(|a, b| a.file.cmp(&b.file));
    report.interrupted = interrupted;
    report.stopped = fatal.clone();
    report.finish(started.elapsed().as_secs_f64());
    eprintln!("{}", report.summary());
    match report.write(outdir) {
        Ok(path) => eprintln!("report: {}", path.display()),
        Err(e) => eprintln!("error: cannot write the report: {e}"),
    }
    Ok(if report.failed > 0 || fatal.is_some() {
        ExitCode::FAILURE
    } else if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// What decides which inputs are done already.
struct Todo<'a> {
    formats: &'a [output::Format],
    model: &'a str,
    options_key: &'a str,
    force: bool,
}

impl Todo<'_> {
    /// The tasks among `files`: those the record does not hold as done with these options and
    /// outputs (all of them with `--force`). Skipped and unreadable files go to the report.
    fn plan(&self, files: Vec<batch::Found>, state: &State, report: &mut Report) -> Vec<Task> {
        let mut tasks = Vec::new();
        for f in files {
            let fingerprint = match Fingerprint::of(&f.path) {
                Ok(fp) => fp,
                Err(e) => {
                    let file = f.path.display().to_string();
                    report.fail(file.clone(), format!("{file}: cannot read: {e}"));
                    continue;
                }
            };
            let outputs: Vec<PathBuf> = self
                .formats
                .iter()
                .map(|fmt| output_file(Path::new(""), &f.rel, fmt.extension()))
                .collect();
            if !self.force && state.is_done(&fingerprint, self.model, self.options_key, &outputs) {
                let audio_s = state.get(&fingerprint.input).map(|r| r.audio_s);
                report.skip(f.path.display().to_string(), outputs, audio_s);
                continue;
            }
            let estimate_s = estimate_duration(&f.path, fingerprint.size);
            tasks.push(Task {
                found: f,
                fingerprint,
                estimate_s,
                outputs,
            });
        }
        tasks
    }
}

/// The file's duration as its container declares it, else a guess from its size at 128 kbit/s
/// (only the progress bar's total and ETA use it; each file's exact length replaces it).
fn estimate_duration(path: &Path, size: u64) -> f64 {
    crate::audio::Decoder::open(path)
        .ok()
        .and_then(|d| d.info().declared_duration_s())
        .unwrap_or(size as f64 / 16_000.0)
}

/// First Ctrl-C: no new file starts, running ones finish and are recorded. Second: exit now
/// (every recorded file is complete; the running ones are simply redone next time).
fn install_ctrl_c(stop: &Arc<AtomicBool>) -> anyhow::Result<()> {
    let stop = Arc::clone(stop);
    let presses = AtomicUsize::new(0);
    ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            stop.store(true, Ordering::SeqCst);
            eprintln!(
                "\nstopping after the files being transcribed (Ctrl-C again to quit at once)"
            );
        } else {
            eprintln!("\nquitting; rerun the same command to resume");
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C handler")
}
