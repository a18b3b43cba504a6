//! The decoding flags `transcribe` and `batch` share (language, timestamps, fallback,
//! prompts, word timings, subtitles), and their check and translation into
//! [`TranscribeOptions`]: one definition, so the two commands cannot drift apart.

use clap::Args;

use super::{ranges, setup};
use crate::output::SubtitleOptions;
use crate::text::Task;
use crate::transcribe::{DEFAULT_WINDOW_STEP_BUDGET, TranscribeOptions};

/// How to decode: every flag that changes the transcript (and the subtitle layout).
#[derive(Debug, Clone, Args)]
pub struct DecodeArgs {
    /// Spoken language (code such as `en`, or a name such as `German`), or `auto` to detect it
    /// on the first 30 s (multilingual models).
    #[arg(short, long, default_value = "auto", value_parser = ranges::language)]
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
    /// Temperature of each window's first attempt; 0 decodes greedily.
    #[arg(long, default_value_t = 0.0, value_parser = ranges::temperature)]
    pub temperature: f32,
    /// Temperature fallback: retry a window that fails the thresholds below this much hotter,
    /// up to 1.0 (`none` or 0: no retry).
    #[arg(long, default_value = "0.2", value_parser = ranges::temperature_increment)]
    pub temperature_increment_on_fallback: OptionalNumber,
    /// Retry a window whose text compresses (zlib) better than this: a repetition loop
    /// (`none`: never).
    #[arg(long, default_value = "2.4", value_parser = ranges::compression_ratio)]
    pub compression_ratio_threshold: OptionalNumber,
    /// Retry a window whose mean token log-probability is below this (`none`: never); with
    /// the no-speech threshold it also marks silence.
    #[arg(long, default_value = "-1.0", value_parser = ranges::logprob, allow_hyphen_values = true)]
    pub logprob_threshold: OptionalNumber,
    /// A window is silence (skipped) when its no-speech probability is above this and its
    /// mean log-probability at or below --logprob-threshold (`none`: never).
    #[arg(long, default_value = "0.6", value_parser = ranges::probability_threshold)]
    pub no_speech_threshold: OptionalNumber,
    /// A window whose loudest half second is below this level (dBFS) is silence and is not
    /// decoded (`none`: decode everything; Whisper invents words on digital silence).
    #[arg(long, default_value = "-70", value_parser = ranges::optional_level_db, allow_hyphen_values = true)]
    pub silence_threshold_db: OptionalNumber,
    /// Encode each window's audio plus this many seconds of silence instead of a full 30 s
    /// window (`none`, the default: full windows, as openai/whisper). Much faster on short
    /// files, whose windows are mostly padding; the text can differ (en_read, base: WER 6.06
    /// with 5, 5.69 without).
    #[arg(long, default_value = "none", value_parser = ranges::audio_context)]
    pub audio_context: OptionalNumber,
    /// Transcribe only these stretches: start,end,start,end,... in seconds (the last end may
    /// be left out).
    #[arg(long, value_delimiter = ',', value_parser = ranges::seconds)]
    pub clip_timestamps: Vec<f64>,
    /// Word-level timestamps (json "words", and per-word timing for srt/vtt highlighting):
    /// an extra pass of the full model per window over its final text.
    #[arg(long)]
    pub word_timestamps: bool,
    /// With --word-timestamps: skip silences longer than this many seconds around segments
    /// that look hallucinated (improbable, oddly long or short words).
    #[arg(long, requires = "word_timestamps", value_parser = ranges::positive_seconds)]
    pub hallucination_silence_threshold: Option<f64>,
    /// With --word-timestamps: most characters per subtitle line (srt, vtt).
    #[arg(long, requires = "word_timestamps", value_parser = ranges::line_width)]
    pub max_line_width: Option<usize>,
    /// With --word-timestamps and --max-line-width: most lines per subtitle cue.
    #[arg(long, requires = "max_line_width", value_parser = ranges::line_count)]
    pub max_line_count: Option<usize>,
    /// With --word-timestamps: one subtitle cue per word, the word underlined (srt, vtt).
    #[arg(long, requires = "word_timestamps")]
    pub highlight_words: bool,
    /// Decoding at temperature 0: `auto` (greedy for English, beam search with 5 beams for
    /// other languages: on the corpus, beam 5 gives English the same WER as greedy in 1.2-1.5x
    /// the time, and cuts the multilingual WER by about 5 points), `greedy`, or beam search
    /// with this many beams for every language. All live beams go through one pass per step.
    #[arg(long, default_value = "auto", value_parser = ranges::beam_size)]
    pub beam_size: BeamSize,
    /// Beam search: finished candidates collected = beam size x patience.
    #[arg(long, default_value_t = 1.0, requires = "beam_size", value_parser = ranges::patience)]
    pub patience: f64,
    /// Beam search with the draft: the draft's beam search proposes a token tree that the
    /// target scores in one pass, and the target's search is replayed on it (the same beams,
    /// bit for bit). Slower than plain beams on CPUs (see the README).
    #[arg(long)]
    pub speculative_beams: bool,
    /// A window's decoding steps over all its fallback attempts: a retry starts only while one
    /// whole attempt (224 steps) still fits, so audio that fails every threshold (noise, music
    /// the VAD let through) costs three attempts, not six. openai/whisper has no such bound.
    #[arg(long, default_value_t = DEFAULT_WINDOW_STEP_BUDGET, value_parser = ranges::window_step_budget)]
    pub window_step_budget: usize,
    /// Candidates sampled per window at temperatures above 0; the most likely is kept.
    #[arg(long, default_value_t = 5, value_parser = ranges::candidates)]
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
    /// Also decode every attempt of every window (greedy, beam, each sampled candidate) with
    /// the target alone (beams one at a time); fail and print the first difference in tokens
    /// or log-probability if speculation or batching changed anything.
    #[arg(long)]
    pub verify: bool,
}

/// Beams for other languages than English with `--beam-size auto`.
pub const AUTO_NON_ENGLISH_BEAMS: usize = 5;

/// `--beam-size` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeamSize {
    /// Greedy for English, beam search for other languages.
    Auto,
    /// Greedy for every language.
    Greedy,
    /// Beam search with this many beams for every language.
    Beams(usize),
}

/// `--task` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TaskArg {
    /// Speech to text in the spoken language.
    Transcribe,
    /// Speech to English text.
    Translate,
}

impl DecodeArgs {
    /// Checks the flags against each other and builds the options.
    pub fn options(&self) -> anyhow::Result<TranscribeOptions> {
        anyhow::ensure!(self.best_of >= 1, "--best-of must be at least 1");
        anyhow::ensure!(
            self.patience > 0.0 && self.patience.is_finite(),
            "--patience must be above 0"
        );
        anyhow::ensure!(
            self.max_line_width != Some(0) && self.max_line_count != Some(0),
            "--max-line-width and --max-line-count must be at least 1"
        );
        anyhow::ensure!(
            self.clip_timestamps
                .iter()
                .all(|t| t.is_finite() && *t >= 0.0)
                && self.clip_timestamps.windows(2).all(|w| w[0] <= w[1]),
            "--clip-timestamps must be increasing seconds (start,end,start,end,...)"
        );
        anyhow::ensure!(
            self.temperature >= 0.0 && self.temperature.is_finite(),
            "--temperature must be 0 or more"
        );
        anyhow::ensure!(
            self.audio_context.0.is_none_or(|s| s >= 0.0),
            "--audio-context must be 0 or more seconds (or none)"
        );
        Ok(TranscribeOptions {
            language: setup::language(&self.language),
            task: match self.task {
                TaskArg::Transcribe => Task::Transcribe,
                TaskArg::Translate => Task::Translate,
            },
            timestamps: !self.no_timestamps,
            temperature: self.temperature,
            temperature_increment: self
                .temperature_increment_on_fallback
                .0
                .filter(|x| *x > 0.0)
                .map(|x| x as f32),
            compression_ratio_threshold: self.compression_ratio_threshold.0,
            logprob_threshold: self.logprob_threshold.0,
            no_speech_threshold: self.no_speech_threshold.0,
            silence_db: self.silence_threshold_db.0,
            audio_context: self.audio_context.0,
            clip_timestamps: self.clip_timestamps.clone(),
            word_timestamps: self.word_timestamps,
            hallucination_silence_threshold: self.hallucination_silence_threshold,
            best_of: self.best_of,
            window_step_budget: self.window_step_budget,
            beam_size: match self.beam_size {
                BeamSize::Beams(n) => Some(n),
                BeamSize::Auto | BeamSize::Greedy => None,
            },
            beam_size_non_english: match self.beam_size {
                BeamSize::Auto => Some(AUTO_NON_ENGLISH_BEAMS),
                BeamSize::Greedy | BeamSize::Beams(_) => None,
            },
            patience: self.patience,
            speculative_beams: self.speculative_beams,
            condition_on_previous_text: self.condition_on_previous_text,
            initial_prompt: self.initial_prompt.clone(),
            carry_initial_prompt: self.carry_initial_prompt,
            prefix: self.prefix.clone(),
            seed: self.seed,
            verify: self.verify,
            ..TranscribeOptions::default()
        })
    }

    /// How srt and vtt cues are cut.
    pub fn subtitles(&self) -> SubtitleOptions {
        SubtitleOptions {
            max_line_width: self.max_line_width,
            max_line_count: self.max_line_count,
            highlight_words: self.highlight_words,
        }
    }
}

/// A threshold or step that can be switched off: a number, or `none`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptionalNumber(pub Option<f64>);
