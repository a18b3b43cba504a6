//! `whisper-spec transcribe FILE...`: transcripts of audio files, to stdout or an output dir.
//! The model loads once for all files; a file that fails is reported and the others go on.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::setup;
use crate::decoding::speculative::SpecConfig;
use crate::output;
use crate::text::Task;
use crate::transcribe::TranscribeOptions;

/// The model used when `-m` is not given: large-v3 where a GPU is built in, base on CPU.
#[cfg(feature = "cuda")]
pub const DEFAULT_MODEL: &str = "large-v3";
/// The model used when `-m` is not given: large-v3 where a GPU is built in, base on CPU.
#[cfg(not(feature = "cuda"))]
pub const DEFAULT_MODEL: &str = "base";

/// Arguments of `whisper-spec transcribe`.
#[derive(Debug, Args)]
pub struct TranscribeArgs {
    /// Audio files (wav, flac, mp3, ogg, opus, m4a, webm, ...).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Model: catalog name (tiny.en, base, large-v3, ...), hub repo id, or model dir path.
    /// Fetched on first use.
    #[arg(short, long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Spoken language (code such as `en`, or a name such as `German`), or `auto` to detect it
    /// on the first 30 s (multilingual models).
    #[arg(short, long, default_value = "auto")]
    pub language: String,
    /// Transcribe, or translate into English (multilingual models only).
    #[arg(long, value_enum, default_value_t = TaskArg::Transcribe)]
    pub task: TaskArg,
    /// Decode timestamps: segments with times (the default).
    #[arg(long, overrides_with = "no_timestamps")]
    pub timestamps: bool,
    /// Text only: one segment per 30 s window.
    #[arg(long, overrides_with = "timestamps")]
    pub no_timestamps: bool,
    /// Output format: txt, json, srt, vtt, tsv, a comma list, or all.
    #[arg(short = 'f', long, default_value = "txt")]
    pub output_format: String,
    /// Write `<file stem>.<ext>` files here (created if missing) instead of printing.
    #[arg(short, long)]
    pub output_dir: Option<PathBuf>,
    /// CPU threads for the model (default: all cores).
    #[arg(short, long)]
    pub threads: Option<usize>,
    /// Speculative draft: auto (the catalog's pairing: a distil model, else self-int8 on CPUs
    /// with AVX-512 VNNI, else self-q8), none, self-int8, self-q8, self-q4, self-layers:N, or a
    /// model name/path with the same vocabulary. Output is the target's own either way.
    #[arg(long, default_value = "auto")]
    pub draft: String,
    /// Tokens the draft proposes in the first round of each window (then adapted).
    #[arg(long, default_value_t = SpecConfig::default().gamma)]
    pub draft_tokens: usize,
    /// Temperature of each window's first attempt; 0 decodes greedily.
    #[arg(long, default_value_t = 0.0)]
    pub temperature: f32,
    /// Temperature fallback: retry a window that fails the thresholds below this much hotter,
    /// up to 1.0 (`none` or 0: no retry).
    #[arg(long, default_value = "0.2", value_parser = parse_optional)]
    pub temperature_increment_on_fallback: OptionalNumber,
    /// Retry a window whose text compresses (zlib) better than this: a repetition loop
    /// (`none`: never).
    #[arg(long, default_value = "2.4", value_parser = parse_optional)]
    pub compression_ratio_threshold: OptionalNumber,
    /// Retry a window whose mean token log-probability is below this (`none`: never); with
    /// the no-speech threshold it also marks silence.
    #[arg(long, default_value = "-1.0", value_parser = parse_optional, allow_hyphen_values = true)]
    pub logprob_threshold: OptionalNumber,
    /// A window is silence (skipped) when its no-speech probability is above this and its
    /// mean log-probability at or below --logprob-threshold (`none`: never).
    #[arg(long, default_value = "0.6", value_parser = parse_optional)]
    pub no_speech_threshold: OptionalNumber,
    /// A window whose loudest half second is below this level (dBFS) is silence and is not
    /// decoded (`none`: decode everything; Whisper invents words on digital silence).
    #[arg(long, default_value = "-70", value_parser = parse_optional, allow_hyphen_values = true)]
    pub silence_threshold_db: OptionalNumber,
    /// Transcribe only these stretches: start,end,start,end,... in seconds (the last end may
    /// be left out).
    #[arg(long, value_delimiter = ',')]
    pub clip_timestamps: Vec<f64>,
    /// Word-level timestamps (json "words", and per-word timing for srt/vtt highlighting):
    /// an extra pass of the full model per window over its final text.
    #[arg(long)]
    pub word_timestamps: bool,
    /// With --word-timestamps: skip silences longer than this many seconds around segments
    /// that look hallucinated (improbable, oddly long or short words).
    #[arg(long, requires = "word_timestamps")]
    pub hallucination_silence_threshold: Option<f64>,
    /// With --word-timestamps: most characters per subtitle line (srt, vtt).
    #[arg(long, requires = "word_timestamps")]
    pub max_line_width: Option<usize>,
    /// With --word-timestamps and --max-line-width: most lines per subtitle cue.
    #[arg(long, requires = "max_line_width")]
    pub max_line_count: Option<usize>,
    /// With --word-timestamps: one subtitle cue per word, the word underlined (srt, vtt).
    #[arg(long, requires = "word_timestamps")]
    pub highlight_words: bool,
    /// Beam search with this many beams at temperature 0 (greedy without it). Beams decode
    /// with the full model alone: speculative decoding verifies one sequence, not several.
    #[arg(long)]
    pub beam_size: Option<usize>,
    /// Beam search: finished candidates collected = beam size x patience.
    #[arg(long, default_value_t = 1.0, requires = "beam_size")]
    pub patience: f64,
    /// Candidates sampled per window at temperatures above 0; the most likely is kept.
    #[arg(long, default_value_t = 5)]
    pub best_of: usize,
    /// Prompt each window with the previous text (`false`: each window on its own).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub condition_on_previous_text: bool,
    /// Text that prompts the first window, as if said before it (names, spelling, style).
    #[arg(long)]
    pub initial_prompt: Option<String>,
    /// Prompt every window with --initial-prompt, ahead of the previous text.
    #[arg(long, requires = "initial_prompt")]
    pub carry_initial_prompt: bool,
    /// Text the transcript is forced to start with (first window; not repeated in the output).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Seed for sampling (same seed, same output).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also decode each window with the target alone; fail and print the first differing
    /// token if speculative decoding changed anything.
    #[arg(long)]
    pub verify: bool,
}

/// `--task` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskArg {
    /// Speech to text in the spoken language.
    Transcribe,
    /// Speech to English text.
    Translate,
}

/// Runs `whisper-spec transcribe`.
pub fn run(args: TranscribeArgs, verbose: u8) -> anyhow::Result<ExitCode> {
    setup::set_threads(args.threads)?;
    let formats = output::parse_formats(&args.output_format)?;
    if args.output_dir.is_none() {
        anyhow::ensure!(
            formats.len() == 1,
            "several output formats need --output-dir (stdout takes one)"
        );
        output::check_stdout(formats[0], args.files.len())?;
    }
    let language = setup::language(&args.language);
    let opts = TranscribeOptions {
        language,
        task: match args.task {
            TaskArg::Transcribe => Task::Transcribe,
            TaskArg::Translate => Task::Translate,
        },
        timestamps: !args.no_timestamps,
        temperature: args.temperature,
        temperature_increment: args
            .temperature_increment_on_fallback
            .0
            .filter(|x| *x > 0.0)
            .map(|x| x as f32),
        compression_ratio_threshold: args.compression_ratio_threshold.0,
        logprob_threshold: args.logprob_threshold.0,
        no_speech_threshold: args.no_speech_threshold.0,
        silence_db: args.silence_threshold_db.0,
        clip_timestamps: args.clip_timestamps.clone(),
        word_timestamps: args.word_timestamps,
        hallucination_silence_threshold: args.hallucination_silence_threshold,
        best_of: args.best_of,
        beam_size: args.beam_size,
        patience: args.patience,
        condition_on_previous_text: args.condition_on_previous_text,
        initial_prompt: args.initial_prompt.clone(),
        carry_initial_prompt: args.carry_initial_prompt,
        prefix: args.prefix.clone(),
        seed: args.seed,
        verify: args.verify,
        ..TranscribeOptions::default()
    };
    anyhow::ensure!(args.best_of >= 1, "--best-of must be at least 1");
    anyhow::ensure!(args.beam_size != Some(0), "--beam-size must be at least 1");
    anyhow::ensure!(
        args.patience > 0.0 && args.patience.is_finite(),
        "--patience must be above 0"
    );
    anyhow::ensure!(
        args.max_line_width != Some(0) && args.max_line_count != Some(0),
        "--max-line-width and --max-line-count must be at least 1"
    );
    let subtitles = output::SubtitleOptions {
        max_line_width: args.max_line_width,
        max_line_count: args.max_line_count,
        highlight_words: args.highlight_words,
    };
    anyhow::ensure!(
        args.clip_timestamps
            .iter()
            .all(|t| t.is_finite() && *t >= 0.0)
            && args.clip_timestamps.windows(2).all(|w| w[0] <= w[1]),
        "--clip-timestamps must be increasing seconds (start,end,start,end,...)"
    );
    anyhow::ensure!(
        args.temperature >= 0.0 && args.temperature.is_finite(),
        "--temperature must be 0 or more"
    );
    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output dir {}", dir.display()))?;
        // Two inputs with one stem (a/x.wav, b/x.mp3) would overwrite each other's outputs.
        let mut seen = std::collections::HashMap::new();
        for file in &args.files {
            let out = output::output_path(dir, &file.display().to_string(), formats[0])?;
            if let Some(other) = seen.insert(out.clone(), file) {
                anyhow::bail!(
                    "{} and {} would both write {}; transcribe them into different --output-dir",
                    other.display(),
                    file.display(),
                    out.display()
                );
            }
        }
    }

    let transcriber = setup::load_transcriber(&args.model, &args.draft, args.draft_tokens)?;
    transcriber.check_options(&opts)?;

    let mut failures = 0;
    for file in &args.files {
        let transcript = match transcriber.transcribe_file(file, &opts) {
            Ok(t) => t,
            Err(e) => {
                failures += 1;
                eprintln!("error: {e}");
                continue;
            }
        };
        if let Some(diff) = &transcript.stats.verify_difference {
            failures += 1;
            eprintln!(
                "error: {}: --verify: speculative output differs: {diff}",
                file.display()
            );
        }
        if verbose > 0 {
            let s = &transcript.stats;
            if let Some(d) = &s.draft {
                eprintln!(
                    "{}: draft {d}: {} of {} proposals accepted ({:.1} %), {} target calls for {} tokens",
                    transcript.file,
                    s.accepted_tokens,
                    s.draft_tokens,
                    100.0 * s.acceptance_rate,
                    s.target_calls,
                    s.tokens
                );
            }
            eprintln!(
                "{}: {:.1} s of audio in {:.2} s (RTF {:.3}; encoder {:.2} s, decoder {:.2} s, {} tokens), language {}",
                transcript.file,
                transcript.duration_s,
                s.wall_s,
                s.rtf,
                s.encoder_s,
                s.decoder_s,
                s.tokens,
                transcript.language
            );
        }
        match &args.output_dir {
            Some(dir) => match output::write_outputs_with(&transcript, &formats, dir, &subtitles) {
                Ok(paths) => {
                    for p in paths {
                        eprintln!("wrote {}", p.display());
                    }
                }
                Err(e) => {
                    failures += 1;
                    eprintln!("error: {}: {e}", file.display());
                }
            },
            None => {
                let mut out = std::io::stdout().lock();
                output::write_streamed_with(formats[0], &transcript, &subtitles, &mut out)
                    .and_then(|()| out.flush())
                    .context("cannot write to stdout")?;
            }
        }
    }
    Ok(if failures > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// A threshold or step that can be switched off: a number, or `none`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionalNumber(pub Option<f64>);

/// A number, or `none` (also `off`) for no value.
pub fn parse_optional(s: &str) -> Result<OptionalNumber, String> {
    match s.trim() {
        "none" | "off" | "None" => Ok(OptionalNumber(None)),
        x => x
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .map(|v| OptionalNumber(Some(v)))
            .ok_or_else(|| format!("expected a number or `none`, got '{x}'")),
    }
}
