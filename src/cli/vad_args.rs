//! The voice activity detection flags `transcribe`, `batch` and `caption` share: on by
//! default (Silero VAD, faster-whisper's settings), `--no-vad` to transcribe everything.

use clap::Args;

use crate::store::Store;
use crate::transcribe::Transcriber;
use crate::vad::{SileroVad, VadOptions};

/// Speech probability at or above which a chunk is speech. faster-whisper uses 0.5; after a
/// few minutes of room tone Silero's probabilities on the next speech stay between 0.3 and 0.5
/// for seconds (JFK's sentence after 3 minutes of -50 dBFS noise: 0.5 loses five of its 22
/// words, 0.35 none), while room tone, hiss and silence stay under 0.1.
pub const DEFAULT_THRESHOLD: f64 = 0.35;

/// Audio kept on each side of a stretch of speech (ms). faster-whisper keeps 400; the VAD
/// wakes up late on a first word after a long pause ("And" of that sentence), and 800 ms keeps
/// it, at the cost of 0.8 s more audio per stretch.
pub const DEFAULT_SPEECH_PAD_MS: u32 = 800;

/// Which audio is speech.
#[derive(Debug, Clone, Args)]
pub struct VadArgs {
    /// Transcribe all of the audio: no voice activity detection (by default the Silero VAD
    /// finds the speech, and pauses, music and room tone are never decoded).
    #[arg(long)]
    pub no_vad: bool,
    /// Speech probability at or above which a 32 ms chunk is speech.
    #[arg(long, default_value_t = DEFAULT_THRESHOLD, value_parser = super::ranges::vad_threshold)]
    pub vad_threshold: f64,
    /// Speech shorter than this (ms) is dropped.
    #[arg(long, default_value_t = VadOptions::default().min_speech_duration_ms, value_parser = super::ranges::vad_ms)]
    pub vad_min_speech_ms: u32,
    /// Silence that ends a stretch of speech (ms); shorter pauses stay inside it.
    #[arg(long, default_value_t = VadOptions::default().min_silence_duration_ms, value_parser = super::ranges::vad_ms)]
    pub vad_min_silence_ms: u32,
    /// Audio kept on each side of a stretch of speech (ms).
    #[arg(long, default_value_t = DEFAULT_SPEECH_PAD_MS, value_parser = super::ranges::vad_ms)]
    pub vad_speech_pad_ms: u32,
    /// Stretches of speech longer than this (seconds) are split, at a pause where there is one.
    #[arg(long, value_parser = super::ranges::positive_seconds)]
    pub vad_max_speech_s: Option<f64>,
}

impl VadArgs {
    /// The detector's settings, or `None` with `--no-vad`.
    pub fn options(&self) -> Option<VadOptions> {
        (!self.no_vad).then(|| VadOptions {
            threshold: self.vad_threshold,
            min_speech_duration_ms: self.vad_min_speech_ms,
            min_silence_duration_ms: self.vad_min_silence_ms,
            speech_pad_ms: self.vad_speech_pad_ms,
            max_speech_duration_s: self.vad_max_speech_s.unwrap_or(f64::INFINITY),
            ..VadOptions::default()
        })
    }

    /// `transcriber` with the Silero VAD loaded (fetched into the model store on first use),
    /// unless `--no-vad`.
    pub fn attach(&self, transcriber: Transcriber) -> anyhow::Result<Transcriber> {
        if self.no_vad {
            return Ok(transcriber);
        }
        let path = Store::from_env().fetch_vad()?;
        Ok(transcriber.with_vad(Some(SileroVad::load(&path)?)))
    }
}
