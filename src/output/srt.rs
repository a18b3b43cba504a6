//! SubRip subtitles, as openai/whisper's `WriteSRT`: numbered cues, comma before the
//! milliseconds, hours always shown.

use std::io::{self, Write};

use super::clean::cue_text;
use super::timestamp::{format_millis, span_millis};
use crate::transcript::Transcript;

/// Writes one cue per segment, numbered from 1:
///
/// ```text
/// 1
/// 00:00:00,000 --> 00:00:02,500
/// Hello world.
///
/// ```
///
/// The text is trimmed, put on one line and has every `-->` turned into `->`, so a segment can
/// never end its cue early or fake a timing line. Segments with empty text still get
/// their (empty) cue, which keeps cue *n* = segment *n*.
pub fn write_srt<W: Write + ?Sized>(transcript: &Transcript, out: &mut W) -> io::Result<()> {
    for (index, segment) in transcript.segments.iter().enumerate() {
        let (start, end) = span_millis(segment.start, segment.end);
        writeln!(
            out,
            "{}\n{} --> {}\n{}\n",
            index + 1,
            format_millis(start, ','),
            format_millis(end, ','),
            cue_text(&segment.text)
        )?;
    }
    Ok(())
}
