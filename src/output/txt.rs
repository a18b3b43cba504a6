//! Plain text: one line per segment, as openai/whisper's `WriteTXT`.

use std::io::{self, Write};

use super::clean::one_line;
use crate::transcript::Transcript;

/// Writes each segment's text, trimmed, on its own line. Line breaks inside a segment become
/// spaces, so line *n* is always segment *n*. An empty transcript writes nothing.
pub fn write_txt<W: Write + ?Sized>(transcript: &Transcript, out: &mut W) -> io::Result<()> {
    for segment in &transcript.segments {
        writeln!(out, "{}", one_line(&segment.text))?;
    }
    Ok(())
}
