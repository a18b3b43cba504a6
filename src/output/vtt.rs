//! WebVTT subtitles, as openai/whisper's `WriteVTT`, with two deliberate differences: hours are
//! always shown (`00:00:01.500`, where openai writes `00:01.500` below one hour), so every
//! timestamp has one shape; and `&` and `<` are escaped, because in a WebVTT payload they start
//! character references and tags, and text like `AT&T <3` would otherwise be mangled by players.

use std::io::{self, Write};

use super::clean::cue_text;
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
    writeln!(out, "WEBVTT\n")?;
    for segment in &transcript.segments {
        let (start, end) = span_millis(segment.start, segment.end);
        writeln!(
            out,
            "{} --> {}\n{}\n",
            format_millis(start, '.'),
            format_millis(end, '.'),
            escape(&cue_text(&segment.text))
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
