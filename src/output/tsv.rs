//! Tab-separated values, as openai/whisper's `WriteTSV`: integer milliseconds, so a
//! spreadsheet or `awk` can use the times without parsing a timestamp format.

use std::io::{self, Write};

use super::clean::one_line;
use super::timestamp::span_millis;
use crate::transcript::Transcript;

/// Writes the header `start\tend\ttext`, then one row per segment: start and end in whole
/// milliseconds, the text on one line with each tab replaced by a space (so every row has
/// exactly three fields).
pub fn write_tsv<W: Write + ?Sized>(transcript: &Transcript, out: &mut W) -> io::Result<()> {
    writeln!(out, "start\tend\ttext")?;
    for segment in &transcript.segments {
        let (start, end) = span_millis(segment.start, segment.end);
        let text = one_line(&segment.text).replace('\t', " ");
        writeln!(out, "{start}\t{end}\t{text}")?;
    }
    Ok(())
}
