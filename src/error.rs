//! The crate's error type: one enum whose variants wrap each layer's own errors, so a caller can
//! match on the layer while every message still names the file and the cause.

use crate::audio::AudioError;
use crate::store::ModelError;

/// Anything that can go wrong in whisper-spec's library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Decoding, resampling or analysing audio failed.
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Opening or running a capture device failed.
    #[cfg(feature = "mic")]
    #[error(transparent)]
    Mic(#[from] crate::audio::mic::MicError),
    /// A tensor operation failed (shape mismatch, device error, context full).
    #[error("model computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
    /// A language, task or token problem (unknown language code, translate on an English-only
    /// model).
    #[error(transparent)]
    Text(#[from] crate::text::TextError),
    /// Writing a transcript failed.
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    /// Finding, fetching, importing or loading a model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Loading or running the voice activity detector failed.
    #[error(transparent)]
    Vad(#[from] crate::vad::VadError),
}

/// Result with the crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
