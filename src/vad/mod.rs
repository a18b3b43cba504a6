//! Voice activity detection: which parts of a file are speech, so that Whisper never sees long
//! pauses, music or room tone, over which it invents or repeats text.
//!
//! [`SileroVad`] is the Silero VAD v6 network (the `silero_vad_v6.onnx` that faster-whisper
//! ships, obtained by [`crate::store::Store::fetch_vad`]) written on candle; it gives one speech
//! probability per 512-sample chunk of 16 kHz audio. [`speech_regions`] turns those into
//! sample ranges with faster-whisper's options ([`VadOptions`]).

mod error;
pub mod onnx;
mod regions;
mod silero;

pub use error::VadError;
pub use regions::{
    MIN_CUT_S, ONSET_FLOOR, ONSET_MAX_S, VadOptions, keep_short_gaps, speech_regions,
    start_at_onsets,
};
pub use silero::{SileroVad, VadState};

/// Sample rate the network was trained for.
pub const SAMPLE_RATE: u32 = crate::audio::SAMPLE_RATE;
/// Samples per chunk: one probability each (32 ms at 16 kHz).
pub const CHUNK_SAMPLES: usize = 512;
/// Samples of the previous chunk the network sees before each chunk.
pub const CONTEXT_SAMPLES: usize = 64;
