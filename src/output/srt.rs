//! SubRip subtitles, as openai/whisper's `WriteSRT`: numbered cues, comma before the
//! milliseconds, hours always shown.

use std::io::{self, Write};

use super::cues::{SubtitleOptions, cues};
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
    write_srt_with(transcript, &SubtitleOptions::default(), out)
}

/// [`write_srt`] with cues cut by `opts` where the segments have word timings (see
/// [`cues`](super::cues)); a cue's lines are separated by line breaks.
pub fn write_srt_with<W: Write + ?Sized>(
    transcript: &Transcript,
    opts: &SubtitleOptions,
    out: &mut W,
) -> io::Result<()> {
    for (index, cue) in cues(&transcript.segments, opts, &str::to_string)
        .iter()
        .enumerate()
    {
        let (start, end) = span_millis(cue.start, cue.end);
        writeln!(
            out,
            "{}\n{} --> {}\n{}\n",
            index + 1,
            format_millis(start, ','),
            format_millis(end, ','),
            cue.text
        )?;
    }
    Ok(())
}
