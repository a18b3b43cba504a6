//! whisper-spec: Whisper speech-to-text on candle with exact speculative decoding.
//!
//! Data flows one way: [`audio`] (decode any file, resample to 16 kHz, log-mel) feeds the
//! Whisper network of [`model`] (its CPU compute in [`kernels`]), loaded from the models that
//! [`store`] finds, fetches and imports; [`decoding`] turns its logits into tokens and
//! [`transcribe`] runs windows over whole files and live audio; [`vad`] finds the speech in a
//! file so that pauses, music and room tone are never transcribed. The binary `whisper-spec` is a thin
//! command-line layer over this library ([`cli`]).

pub mod audio;
pub mod batch;
pub mod cli;
pub mod decoding;
pub mod error;
pub mod fuzzing;
pub mod kernels;
pub mod model;
pub mod objects;
pub mod output;
pub mod serve;
pub mod store;
pub mod text;
pub mod transcribe;
pub mod transcript;
pub mod vad;

pub use error::{Error, Result};
pub use transcribe::{TranscribeOptions, Transcriber};
pub use transcript::{Segment, Stats, Transcript, Word};
