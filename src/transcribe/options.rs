//! Options of a transcription, with openai/whisper's defaults.

use crate::text::Task;
use crate::vad::VadOptions;

/// [`TranscribeOptions::window_step_budget`]'s default: three whole attempts of 224 steps.
pub const DEFAULT_WINDOW_STEP_BUDGET: usize = 3 * 224;

/// How to transcribe.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscribeOptions {
    /// Language code; `None` detects it on the first window (multilingual models) or means
    /// English (English-only models).
    pub language: Option<String>,
    /// Transcribe, or translate to English.
    pub task: Task,
    /// Decode timestamp tokens (segments with times inside each window).
    pub timestamps: bool,
    /// Prompt each window with the text of the previous ones.
    pub condition_on_previous_text: bool,
    /// A window is silence when its no-speech probability is above this...
    pub no_speech_threshold: Option<f64>,
    /// ...and its average log-probability below this. An attempt whose average
    /// log-probability is below this also falls back to a higher temperature.
    pub logprob_threshold: Option<f64>,
    /// A window whose loudest half second has an RMS level below this (dBFS) is silence and
    /// is not decoded: Whisper invents text (" you", "Thank you.") on digital silence, and
    /// openai/whisper's no-speech rule does not catch it when the invented text is likely
    /// enough. `None` decodes every window.
    pub silence_db: Option<f64>,
    /// Only these stretches of the audio, as start and end seconds in pairs (the last end may
    /// be left out: the end of the audio); empty = all of it (`--clip-timestamps`).
    pub clip_timestamps: Vec<f64>,
    /// Encode only the audio of a window plus this many seconds of the silence after it,
    /// instead of the full 30 s (whisper.cpp's `audio_ctx`). Whisper was trained on full
    /// windows, so text can differ from the default's; on short audio the encoder costs a
    /// fraction. `None` (the default): always 30 s, as openai/whisper.
    pub audio_context: Option<f64>,
    /// Word-level timestamps (an extra target pass per window over its final text).
    pub word_timestamps: bool,
    /// With word timestamps: skip silences longer than this (seconds) around segments that
    /// look hallucinated (openai `hallucination_silence_threshold`); `None`: off.
    pub hallucination_silence_threshold: Option<f64>,
    /// Most tokens sampled per window (openai: n_text_ctx / 2 = 224).
    pub sample_len: usize,
    /// A window's decode budget, in decoding steps over all its temperature-fallback
    /// attempts: a retry starts only while the steps already taken in the window plus one
    /// whole attempt (`sample_len`) fit in it; the first attempt always runs. openai/whisper
    /// has no such bound, and audio that fails every threshold (noise the voice activity
    /// detector let through, hostile input) is decoded at every temperature, each attempt to
    /// its length limit; the default (three whole attempts) halves that worst case. A window
    /// whose budget runs out on a repetition loop gives no text (see
    /// [`Attempt::is_unresolved_loop`](super::fallback::Attempt::is_unresolved_loop)).
    pub window_step_budget: usize,
    /// Temperature of each window's first attempt: 0 decodes greedily; above 0 samples from
    /// softmax(logits / temperature).
    pub temperature: f32,
    /// Temperature fallback: when an attempt looks wrong (see the two thresholds below), the
    /// window is decoded again at a temperature this much higher, up to 1.0; `None` = one
    /// attempt only.
    pub temperature_increment: Option<f32>,
    /// An attempt whose text compresses (zlib) by more than this is a repetition loop.
    pub compression_ratio_threshold: Option<f64>,
    /// Beam search at temperature 0 with this many beams (`None`: greedy).
    pub beam_size: Option<usize>,
    /// Beam search with this many beams for windows in a language other than English, where
    /// `beam_size` is `None` (the CLI's `--beam-size auto`: on the corpus, beam 5 and greedy
    /// give the same English WER, and beam 5 cuts the multilingual WER by about 5 points).
    pub beam_size_non_english: Option<usize>,
    /// Beam search collects `beam_size * patience` finished candidates (openai `patience`).
    pub patience: f64,
    /// With a draft, beam search is speculative: the draft's beam search proposes a token tree
    /// the target scores in one pass ([`decode_speculative_beam`], the same beams bit for bit).
    /// Off by default: on CPUs a beam step's rows already cost their multiply-adds, and the
    /// tree's extra rows cost more than the passes they save (README, "Beams and samples as
    /// rows").
    ///
    /// [`decode_speculative_beam`]: crate::decoding::speculative_beam::decode_speculative_beam
    pub speculative_beams: bool,
    /// Candidates sampled per attempt above temperature 0; the most likely (mean
    /// log-probability per token) is kept.
    pub best_of: usize,
    /// Text that prompts the first window, as if it had been said before (`--initial-prompt`).
    pub initial_prompt: Option<String>,
    /// Prompt every window with the initial prompt, ahead of the previous text.
    pub carry_initial_prompt: bool,
    /// Text the first window's transcript is forced to start with (it is not repeated in
    /// the output).
    pub prefix: Option<String>,
    /// Seed of the sampler (same seed, same samples).
    pub seed: u64,
    /// With a draft, also decode every window with the target alone and report the first
    /// token that differs.
    pub verify: bool,
    /// No temperature-fallback attempt starts after this instant: the first attempts past it
    /// stand (a live decode's time budget; `None` for files).
    pub fallback_deadline: Option<std::time::Instant>,
    /// Transcribe only what the voice activity detector calls speech, with these settings
    /// (`None`: all of the audio). Needs a transcriber with a VAD model
    /// ([`Transcriber::with_vad`](super::Transcriber::with_vad)).
    pub vad: Option<VadOptions>,
}

impl TranscribeOptions {
    /// The beams for a window in `language` (`None`: greedy).
    pub fn beams_for(&self, language: Option<&str>) -> Option<usize> {
        self.beam_size.or(self
            .beam_size_non_english
            .filter(|_| language.is_some_and(|l| l != "en")))
    }

    /// The temperatures of successive attempts: `temperature`, then up by the increment while
    /// at most 1.0 (openai/whisper: 0.0, 0.2, ..., 1.0).
    pub fn temperatures(&self) -> Vec<f32> {
        let mut out = vec![self.temperature];
        if let Some(step) = self.temperature_increment.filter(|s| *s > 0.0) {
            let mut i = 1;
            loop {
                let t = self.temperature + step * i as f32;
                if t > 1.0 + 1e-6 {
                    break;
                }
                out.push(t);
                i += 1;
            }
        }
        out
    }
}

impl Default for TranscribeOptions {
    fn default() -> Self {
        TranscribeOptions {
            language: None,
            task: Task::Transcribe,
            timestamps: true,
            condition_on_previous_text: true,
            no_speech_threshold: Some(0.6),
            logprob_threshold: Some(-1.0),
            silence_db: Some(-70.0),
            clip_timestamps: Vec::new(),
            audio_context: None,
            word_timestamps: false,
            hallucination_silence_threshold: None,
            sample_len: 224,
            window_step_budget: DEFAULT_WINDOW_STEP_BUDGET,
            temperature: 0.0,
            temperature_increment: Some(0.2),
            compression_ratio_threshold: Some(2.4),
            best_of: 5,
            beam_size: None,
            beam_size_non_english: None,
            patience: 1.0,
            speculative_beams: false,
            initial_prompt: None,
            carry_initial_prompt: false,
            prefix: None,
            seed: 0,
            verify: false,
            fallback_deadline: None,
            vad: None,
        }
    }
}
