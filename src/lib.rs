//! whisper-spec: Whisper speech-to-text on candle with exact speculative decoding.
//!
//! Data flows one way: [`audio`] (decode any file, resample to 16 kHz, log-mel) feeds the
//! Whisper models that [`model`] finds, fetches and imports. The binary `whisper-spec` is a thin
//! command-line layer over this library ([`cli`]).

pub mod audio;
pub mod batch;
pub mod cli;
pub mod decoding;
pub mod error;
pub mod math;
pub mod model;
pub mod output;
mod simd;
pub mod text;
pub mod transcribe;
pub mod transcript;

pub use error::{Error, Result};
pub use transcribe::{TranscribeOptions, Transcriber};
pub use transcript::{Segment, Stats, Transcript, Word};
