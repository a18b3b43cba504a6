//! `whisper-spec caption`: live captions from a microphone (or a file played at real time),
//! committed with LocalAgreement-2 ([`crate::transcribe::stream`]), shown on the terminal and
//! appended to a caption file.
//!
//! The loop: wait for `--step-ms` of new audio, re-decode the rolling buffer (speculative
//! decoding on by default: each decode is mostly the text of the previous one), show what
//! changed, time every committed word. Capture runs on its own thread and never waits for it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use super::caption_display::Display;
use super::decode_args::OptionalNumber;
use super::model_args::ModelArgs;
use super::ranges;
use super::setup;
use super::vad_args::VadArgs;
use crate::audio::SAMPLE_RATE;
use crate::audio::capture::{Capture, CaptureConfig, LiveSource};
use crate::output::captions::{CaptionFile, CaptionFormat, CaptionLine, LineBuilder};
use crate::text::wer::wer;
use crate::transcribe::agreement::LiveWord;
use crate::transcribe::commit_policy::CommitPolicy;
use crate::transcribe::stream::{LiveConfig, LiveSession, LiveUpdate};
use crate::transcribe::{TranscribeOptions, Transcriber};

/// The step when `--step-ms` is not given: a decode of a 10 s buffer takes 0.3-0.4 s on 2
/// cores (base, tiny.en), so a shorter step only queues decodes back to back, and every
/// longer step adds to the latency (two agreeing decodes are needed per word).
pub const DEFAULT_STEP_MS: u64 = 500;

/// The longest step the loop falls back to when inference is slower than real time.
const MAX_STEP_S: f64 = 10.0;

/// Arguments of `whisper-spec caption`.
#[derive(Debug, Args)]
pub struct CaptionArgs {
    /// Model and speculative draft.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Voice activity detection: what is decoded at all.
    #[command(flatten)]
    pub vad: VadArgs,
    /// Input device: an id from --list-devices or part of its name (default: the system's).
    #[arg(long, conflicts_with = "input")]
    pub device: Option<String>,
    /// List input devices and exit.
    #[arg(long)]
    pub list_devices: bool,
    /// Caption a file instead of a microphone, through the same pipeline.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// With --input: play the file at real-time pace (`--realtime=false`: as fast as the
    /// model goes, one step of audio per step, the same captions on any machine; latency is
    /// then simulated: each decode as if started when its audio arrived).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", require_equals = true)]
    pub realtime: bool,
    /// Append committed captions to this file: .srt, .vtt, .txt or .jsonl (times from the
    /// start of the session).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Re-decode after this much new audio (milliseconds).
    #[arg(long, default_value_t = DEFAULT_STEP_MS, value_parser = ranges::step_ms)]
    pub step_ms: u64,
    /// Spoken language (code or name), or `auto` to detect it on the first speech.
    #[arg(short, long, default_value = "auto", value_parser = ranges::language)]
    pub language: String,
    /// Stop after this many seconds of audio.
    #[arg(long, value_parser = ranges::positive_seconds)]
    pub duration: Option<f64>,
    /// New audio quieter than this (dBFS, loudest 100 ms) is silence and is not decoded.
    #[arg(long, default_value_t = LiveConfig::default().speech_db, allow_hyphen_values = true, value_parser = ranges::level_db)]
    pub speech_threshold_db: f64,
    /// Encode the buffer plus this many seconds of silence instead of a full 30 s window
    /// (`none`: full windows, as offline). Most of a decode is the encoder; a short buffer
    /// with a few seconds of context transcribes as well at a fraction of the cost.
    #[arg(long, default_value = "5", value_parser = ranges::audio_context)]
    pub audio_context: OptionalNumber,
    /// Temperature fallback of a decode that fails openai's thresholds (default `none`:
    /// greedy only, as a bad decode of a partial buffer is decoded again at the next step
    /// anyway; fallback attempts doubled the p90 commit latency on 8 kHz speech). With it on,
    /// no attempt starts after a decode's 1 s budget.
    #[arg(long, default_value = "none", value_parser = ranges::temperature_increment)]
    pub temperature_increment_on_fallback: OptionalNumber,
    /// Candidates sampled per fallback attempt; the most likely is kept. One by default:
    /// the next step decodes again anyway, and five samples make the p90 latency double.
    #[arg(long, default_value_t = 1, value_parser = ranges::candidates)]
    pub best_of: usize,
    /// When more than this much audio (seconds) waits undecoded because inference fell
    /// behind, commit the tentative words and skip to the newest audio (the seconds skipped
    /// are reported); `none`: decode everything, however late.
    #[arg(long, default_value = "6", value_parser = ranges::max_lag)]
    pub max_lag: OptionalNumber,
    /// Cut the buffer at a committed segment end once it is longer than this (seconds).
    #[arg(long, default_value_t = LiveConfig::default().trim_after_s, value_parser = ranges::positive_seconds)]
    pub trim_after: f64,
    /// When words commit: `alignatt` (also after one decode, when the alignment heads place a
    /// word at least 0.4 s before the end of the audio heard; `alignatt:SECONDS` for another
    /// margin) or `agreement` (when two consecutive decodes agree: LocalAgreement-2).
    #[arg(long, default_value = "alignatt")]
    pub policy: CommitPolicy,
    /// Most characters per caption line.
    #[arg(long, default_value_t = 84, value_parser = ranges::line_width)]
    pub max_line_width: usize,
    /// Print a last JSON line with the text and the session's statistics.
    #[arg(long)]
    pub json: bool,
    /// With --input: also transcribe the file offline and report the WER between the two.
    #[arg(long, requires = "input")]
    pub compare_offline: bool,
    /// CPU threads for the model (default: all cores).
    #[arg(short, long, value_parser = ranges::threads)]
    pub threads: Option<usize>,
}

/// Ctrl-C presses: the first ends the session cleanly, the second exits at once.
static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);

/// Runs `whisper-spec caption`.
pub fn run(args: CaptionArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    if args.list_devices {
        return list_devices();
    }
    setup::set_threads(args.threads)?;
    anyhow::ensure!(args.best_of >= 1, "--best-of must be at least 1");
    anyhow::ensure!(
        args.trim_after > 0.0 && args.trim_after.is_finite(),
        "--trim-after must be above 0"
    );
    anyhow::ensure!(
        args.duration.is_none_or(|d| d > 0.0 && d.is_finite()),
        "--duration must be above 0"
    );
    if let Some(out) = &args.output {
        CaptionFormat::for_path(out).map_err(anyhow::Error::msg)?;
    }
    let opts = TranscribeOptions {
        language: setup::language(&args.language),
        audio_context: args.audio_context.0,
        best_of: args.best_of,
        temperature_increment: args
            .temperature_increment_on_fallback
            .0
            .filter(|x| *x > 0.0)
            .map(|x| x as f32),
        vad: args.vad.options(),
        ..TranscribeOptions::default()
    };
    let transcriber = args.vad.attach(args.model.load()?)?;
    transcriber.check_options(&opts)?;
    let config = LiveConfig {
        speech_db: args.speech_threshold_db,
        trim_after_s: args.trim_after,
        policy: args.policy,
        max_lag_s: args.max_lag.0,
        ..LiveConfig::default()
    };

    let source = match &args.input {
        Some(path) => LiveSource::File {
            path: path.clone(),
            realtime: args.realtime,
        },
        None => LiveSource::Microphone(args.device.clone()),
    };
    // A file played as fast as possible is a simulation; everything else runs on the clock.
    let simulated = matches!(
        source,
        LiveSource::File {
            realtime: false,
            ..
        }
    );
    ctrlc::set_handler(|| {
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) >= 1 {
            std::process::exit(130);
        }
    })
    .context("cannot install the Ctrl-C handler")?;
    let capture = Capture::start(
        &source,
        &CaptureConfig {
            max_duration_s: args.duration,
            ..CaptureConfig::default()
        },
    )
    .map_err(anyhow::Error::msg)?;
    if verbose > 0 {
        eprintln!("captioning {}", capture.description);
    }
    // Created once the source is open: a missing device leaves no empty caption file.
    let file = match &args.output {
        Some(path) => Some(
            CaptionFile::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?,
        ),
        None => None,
    };

    let mut live = Live {
        session: LiveSession::new(&transcriber, &opts, config),
        lines: LineBuilder::new(args.max_line_width),
        display: Display::stdout(),
        file,
        latencies: Vec::new(),
        committed_text: String::new(),
        line_count: 0,
        clock: Clock::new(capture.started, simulated),
    };
    let base_step = args.step_ms as f64 / 1000.0;
    let mut step = base_step;
    let step_samples = |s: f64| (s * f64::from(SAMPLE_RATE)) as usize;
    let failure = loop {
        if INTERRUPTS.load(Ordering::SeqCst) > 0 {
            capture.stop();
        }
        let wanted = step_samples(step);
        let missing = wanted.saturating_sub(step_samples(live.session.new_audio_s()));
        let taken = if simulated {
            // Exactly one step of audio per step: the captions do not depend on how fast
            // this machine is.
            capture.take(missing, missing, Duration::from_millis(200))
        } else {
            // What has arrived, at least a step.
            capture.take(missing, usize::MAX, Duration::from_millis(200))
        };
        live.session.push(&taken.samples);
        if taken.ended {
            let update = live.session.finish()?;
            live.clock.after_decode(&live.session, Duration::ZERO);
            live.show(&update)?;
            break taken.error;
        }
        if live.session.new_audio_s() + 1e-9 < step {
            continue;
        }
        let started = Instant::now();
        let update = live.session.step()?;
        let took = started.elapsed();
        live.clock.after_decode(&live.session, took);
        live.show(&update)?;
        if update.decoded && !simulated {
            step = adapt_step(step, base_step, took.as_secs_f64());
        }
    };
    let rest = live.lines.finish();
    if let Some(line) = rest {
        live.emit(&line)?;
    }
    live.display.clear()?;
    if let Some(f) = live.file.take() {
        let path = f.path().to_path_buf();
        f.close()
            .with_context(|| format!("cannot finish {}", path.display()))?;
    }
    if let Some(e) = &failure {
        eprintln!(
            "error: {}: {e}; the captions so far are kept",
            capture.description
        );
    }

    let offline = match (&args.input, args.compare_offline) {
        // The reference is the file as `transcribe` decodes it, with openai's temperature
        // fallback (live decodes go without it by default).
        (Some(path), true) => {
            let offline_opts = TranscribeOptions {
                temperature_increment: TranscribeOptions::default().temperature_increment,
                best_of: TranscribeOptions::default().best_of,
                ..opts.clone()
            };
            Some(transcriber.transcribe_file(path, &offline_opts)?.text)
        }
        _ => None,
    };
    report(
        &live,
        &transcriber,
        &capture,
        step,
        offline.as_deref(),
        &args,
        verbose,
    );
    Ok(if failure.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The step after a decode that took `took` seconds: longer when inference is slower than
/// real time (said once per change), back towards the asked-for step when it catches up.
fn adapt_step(step: f64, base: f64, took: f64) -> f64 {
    if took > step {
        let longer = (took * 1.25).min(MAX_STEP_S);
        if longer > step * 1.1 {
            eprintln!(
                "warning: a decode took {took:.2} s, longer than the {step:.2} s step: \
                 inference is slower than real time, step raised to {longer:.2} s"
            );
            return longer;
        }
    } else if step > base && took < step / 2.0 {
        let shorter = (took * 1.25).max(base);
        if shorter < step / 1.1 {
            eprintln!("note: inference caught up, step back to {shorter:.2} s");
            return shorter;
        }
    }
    step
}

/// The session's time: the wall clock since capture started, or, for a file played as fast
/// as possible in fixed steps, a simulated one: each decode starts when its audio would have
/// arrived and lasts as long as it took (no backlog: a lower bound of the wall clock's
/// latency, close to it while decodes are shorter than the step).
#[derive(Debug)]
struct Clock {
    started: Instant,
    simulated: Option<f64>,
}

impl Clock {
    fn new(started: Instant, simulated: bool) -> Self {
        Clock {
            started,
            simulated: simulated.then_some(0.0),
        }
    }

    fn after_decode(&mut self, session: &LiveSession<'_>, took: Duration) {
        if let Some(t) = &mut self.simulated {
            *t = session.audio_end_s() + took.as_secs_f64();
        }
    }

    fn now(&self) -> f64 {
        self.simulated
            .unwrap_or_else(|| self.started.elapsed().as_secs_f64())
    }
}

/// Everything the loop updates.
struct Live<'a> {
    session: LiveSession<'a>,
    lines: LineBuilder,
    display: Display,
    file: Option<CaptionFile>,
    latencies: Vec<f64>,
    committed_text: String,
    line_count: usize,
    clock: Clock,
}

impl Live<'_> {
    /// Times and shows what a step committed, and redraws the open line.
    fn show(&mut self, update: &LiveUpdate) -> anyhow::Result<()> {
        let now = self.clock.now();
        for w in &update.committed {
            self.latencies.push(now - w.end);
            self.committed_text.push_str(&w.text);
        }
        for line in self.lines.push(&update.committed) {
            self.emit(&line)?;
        }
        let tentative: String = update
            .tentative
            .iter()
            .map(|w: &LiveWord| w.text.as_str())
            .collect();
        self.display
            .status(&self.lines.open_text(), &tentative)
            .context("cannot write to stdout")?;
        Ok(())
    }

    fn emit(&mut self, line: &CaptionLine) -> anyhow::Result<()> {
        self.line_count += 1;
        self.display.line(line).context("cannot write to stdout")?;
        if let Some(f) = &mut self.file {
            let path = f.path().display().to_string();
            f.write_line(line)
                .with_context(|| format!("cannot write captions to {path}"))?;
        }
        Ok(())
    }
}

/// Percentile `q` (0..1) of `values` by nearest rank; 0 when empty.
fn percentile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

fn report(
    live: &Live<'_>,
    transcriber: &Transcriber,
    capture: &Capture,
    step: f64,
    offline: Option<&str>,
    args: &CaptionArgs,
    verbose: u8,
) {
    let s = live.session.stats();
    let wer_vs_offline = offline.map(|text| wer(text, &live.committed_text));
    let acceptance = if s.draft_tokens > 0 {
        s.accepted_tokens as f64 / s.draft_tokens as f64
    } else {
        0.0
    };
    let stats = serde_json::json!({
        "latency_median_s": percentile(&live.latencies, 0.5),
        "latency_p90_s": percentile(&live.latencies, 0.9),
        "latency_max_s": percentile(&live.latencies, 1.0),
        "clock": if live.clock.simulated.is_some() { "simulated" } else { "wall" },
        "words": live.latencies.len(),
        "lines": live.line_count,
        "rewrites": s.rewrites,
        "decodes": s.decodes,
        "silent_steps": s.silent_steps,
        "mean_decode_s": if s.decodes > 0 { s.decode_s / s.decodes as f64 } else { 0.0 },
        "max_decode_s": s.max_decode_s,
        "encoder_s": s.encoder_s,
        "decoder_s": s.decoder_s,
        "forced_cuts": s.forced_cuts,
        "echoed_words": s.echoed_words,
        "skipped_s": s.skipped_s,
        "jumps": s.jumps,
        "fallbacks": s.fallbacks,
        "step_ms": (step * 1000.0).round(),
        "audio_s": capture.captured_s(),
        "dropped_s": capture.dropped_s(),
        "wall_s": live.clock.started.elapsed().as_secs_f64(),
        "model": args.model.model,
        "draft": transcriber.draft().map(|d| d.label().to_string()),
        "draft_tokens": s.draft_tokens,
        "accepted_tokens": s.accepted_tokens,
        "acceptance_rate": acceptance,
        "target_calls": s.target_calls,
        "tokens": s.tokens,
        "language": live.session.language(),
        "wer_vs_offline": wer_vs_offline,
    });
    if verbose > 0 {
        eprintln!(
            "{} words in {} lines; commit latency median {:.2} s, p90 {:.2} s ({} clock); \
             {} rewrites; {} decodes ({:.2} s mean), {} silent steps; draft acceptance {:.1} %{}",
            live.latencies.len(),
            live.line_count,
            stats["latency_median_s"].as_f64().unwrap_or(0.0),
            stats["latency_p90_s"].as_f64().unwrap_or(0.0),
            stats["clock"].as_str().unwrap_or(""),
            s.rewrites,
            s.decodes,
            stats["mean_decode_s"].as_f64().unwrap_or(0.0),
            s.silent_steps,
            100.0 * acceptance,
            wer_vs_offline.map_or(String::new(), |w| format!("; WER vs offline {w:.2} %")),
        );
    }
    if s.jumps > 0 {
        eprintln!(
            "warning: inference fell behind; {:.1} s of audio skipped in {} jumps to the newest \
             audio (--max-lag)",
            s.skipped_s, s.jumps
        );
    }
    if args.json {
        let mut line = serde_json::json!({
            "text": live.committed_text.trim(),
            "stats": stats,
        });
        if let Some(text) = offline {
            line["offline_text"] = text.into();
        }
        println!("{line}");
    }
}

/// `--list-devices`: one line per input device.
#[cfg(feature = "mic")]
fn list_devices() -> anyhow::Result<ExitCode> {
    let devices = crate::audio::mic::input_devices()?;
    if devices.is_empty() {
        eprintln!("no audio input devices");
        return Ok(ExitCode::FAILURE);
    }
    for d in devices {
        println!(
            "{}{}\t{}\t{} Hz, {} channels",
            if d.is_default { "* " } else { "  " },
            d.id,
            d.name,
            d.sample_rate.map_or("?".into(), |r| r.to_string()),
            d.channels.map_or("?".into(), |c| c.to_string()),
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "mic"))]
fn list_devices() -> anyhow::Result<ExitCode> {
    anyhow::bail!("this build has no microphone support (cargo feature `mic`)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_by_nearest_rank() {
        let v = [5.0, 1.0, 3.0, 2.0, 4.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert_eq!(percentile(&v, 0.9), 5.0);
        assert_eq!(percentile(&[], 0.5), 0.0);
    }

    #[test]
    fn the_step_follows_slow_decodes_and_comes_back() {
        assert_eq!(adapt_step(0.5, 0.5, 0.3), 0.5);
        let slow = adapt_step(0.5, 0.5, 1.0);
        assert_eq!(slow, 1.25);
        assert_eq!(adapt_step(slow, 0.5, 0.2), 0.5);
        assert_eq!(adapt_step(0.5, 0.5, 100.0), MAX_STEP_S);
    }
}
