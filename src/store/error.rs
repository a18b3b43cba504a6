//! Errors of the model store. Every variant names the file, directory or model it is about,
//! because "file not found" without a path is useless to someone with forty models on disk.

use std::path::PathBuf;

/// What can go wrong while finding, fetching, importing or loading a model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A CTranslate2 `model.bin` is malformed: wrong magic, truncated, inconsistent.
    #[error("{path}: not a valid CTranslate2 Whisper model: {reason}")]
    Ct2Format {
        /// The model.bin file.
        path: PathBuf,
        /// What exactly is wrong, with byte offsets where they help.
        reason: String,
    },
    /// A model directory lacks a file it needs.
    #[error("{dir}: missing {file} ({why})")]
    MissingFile {
        /// The model directory.
        dir: PathBuf,
        /// The missing file's name.
        file: String,
        /// Why the file is needed.
        why: &'static str,
    },
    /// A path given as a model is neither a Hugging Face nor a CTranslate2 model directory.
    #[error(
        "{path}: not a model directory (expected config.json + model.safetensors + tokenizer.json, \
         or a CTranslate2 dir with model.bin + config.json + tokenizer.json)"
    )]
    UnknownLayout {
        /// The path that was given.
        path: PathBuf,
    },
    /// A file of a model is present but its content is wrong (bad JSON, wrong tensor shape, ...).
    #[error("{path}: {reason}")]
    Invalid {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A model name is neither a path nor in the catalog.
    #[error(
        "unknown model '{name}': not a directory and not in the catalog (see `whisper-spec models list`)"
    )]
    UnknownModel {
        /// The name that was asked for.
        name: String,
    },
    /// A model could not be found locally and could not be fetched.
    #[error("model '{name}' is not available: {reason}")]
    Unavailable {
        /// The model name.
        name: String,
        /// Every source tried, and why each failed.
        reason: String,
    },
}

impl ModelError {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ModelError::Io {
            path: path.into(),
            source,
        }
    }

    /// A malformed CTranslate2 file.
    pub fn ct2(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ModelError::Ct2Format {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A file with wrong content.
    pub fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        ModelError::Invalid {
            path: path.into(),
            reason: reason.into(),
        }
    }
}
