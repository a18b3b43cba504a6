//! Options of a transcription, with openai/whisper's defaults.

use crate::text::Task;

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
    /// ...and its average log-probability below this.
    pub logprob_threshold: Option<f64>,
    /// Most tokens sampled per window (openai: n_text_ctx / 2 = 224).
    pub sample_len: usize,
    /// 0 decodes greedily; above 0 samples from softmax(logits / temperature).
    pub temperature: f32,
    /// Seed of the sampler (same seed, same samples).
    pub seed: u64,
    /// With a draft, also decode every window with the target alone and report the first
    /// token that differs.
    pub verify: bool,
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
            sample_len: 224,
            temperature: 0.0,
            seed: 0,
            verify: false,
        }
    }
}
