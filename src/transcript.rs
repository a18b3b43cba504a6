//! The result of transcribing one file: what every writer (txt, srt, vtt, tsv, json) and every
//! tool reading our JSON sees. Field names are part of the interface: keep them stable.

use serde::{Deserialize, Serialize};

/// One file's transcript.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// The input file, as given.
    pub file: String,
    /// The model used (name or path, as given).
    pub model: String,
    /// Language code (`en`, `de`, ...), detected or given.
    pub language: String,
    /// The detected language's probability (first window), when it was detected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language_probability: Option<f64>,
    /// Audio duration in seconds.
    pub duration_s: f64,
    /// The whole text (segments joined, trimmed).
    pub text: String,
    /// Timed segments, in order.
    pub segments: Vec<Segment>,
    /// Where the time went.
    pub stats: Stats,
}

/// A stretch of speech with its text.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// Start in seconds from the beginning of the file.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// Text, with Whisper's leading space where it has one.
    pub text: String,
    /// Token ids (text and timestamp tokens, no special tokens).
    pub tokens: Vec<u32>,
    /// Mean log-probability of the window's sampled tokens (from the target model).
    pub avg_logprob: f64,
    /// Probability of the no-speech token at the start of the window.
    pub no_speech_prob: f64,
    /// Temperature of the attempt that produced the window (0 = greedy).
    #[serde(default)]
    pub temperature: f32,
    /// zlib compression ratio of the window's text (above 2.4: a repetition loop).
    #[serde(default)]
    pub compression_ratio: f64,
    /// Word-level timings (with `--word-timestamps`; empty otherwise).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub words: Vec<Word>,
}

/// A word and when it was said.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word, with its leading space and attached punctuation.
    pub word: String,
    /// Start in seconds from the beginning of the file.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// Mean probability of its tokens (target model).
    pub probability: f64,
}

/// Timing of one file's transcription.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Wall time for this file (decode + mel + encoder + decoder), seconds.
    pub wall_s: f64,
    /// Real-time factor: wall time / audio duration.
    pub rtf: f64,
    /// Time in the audio encoder, seconds.
    pub encoder_s: f64,
    /// Time in the text decoder (all forward passes and filters), seconds.
    pub decoder_s: f64,
    /// Tokens generated.
    pub tokens: usize,
    /// The speculative draft, when one was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draft: Option<String>,
    /// Target decoder forward passes.
    #[serde(default)]
    pub target_calls: usize,
    /// Tokens the draft proposed.
    #[serde(default)]
    pub draft_tokens: usize,
    /// Proposals the target accepted.
    #[serde(default)]
    pub accepted_tokens: usize,
    /// accepted_tokens / draft_tokens (0 without a draft).
    #[serde(default)]
    pub acceptance_rate: f64,
    /// Time in the voice activity detector, seconds (0 without it).
    #[serde(default)]
    pub vad_s: f64,
    /// Seconds of audio the voice activity detector kept as speech (absent without it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speech_s: Option<f64>,
    /// Segments dropped for repeating the text just before them over audio the voice activity
    /// detector calls non-speech (a loop, not speech; see `transcribe::repeat_guard`).
    #[serde(default)]
    pub dropped_repeats: usize,
    /// Temperature-fallback retries over all windows (attempts after each window's first).
    #[serde(default)]
    pub fallbacks: usize,
    /// Windows that wanted another retry when a whole attempt no longer fitted in their step
    /// budget (`--window-step-budget`): their last attempt stood.
    #[serde(default)]
    pub out_of_budget_windows: usize,
    /// With `--verify`: the first difference between what was decoded (speculative, batched
    /// beams or candidates) and the target decoding the same attempt alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_difference: Option<String>,
    /// With a draft on a device whose multi-token decoder passes are not bit for bit its
    /// one-token steps: what the load-time check found (the text may then differ from the
    /// target alone's where two tokens nearly tie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exactness_warning: Option<String>,
    /// The CPU kernels' instruction set (`avx512+vnni`, `avx2`, `portable`, ...; see
    /// `WHISPER_SPEC_ISA`): exactness and speed claims hold per instruction set.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kernels: String,
    /// Every speculation round (`--show-drafts`, the server's page); not written to outputs.
    #[serde(skip)]
    pub rounds: Vec<crate::decoding::speculative::DraftRound>,
}
