//! Output to stdout, for pipes (`whisper-spec a.wav | less`, `... *.wav | jq`).
//!
//! The convention for several input files:
//! - txt: each file's lines, one after the other, with no separator;
//! - json: one compact object per file per line (JSON Lines), so `jq` and line tools work;
//! - srt, vtt, tsv: one file only. Each is a whole document (numbering, header), and no
//!   concatenation of two is a valid document; several files need an output directory. Call
//!   [`check_stdout`] before transcribing so the user hears that before the work, not after.

use std::io::{self, Write};

use super::json::write_json_line;
use super::{Format, OutputError, SubtitleOptions, write_with};
use crate::transcript::Transcript;

/// Whether `format` can go to stdout for `count` input files (see the module doc).
pub fn check_stdout(format: Format, count: usize) -> Result<(), OutputError> {
    match format {
        Format::Txt | Format::Json => Ok(()),
        Format::Srt | Format::Vtt | Format::Tsv if count <= 1 => Ok(()),
        Format::Srt | Format::Vtt | Format::Tsv => {
            Err(OutputError::StdoutNeedsOneFile { format, count })
        }
    }
}

/// One transcript in its stdout form: JSON as a single line, every other format as in a file.
/// For writing each file's result as soon as it is ready; [`check_stdout`] first.
pub fn write_streamed<W: Write + ?Sized>(
    format: Format,
    transcript: &Transcript,
    out: &mut W,
) -> io::Result<()> {
    write_streamed_with(format, transcript, &SubtitleOptions::default(), out)
}

/// [`write_streamed`] with subtitles cut by `subtitles`.
pub fn write_streamed_with<W: Write + ?Sized>(
    format: Format,
    transcript: &Transcript,
    subtitles: &SubtitleOptions,
    out: &mut W,
) -> io::Result<()> {
    match format {
        Format::Json => write_json_line(transcript, out),
        _ => write_with(format, transcript, subtitles, out),
    }
}

/// All `transcripts` in `format`'s stdout form to `out`, then flushes. Refuses, before writing
/// anything, what [`check_stdout`] refuses.
pub fn write_stream<W: Write + ?Sized>(
    format: Format,
    transcripts: &[Transcript],
    out: &mut W,
) -> Result<(), OutputError> {
    check_stdout(format, transcripts.len())?;
    for transcript in transcripts {
        write_streamed(format, transcript, out).map_err(OutputError::Stdout)?;
    }
    out.flush().map_err(OutputError::Stdout)
}

/// [`write_stream`] to the process's stdout (locked, buffered). A reader that went away
/// (`| head`) is not an error: there is nobody left to tell.
pub fn print(format: Format, transcripts: &[Transcript]) -> Result<(), OutputError> {
    let mut out = io::BufWriter::new(io::stdout().lock());
    match write_stream(format, transcripts, &mut out) {
        Err(OutputError::Stdout(e)) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
