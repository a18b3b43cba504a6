//! `whisper-spec batch INPUT... -o OUTDIR`: transcribe whole archives, resumably, with a pool
//! of workers, progress bars and a report (see [`crate::batch`]); one shard of an archive in
//! an array job; inputs and outputs local or in object storage.

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
use crate::batch::ledger::{self, Fingerprint, Ledger, Plan, PlanEnd, PlannedFile};
use crate::batch::naming::output_file;
use crate::batch::runner::{self, Settings, Task};
use crate::batch::shard::{self, Shard, ShardSource};
use crate::batch::{self, OutputTree, Progress, ProgressMode, Report, Source};
use crate::objects::{Bucket, Location};
use crate::output;

/// Arguments of `whisper-spec batch`.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// Audio files, directories (searched recursively: audio by extension, hidden entries
    /// skipped), `@LIST` files naming one file or directory per line, or object-storage
    /// prefixes (`s3://bucket/shows`, `gs://...`, `az://...`; every audio object below).
    #[arg(required = true)]
    pub inputs: Vec<String>,
    /// Output directory or object-storage prefix (`s3://bucket/out`). Outputs mirror the input
    /// tree here (`show/ep.mp3` gives `OUTDIR/show/ep.txt`); the records of what is done and
    /// the reports live here too, shared by every shard.
    #[arg(short, long)]
    pub output_dir: String,
    /// Transcribe only shard K of N of the inputs (K from 0): the inputs, sorted, are split by
    /// duration the same way in every task. Default: from the array-job variables
    /// (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX), else everything.
    #[arg(long, value_name = "K/N", value_parser = super::ranges::shard)]
    pub shard: Option<Shard>,
    /// The number of shards, for engines that export only the task's index (Kubernetes
    /// Indexed Jobs, AWS Batch arrays).
    #[arg(long, value_name = "N", value_parser = super::ranges::shard_count)]
    pub shards: Option<usize>,
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

    let (shard, source) = shard::resolve(args.shard, args.shards, |k| std::env::var(k).ok())
        .map_err(anyhow::Error::msg)?;
    let output = Location::parse(&args.output_dir).map_err(anyhow::Error::msg)?;
    let mut paths = Vec::new();
    let mut urls = Vec::new();
    for input in &args.inputs {
        match Location::parse(input).map_err(anyhow::Error::msg)? {
            Location::Local(path) => paths.push(path),
            Location::Object(url) => urls.push(url),
        }
    }
    let tree =
        OutputTree::open(&output).with_context(|| format!("cannot open the output {output}"))?;
    let mut ledger = Ledger::open(&tree, shard)?;
    if let Some(dir) = tree.local_dir() {
        let stale = batch::remove_stale_temps(dir);
        if stale > 0 {
            tracing::info!("removed {stale} temporary files left by interrupted runs");
        }
    }
    let buckets = urls
        .iter()
        .map(Bucket::connect)
        .collect::<Result<Vec<_>, _>>()?;
    let found = batch::discover(&paths, &buckets, tree.local_dir())?;
    anyhow::ensure!(
        !found.files.is_empty() || !found.unreadable.is_empty(),
        "no audio files in {} ({} hidden and {} other files skipped)",
        args.inputs.join(", "),
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
    let options_key = ledger::options_key(&describe);
    let mut report = Report {
        output_dir: tree.top(),
        shard: shard.to_string(),
        model: model.clone(),
        ignored_hidden: found.hidden,
        ignored_not_audio: found.not_audio,
        ..Report::default()
    };
    let plan_started = ledger::now_unix();
    let mut unreadable = Vec::new();
    // Every task sees the same unreadable inputs; shard 0 reports them.
    if shard.index == 0 {
        for u in &found.unreadable {
            report.fail(u.path.display().to_string(), u.error.clone());
            unreadable.push(ledger::FailureRecord {
                file: u.path.display().to_string(),
                reason: u.error.clone(),
                shard: shard.to_string(),
                at_unix: plan_started,
            });
        }
    }
    let todo = Todo {
        formats: &formats,
        model: &model,
        options_key: &options_key,
        force: args.force,
    };
    let (mine, fingerprint_failures) = todo.split(found.files, shard);
    if shard.index == 0 {
        for (file, reason) in fingerprint_failures {
            report.fail(file.clone(), reason.clone());
            unreadable.push(ledger::FailureRecord {
                file,
                reason,
                shard: shard.to_string(),
                at_unix: plan_started,
            });
        }
    }
    let mine_s: f64 = mine.iter().map(|t| t.estimate_s).sum();
    let from = match source {
        ShardSource::Flag => " (--shard)".to_string(),
        ShardSource::Engine(var) => format!(" (from {var})"),
        ShardSource::Whole => String::new(),
    };
    eprintln!(
        "shard {shard}{from}: {} files, {} of audio, output {}",
        mine.len(),
        batch::progress::clock(mine_s),
        tree.top()
    );
    let mut plan = Plan {
        shard: shard.index,
        shards: shard.count,
        model: model.clone(),
        options: options_key.clone(),
        started_unix: plan_started,
        host: hostname(),
        pid: std::process::id(),
        files: mine
            .iter()
            .map(|t| PlannedFile {
                file: t.found.path.display().to_string(),
                id: t.id.clone(),
                outputs: t.outputs.clone(),
                estimate_s: t.estimate_s,
            })
            .collect(),
        unreadable,
        ended: None,
    };
    ledger.write_plan(&plan)?;
    let tasks = todo.plan(mine, &mut ledger, &mut report)?;

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
            tree: &tree,
            buckets: &buckets,
            shard,
            formats: &formats,
            subtitles: &subtitles,
            opts: &opts,
            model: &model,
            options_key: &options_key,
            jobs,
            threads,
            max_s: args.max_hours * 3600.0,
        };
        let ledger = Mutex::new(ledger);
        let queued: Vec<String> = tasks
            .iter()
            .map(|t| t.found.path.display().to_string())
            .collect();
        let result = runner::run(&transcriber, tasks, &settings, &ledger, &progress, &stop)?;
        progress.close();
        interrupted = stop.load(Ordering::SeqCst) && result.fatal.is_none();
        fatal = result.fatal.clone();
        report.tally(&result.results);
        report.not_started(queued);
        plan.ended = Some(PlanEnd {
            at_unix: ledger::now_unix(),
            interrupted,
            stopped: fatal.clone(),
        });
        // A plan without its end reads as a killed shard: the report says to run it again,
        // which is right after a failure to write it (a full disk).
        if let Err(e) = ledger.into_inner().expect("ledger").write_plan(&plan) {
            eprintln!("error: cannot record the end of shard {shard}: {e}");
        }
    } else {
        plan.ended = Some(PlanEnd {
            at_unix: ledger::now_unix(),
            interrupted: false,
            stopped: None,
        });
        ledger.write_plan(&plan)?;
    }
    report.files.sort_by(|a, b| a.file.cmp(&b.file));
    report.interrupted = interrupted;
    report.stopped = fatal.clone();
    report.finish(started.elapsed().as_secs_f64());
    eprintln!("{}", report.summary());
    // A whole-archive run's report is the tree's report; a shard's goes beside its plan, and
    // the tree's report.json is merged from every shard's records as each one ends.
    let own = if shard == Shard::WHOLE {
        batch::report::REPORT_FILE.to_string()
    } else {
        ledger::shard_report_path(shard)
    };
    match report.write(&tree, &own) {
        Ok(name) => eprintln!("report: {name}"),
        Err(e) => eprintln!("error: cannot write the report: {e}"),
    }
    if shard != Shard::WHOLE {
        write_merged_report(&tree);
    }
    Ok(if report.failed > 0 || fatal.is_some() {
        ExitCode::FAILURE
    } else if interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Writes `report.json`, merged from every shard's records so far; `whisper-spec report`
/// recomputes it at any time. Shards ending together race to write it: each merges again
/// after writing and rewrites while the merge changes, so the last writer's view includes
/// every shard that ended before it.
fn write_merged_report(tree: &OutputTree) {
    let mut written: Option<Vec<u8>> = None;
    for _ in 0..3 {
        let merged = match batch::merged_report::merge(tree) {
            Ok(m) => m,
            Err(e) => return eprintln!("error: cannot merge the shards' records: {e}"),
        };
        let mut bytes = serde_json::to_vec_pretty(&merged).expect("reports serialize");
        bytes.push(b'\n');
        if written.as_ref() == Some(&bytes) {
            break;
        }
        if let Err(e) = tree.write(batch::report::REPORT_FILE, &bytes) {
            return eprintln!("error: cannot write the merged report: {e}");
        }
        if written.is_none() {
            eprintln!(
                "all shards so far: {} ok, {} skipped, {} failed, {} not started, {} unfinished shards (whisper-spec report {})",
                merged.ok,
                merged.skipped,
                merged.failed,
                merged.not_started,
                merged.unfinished_shards.len(),
                tree.top()
            );
        }
        written = Some(bytes);
    }
}

/// This machine's name, for the shard's plan (which node ran it).
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// What decides which inputs are done already.
struct Todo<'a> {
    formats: &'a [output::Format],
    model: &'a str,
    options_key: &'a str,
    force: bool,
}

impl Todo<'_> {
    /// Fingerprints every input and deals them out to the shards by duration (see
    /// [`shard::split`]); returns this shard's part, and the inputs that could not be
    /// fingerprinted (with why), which belong to no shard.
    fn split(&self, files: Vec<batch::Found>, shard: Shard) -> (Vec<Task>, Vec<(String, String)>) {
        let mut all = Vec::new();
        let mut failures = Vec::new();
        for f in files {
            let fingerprint = match &f.source {
                Source::File => match Fingerprint::of(&f.path) {
                    Ok(fp) => fp,
                    Err(e) => {
                        let file = f.path.display().to_string();
                        failures.push((file.clone(), format!("{file}: cannot read: {e}")));
                        continue;
                    }
                },
                Source::Object {
                    size, modified_ns, ..
                } => Fingerprint {
                    input: f.path.display().to_string(),
                    size: *size,
                    mtime_ns: *modified_ns,
                },
            };
            let outputs: Vec<PathBuf> = self
                .formats
                .iter()
                .map(|fmt| output_file(Path::new(""), &f.rel, fmt.extension()))
                .collect();
            let id = ledger::entry_id(
                &f.rel,
                fingerprint.size,
                fingerprint.mtime_ns,
                self.model,
                self.options_key,
            );
            let estimate_s = match f.source {
                Source::File => estimate_duration(&f.path, fingerprint.size),
                // No header without a download: the size at 128 kbit/s.
                Source::Object { size, .. } => size as f64 / 16_000.0,
            };
            all.push(Task {
                found: f,
                fingerprint,
                id,
                estimate_s,
                outputs,
            });
        }
        let weights: Vec<f64> = all.iter().map(|t| shard::cost(t.estimate_s)).collect();
        let assignment = shard::split(&weights, shard.count);
        let mine = all
            .into_iter()
            .zip(assignment)
            .filter(|(_, s)| *s == shard.index)
            .map(|(t, _)| t)
            .collect();
        (mine, failures)
    }

    /// The tasks among this shard's: those not recorded as done with these options and
    /// outputs (all of them with `--force`). Skipped files go to the report.
    fn plan(
        &self,
        mine: Vec<Task>,
        ledger: &mut Ledger,
        report: &mut Report,
    ) -> anyhow::Result<Vec<Task>> {
        let mut tasks = Vec::new();
        for task in mine {
            if self.force {
                ledger.forget(&task.id)?;
            } else if ledger.is_done(&task.id, &task.outputs)? {
                let audio_s = ledger.record_of(&task.id)?.map(|r| r.audio_s);
                report.skip(
                    task.found.path.display().to_string(),
                    task.outputs.clone(),
                    audio_s,
                );
                continue;
            }
            tasks.push(task);
        }
        // Longest first: a long episode started last would run alone on one worker while the
        // others idle; started first, the short ones fill in around it.
        tasks.sort_by(|a, b| b.estimate_s.total_cmp(&a.estimate_s));
        Ok(tasks)
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
