//! Standard input read whole into memory, to be decoded like a file.
//!
//! symphonia seeks in most containers (a WAV's chunks, an MP4 whose `moov` comes last, the
//! probe's look ahead), and a pipe cannot seek; so the bytes are read to the end first and
//! decoded from memory. Two guards keep that safe:
//! - at most [`MAX_STDIN_BYTES`] are read: a runaway pipe (`yes | whisper-spec transcribe -`)
//!   is an error, not all of the machine's memory;
//! - a terminal is refused at once: nobody types audio, and waiting for an end of file the
//!   user does not know to send looks like a hang.

use std::io::{IsTerminal, Read};

use super::AudioError;
use super::input::STDIN_NAME;

/// Most bytes read from standard input: 2 GiB, over 18 hours of 16 kHz mono 16-bit WAV and
/// days of compressed audio. Larger input must be given as a file, which is streamed.
pub const MAX_STDIN_BYTES: u64 = 2 << 30;

/// All of standard input, after [`refuse_terminal`], at most [`MAX_STDIN_BYTES`].
pub fn read_stdin() -> Result<Vec<u8>, AudioError> {
    refuse_terminal()?;
    read_bounded(std::io::stdin().lock(), MAX_STDIN_BYTES)
}

/// Fails with [`AudioError::Terminal`] when standard input is a terminal. Commands call it
/// before any slow work (loading a model), so the mistake is reported at once.
pub fn refuse_terminal() -> Result<(), AudioError> {
    if std::io::stdin().is_terminal() {
        return Err(AudioError::Terminal {
            path: STDIN_NAME.into(),
        });
    }
    Ok(())
}

/// Everything `reader` yields, named [`STDIN_NAME`] in errors: [`AudioError::InputTooLarge`]
/// as soon as it passes `limit` bytes, [`AudioError::Io`] when reading fails (an allocation
/// failure included). An empty result is not an error here; the decoder refuses it.
pub fn read_bounded(reader: impl Read, limit: u64) -> Result<Vec<u8>, AudioError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| AudioError::Io {
            path: STDIN_NAME.into(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(AudioError::InputTooLarge {
            path: STDIN_NAME.into(),
            limit_bytes: limit,
        });
    }
    Ok(bytes)
}
