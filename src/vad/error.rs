//! Errors of the voice activity detector. Every variant names the model file it is about.

use std::path::PathBuf;

/// What can go wrong while loading or running the Silero VAD.
#[derive(Debug, thiserror::Error)]
pub enum VadError {
    /// The model file could not be read.
    #[error("{path}: cannot read the VAD model: {source}")]
    Io {
        /// The .onnx file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The file is not an ONNX protobuf we can parse (truncated, wrong wire types).
    #[error("{path}: not a valid ONNX file: {reason}")]
    Format {
        /// The .onnx file.
        path: PathBuf,
        /// What exactly is wrong, with the byte offset where it helps.
        reason: String,
    },
    /// The file parses but is not the Silero VAD v6 network we implement (other operators, a
    /// missing or misshapen weight).
    #[error("{path}: not the Silero VAD v6 network: {reason}")]
    Graph {
        /// The .onnx file.
        path: PathBuf,
        /// Which operator or weight differs.
        reason: String,
    },
    /// Options asked for voice activity detection from a transcriber that has no VAD model.
    #[error("voice activity detection was asked for, but no VAD model is loaded")]
    NotLoaded,
    /// A tensor operation failed.
    #[error("VAD computation failed: {0}")]
    Tensor(#[from] candle_core::Error),
}
