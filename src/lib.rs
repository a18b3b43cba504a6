//! whisper-spec: Whisper speech-to-text on candle with exact speculative decoding.
//!
//! Data flows one way: [`audio`] (decode any file, resample to 16 kHz, log-mel) feeds the
//! Whisper models that [`model`] finds, fetches and imports. The binary `whisper-spec` is a thin
//! command-line layer over this library ([`cli`]).

pub mod audio;
pub mod cli;
pub mod error;
pub mod model;

pub use error::{Error, Result};
