//! WebVTT subtitles, as openai/whisper's `WriteVTT`, with two deliberate differences: hours are
//! always shown (`00:00:01.500`, where openai writes `00:01.500` below one hour), so every
//! timestamp has one shape; and `&` and `<` are escaped, because in a WebVTT payload they start
//! character references and tags, and text like `AT&T <3` would otherwise be mangled by players.

use std::io::{self, Write};

use super::cues::{SubtitleOptions, cues};
use super::timestamp::{format_millis, span_millis};
use crate::transcript::Transcript;

/// Writes the `WEBVTT` header, a blank line, then one cue per segment:
///
/// ```text
/// WEBVTT
///
/// 00:00:00.000 --> 00:00:02.500
/// Hello world.
///
/// ```
///
/// Cue text is trimmed, on one line, with every `-->` turned into `->` and `&` and `<` written
/// as `&amp;` and `&lt;`.
pub fn write_vtt<W: Write + ?Sized>(transcript: &Transcript, out: &mut W) -> io::Result<()> {
    write_vtt_with(transcript, &SubtitleOptions::default(), out)
}

/// [`write_vtt`] with cues cut by `opts` where the segments have word timings (see
/// [`cues`](super::cues)); highlighted words are wrapped in `<u>` tags, the text escaped.
pub fn write_vtt_with<W: Write + ?Sized>(
    transcript: &Transcript,
    opts: &SubtitleOptions,
    out: &mut W,
) -> io::Result<()> {
    writeln!(out, "WEBVTT\n")?;
    for cue in cues(&transcript.segments, opts, &escape) {
        let (start, end) = span_millis(cue.start, cue.end);
        writeln!(
            out,
            "{} --> {}\n{}\n",
            format_millis(start, '.'),
            format_millis(end, '.'),
            cue.text
        )?;
    }
    Ok(())
}

/// WebVTT cue text escaping of the two characters the spec reserves (`>` is allowed as is).
/// `&` first, so the `&` of `&lt;` is not escaped again.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(super::escape("AT&T <3 ->"), "AT&amp;T &lt;3 ->");
    }
}
