//! Errors of the output layer. Each names the format, file or directory it is about: "Permission
//! denied" alone does not tell a user which of five outputs in which directory failed.

use std::io;
use std::path::PathBuf;

use super::Format;

/// What can go wrong while choosing formats or writing transcripts.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A format name that is not one of ours.
    #[error("unknown output format '{0}' (expected txt, json, srt, vtt, tsv or all)")]
    UnknownFormat(String),
    /// The output directory does not exist and could not be created (or is not a directory).
    #[error("cannot create output directory {dir}: {source}")]
    CreateDir {
        /// The directory asked for.
        dir: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// No temporary file could be made beside the target: usually the directory is read-only,
    /// full, or missing.
    #[error("cannot write {path}: cannot create a temporary file in {dir}: {source}")]
    TempFile {
        /// The file that was to be written.
        path: PathBuf,
        /// The directory the temporary file was to go in.
        dir: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Writing, syncing or renaming into place failed; the target is left as it was.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file that was to be written.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The input's name has no file stem to name its outputs after (e.g. an empty name).
    #[error("cannot name the output for input '{file}': it has no file name")]
    NoFileName {
        /// The input, as the transcript records it.
        file: String,
    },
    /// Subtitle and table formats are whole documents: several of them concatenated on stdout
    /// would not be one valid file.
    #[error(
        "{format} output to stdout takes one input file, got {count}; \
         use an output directory for several files"
    )]
    StdoutNeedsOneFile {
        /// The format asked for.
        format: Format,
        /// How many transcripts there were.
        count: usize,
    },
    /// Writing to standard output failed (other than the reader going away).
    #[error("cannot write to stdout: {0}")]
    Stdout(#[source] io::Error),
}
