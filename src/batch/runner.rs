//! The worker pool: `jobs` workers share one loaded model, each transcribing one file at a
//! time on its own rayon pool of `threads` threads (candle's rayon-parallel operations), while
//! a loader thread decodes and resamples the next file ahead of them. The model's own dense
//! kernels run on candle's one process-wide barrier pool (`CANDLE_NUM_THREADS`), which
//! concurrent callers take turns in: several jobs pay off with one thread each, where every
//! kernel runs on its caller's thread.
//!
//! Inputs in object storage are downloaded by the loader, streamed to a temporary file that is
//! gone once the file is decoded.
//!
//! Each file ends in one of four ways: done (every output written whole, then its done marker
//! created: a file is never recorded before its outputs exist), done elsewhere (another task
//! sharing the output tree recorded it first), failed (its error is kept, in the report and the
//! tree's failure records, and the batch goes on: a corrupt file, one over the length limit, an
//! output that cannot be written, even a panic), or fatal (the disk is full, or the record
//! cannot be written): then no new file starts, because every following file would fail the
//! same way. A stop request (Ctrl-C) also lets running files finish and starts no new one.

use std::io;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use super::discover::{Found, Source};
use super::ledger::{self, FailureRecord, Fingerprint, Ledger, Record};
use super::output_tree::{OutputTree, TreeError};
use super::progress::{Finished, Progress};
use super::shard::Shard;
use crate::audio::{Audio16k, AudioError, AudioStream};
use crate::objects::Bucket;
use crate::output::{self, Format, SubtitleOptions};
use crate::transcribe::{TranscribeOptions, Transcriber};
use crate::transcript::Stats;

/// One file to transcribe.
#[derive(Debug, Clone)]
pub struct Task {
    /// Where it is and where its outputs go.
    pub found: Found,
    /// Its identity when the batch started (what the record will hold).
    pub fingerprint: Fingerprint,
    /// Its record ID ([`ledger::entry_id`]).
    pub id: String,
    /// Its duration as declared by its container, or estimated from its size (seconds).
    pub estimate_s: f64,
    /// Its outputs, relative to the output directory: one per format of the batch, in order.
    pub outputs: Vec<PathBuf>,
}

/// What every file is transcribed with.
#[derive(Debug, Clone)]
pub struct Settings<'a> {
    /// The output tree.
    pub tree: &'a OutputTree,
    /// The input buckets ([`Source::Object`] indexes them).
    pub buckets: &'a [Bucket],
    /// This task's shard.
    pub shard: Shard,
    /// Formats written per file.
    pub formats: &'a [Format],
    /// Subtitle layout.
    pub subtitles: &'a SubtitleOptions,
    /// Decoding options.
    pub opts: &'a TranscribeOptions,
    /// The model's name, for the record.
    pub model: &'a str,
    /// The options' fingerprint, for the record.
    pub options_key: &'a str,
    /// Workers.
    pub jobs: usize,
    /// Threads per worker.
    pub threads: usize,
    /// Longest audio accepted, seconds.
    pub max_s: f64,
}

/// How one file ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// Transcribed and written.
    Done {
        /// Audio duration, seconds.
        audio_s: f64,
        /// Wall time from the start of transcription to the record, seconds.
        wall_s: f64,
        /// The transcript's statistics (speculative decoding counts among them).
        stats: Box<Stats>,
        /// Outputs, relative to the output directory.
        outputs: Vec<PathBuf>,
        /// What the decoder noticed (a truncated stream, corrupt packets skipped).
        warnings: Vec<String>,
    },
    /// Transcribed, but another task sharing the output tree recorded it first (its outputs
    /// are the same).
    DoneElsewhere {
        /// Outputs, relative to the output directory.
        outputs: Vec<PathBuf>,
    },
    /// Failed; the message names the file and the cause.
    Failed(String),
}

/// One file's result.
#[derive(Debug, Clone)]
pub struct FileResult {
    /// The input, as found.
    pub path: PathBuf,
    /// How it ended.
    pub outcome: Outcome,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunResult {
    /// Every file that was started, in the order they finished.
    pub results: Vec<FileResult>,
    /// Set when the run stopped early for a reason every later file would share.
    pub fatal: Option<String>,
}

/// Transcribes `tasks` with `jobs` workers until all are done or `stop` is set.
pub fn run(
    transcriber: &Transcriber,
    tasks: Vec<Task>,
    settings: &Settings<'_>,
    ledger: &Mutex<Ledger>,
    progress: &Progress,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<RunResult> {
    let pools = (0..settings.jobs)
        .map(|job| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(settings.threads)
                .thread_name(move |i| format!("batch-{job}-{i}"))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let rx = Mutex::new(spawn_loader(
        tasks,
        settings.buckets.to_vec(),
        settings.max_s,
        Arc::clone(stop),
    ));
    let out = Mutex::new(RunResult::default());
    std::thread::scope(|scope| {
        for (job, pool) in pools.iter().enumerate() {
            let (rx, out) = (&rx, &out);
            scope.spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let next = rx.lock().expect("loader queue").recv();
                    let Ok((task, audio)) = next else { break };
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let name = task.found.path.display().to_string();
                    progress.start(job, &name, task.estimate_s);
                    let ended = guarded(pool, &task.found.path, || {
                        transcribe_one(transcriber, &task, audio, settings, job, progress, ledger)
                    });
                    let outcome = match ended {
                        Ok(done) => done,
                        Err(Ending::Failed(e)) => Outcome::Failed(e),
                        Err(Ending::Fatal(e)) => {
                            stop.store(true, Ordering::SeqCst);
                            let mut o = out.lock().expect("results");
                            o.fatal.get_or_insert(e.clone());
                            Outcome::Failed(e)
                        }
                    };
                    if let Outcome::Failed(reason) = &outcome {
                        let failure = FailureRecord {
                            file: name.clone(),
                            reason: reason.clone(),
                            shard: settings.shard.to_string(),
                            at_unix: ledger::now_unix(),
                        };
                        let recorded = ledger
                            .lock()
                            .expect("ledger")
                            .record_failure(&task.id, &failure);
                        if let Err(e) = recorded {
                            tracing::warn!("cannot record the failure of {name}: {e}");
                        }
                    }
                    progress.finish(job, &name, &outcome.shown());
                    out.lock().expect("results").results.push(FileResult {
                        path: task.found.path,
                        outcome,
                    });
                }
            });
        }
    });
    Ok(out.into_inner().expect("results"))
}

impl Outcome {
    /// How the progress display shows it.
    fn shown(&self) -> Finished<'_> {
        match self {
            Outcome::Done {
                audio_s, wall_s, ..
            } => Finished::Ok {
                audio_s: *audio_s,
                wall_s: *wall_s,
            },
            Outcome::DoneElsewhere { .. } => Finished::Elsewhere,
            Outcome::Failed(e) => Finished::Failed(e),
        }
    }
}

/// Runs `work` for the file at `path` on `pool`; a panic fails the file (with its message)
/// instead of the batch.
fn guarded(
    pool: &rayon::ThreadPool,
    path: &Path,
    work: impl FnOnce() -> Result<Outcome, Ending> + Send,
) -> Result<Outcome, Ending> {
    std::panic::catch_unwind(AssertUnwindSafe(|| pool.install(work))).unwrap_or_else(|panic| {
        Err(Ending::Failed(format!(
            "{}: internal error (a bug: please report it): {}",
            path.display(),
            panic_message(panic.as_ref())
        )))
    })
}

/// Why a file did not finish.
enum Ending {
    /// This file alone.
    Failed(String),
    /// This file, and the batch must stop.
    Fatal(String),
}

/// The loader: decodes and resamples the tasks in order, one ahead of the workers, on its own
/// thread. It is not joined: after a stop it may be in the middle of a long file, and nothing
/// it holds needs saving.
fn spawn_loader(
    tasks: Vec<Task>,
    buckets: Vec<Bucket>,
    max_s: f64,
    stop: Arc<AtomicBool>,
) -> mpsc::Receiver<(Task, Result<Audio16k, AudioError>)> {
    let (tx, rx) = mpsc::sync_channel(1);
    std::thread::Builder::new()
        .name("batch-loader".into())
        .spawn(move || {
            for task in tasks {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let audio = match &task.found.source {
                    Source::File => load(&task.found.path, &task.found.path, max_s),
                    Source::Object { bucket, key, .. } => {
                        download_and_load(&buckets[*bucket], key, &task.found.path, max_s)
                    }
                };
                if tx.send((task, audio)).is_err() {
                    break;
                }
            }
        })
        .expect("spawning the loader thread");
    rx
}

/// Decodes and resamples `path`, naming it `name` in errors. A decoder that panics on a
/// malformed stream fails this file like a corrupt one, instead of taking the loader, and with
/// it every later file, down.
fn load(path: &Path, name: &Path, max_s: f64) -> Result<Audio16k, AudioError> {
    std::panic::catch_unwind(|| {
        AudioStream::open_named(path, name).and_then(|s| s.collect_at_most(max_s))
    })
    .unwrap_or_else(|panic| {
        let what = panic_message(panic.as_ref());
        Err(AudioError::Corrupt {
            path: name.to_path_buf(),
            reason: format!("the decoder failed on it ({what})"),
        })
    })
}

/// Streams the object `key` of `bucket` (named `name`, its URL) to a temporary file with the
/// same extension (the decoder's format hint), then decodes it like a local file. The
/// temporary file is removed as soon as the audio is decoded.
fn download_and_load(
    bucket: &Bucket,
    key: &str,
    name: &Path,
    max_s: f64,
) -> Result<Audio16k, AudioError> {
    let suffix = Path::new(key)
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    let io_err = |source| AudioError::Io {
        path: name.to_path_buf(),
        source,
    };
    let mut temp = tempfile::Builder::new()
        .prefix("whisper-spec-input-")
        .suffix(&suffix)
        .tempfile()
        .map_err(io_err)?;
    let mut out = std::io::BufWriter::new(temp.as_file_mut());
    bucket
        .download(key, &mut out)
        .map_err(|e| io_err(io::Error::other(format!("download failed: {}", e.source))))?;
    std::io::Write::flush(&mut out).map_err(io_err)?;
    drop(out);
    load(temp.path(), name, max_s)
}

/// The message a panic was raised with (empty when it is not text).
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Transcribes one decoded file, writes its outputs and records it.
fn transcribe_one(
    transcriber: &Transcriber,
    task: &Task,
    audio: Result<Audio16k, AudioError>,
    s: &Settings<'_>,
    job: usize,
    progress: &Progress,
    ledger: &Mutex<Ledger>,
) -> Result<Outcome, Ending> {
    let started = Instant::now();
    let path = &task.found.path;
    // Another task sharing the tree may have done it since this one planned.
    let elsewhere = ledger.lock().expect("ledger").done_since(&task.id);
    if elsewhere.is_ok_and(|done| done) {
        return Ok(Outcome::DoneElsewhere {
            outputs: task.outputs.clone(),
        });
    }
    let audio = audio.map_err(|e| Ending::Failed(e.to_string()))?;
    // The decoder has logged these already; the report lists them with the file.
    let warnings = audio.report.warnings.clone();
    let transcript = transcriber
        .transcribe_samples_with_progress(
            &audio.samples,
            s.opts,
            &path.display().to_string(),
            &mut |seconds| progress.advance(job, seconds),
        )
        .map_err(|e| Ending::Failed(format!("{}: {e}", path.display())))?;
    drop(audio);
    if let Some(diff) = &transcript.stats.verify_difference {
        return Err(Ending::Failed(format!(
            "{}: --verify: output differs from the target decoding alone: {diff}",
            path.display()
        )));
    }
    for (&format, rel) in s.formats.iter().zip(&task.outputs) {
        let mut bytes = Vec::new();
        let written = output::write_with(format, &transcript, s.subtitles, &mut bytes)
            .map_err(|e| TreeError::Io {
                path: rel.clone(),
                source: e,
            })
            .and_then(|()| s.tree.write(&ledger::slash_path(rel), &bytes));
        if let Err(e) = written {
            let message = format!("{}: cannot write its output: {e}", path.display());
            return Err(if is_disk_full(&e) {
                Ending::Fatal(format!("disk full: {message}"))
            } else {
                Ending::Failed(message)
            });
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let record = Record {
        file: path.display().to_string(),
        fingerprint: task.fingerprint.clone(),
        model: s.model.to_string(),
        options: s.options_key.to_string(),
        outputs: task.outputs.clone(),
        audio_s: transcript.duration_s,
        wall_s,
        shard: s.shard.to_string(),
        at_unix: ledger::now_unix(),
    };
    let created = ledger
        .lock()
        .expect("ledger")
        .record_done(&task.id, &record)
        .map_err(|e| {
            let what = if is_disk_full(&e) { "disk full: " } else { "" };
            Ending::Fatal(format!(
                "{what}cannot record {} as done in {}: {e}",
                path.display(),
                s.tree.display(ledger::LEDGER_DIR)
            ))
        })?;
    if !created {
        return Ok(Outcome::DoneElsewhere {
            outputs: task.outputs.clone(),
        });
    }
    Ok(Outcome::Done {
        audio_s: transcript.duration_s,
        wall_s,
        stats: Box::new(transcript.stats),
        outputs: task.outputs.clone(),
        warnings,
    })
}

/// Whether `error` (or any error under it) is a full disk or an exhausted quota.
pub fn is_disk_full(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<io::Error>()
            && (matches!(
                io.kind(),
                io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
            ) || matches!(io.raw_os_error(), Some(28 | 122)))
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_message() {
        let caught = std::panic::catch_unwind(|| panic!("bad frame {}", 3)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "bad frame 3");
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(7u8)).unwrap_err();
        assert_eq!(panic_message(caught.as_ref()), "");
    }

    #[test]
    fn disk_full_is_found_under_other_errors() {
        let full = io::Error::from_raw_os_error(28);
        assert!(is_disk_full(&full));
        let wrapped = output::OutputError::Write {
            path: "x".into(),
            source: io::Error::from_raw_os_error(28),
        };
        assert!(is_disk_full(&wrapped));
        assert!(!is_disk_full(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
    }
}
