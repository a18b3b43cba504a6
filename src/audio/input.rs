//! Where audio comes from: a file, or standard input (`-` on the command line, as for most Unix
//! tools), so that audio can be piped in:
//!
//! ```text
//! cat talk.mp3 | whisper-spec transcribe -m tiny.en -
//! ffmpeg -i talk.mkv -f wav - | whisper-spec transcribe -
//! ```
//!
//! Both are decoded the same way (same probe, checks, resampling and warnings); standard input
//! is first read whole into memory ([`super::stdin`]), since most containers need seeking.
//! Errors, warnings and transcripts name it [`STDIN_NAME`].

use std::fmt;
use std::path::{Path, PathBuf};

use super::decode::Decoder;
use super::{AudioError, stdin};

/// How standard input is named in errors, warnings and transcripts.
pub const STDIN_NAME: &str = "<stdin>";

/// The command-line argument that means standard input.
pub const STDIN_ARG: &str = "-";

/// One audio input of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AudioInput {
    /// A file, by its path.
    File(PathBuf),
    /// Standard input, read to its end.
    Stdin,
}

impl AudioInput {
    /// The input a command-line argument names: `-` is standard input, anything else a path
    /// (a file really called `-` is `./-`).
    pub fn from_arg(arg: impl Into<PathBuf>) -> Self {
        let path = arg.into();
        if path.as_os_str() == STDIN_ARG {
            AudioInput::Stdin
        } else {
            AudioInput::File(path)
        }
    }

    /// Whether this is standard input.
    pub fn is_stdin(&self) -> bool {
        matches!(self, AudioInput::Stdin)
    }

    /// The name errors and transcripts give this input: the path as given, or [`STDIN_NAME`].
    pub fn path(&self) -> &Path {
        match self {
            AudioInput::File(path) => path,
            AudioInput::Stdin => Path::new(STDIN_NAME),
        }
    }

    /// Opens a decoder on this input: the file ([`Decoder::open`]), or all of standard input
    /// ([`stdin::read_stdin`], then [`Decoder::from_bytes`]).
    pub fn open(&self) -> Result<Decoder, AudioError> {
        match self {
            AudioInput::File(path) => Decoder::open(path),
            AudioInput::Stdin => Decoder::from_bytes(STDIN_NAME, stdin::read_stdin()?),
        }
    }
}

impl fmt::Display for AudioInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.path().display().fmt(f)
    }
}
