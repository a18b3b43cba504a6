//! Writing transcripts: txt, json, srt, vtt and tsv, to files or stdout.
//!
//! Behaviour follows openai/whisper's writers (`whisper/utils.py`), with the differences each
//! module states. Every writer takes a [`Transcript`] and any [`Write`]; all times go through
//! one formatter ([`timestamp`]) and all text through one cleaner (`clean`), so the formats
//! agree with each other:
//! - times are rounded to the millisecond (half up, see [`timestamp::to_millis`]), negative
//!   times clamp to 0, and an end before its start is raised to the start;
//! - text is trimmed and kept on one line (subtitle cues built from word timings may have
//!   several lines: [`cues`]); subtitle text never contains `-->`.
//!
//! Files are written atomically ([`write_file`]): a file named `x.srt` is always complete.

mod atomic;
pub mod captions;
mod clean;
pub mod cues;
mod error;
mod files;
mod format;
mod json;
mod srt;
mod stream;
pub mod timestamp;
mod tsv;
mod txt;
mod vtt;

use std::io::{self, Write};

pub use atomic::{left_by_dead_writer, write_file, writer_tag};
pub use cues::SubtitleOptions;
pub use error::OutputError;
pub use files::{output_path, write_outputs, write_outputs_with};
pub use format::{Format, parse_formats};
pub use json::{write_json, write_json_line};
pub use srt::{write_srt, write_srt_with};
pub use stream::{check_stdout, print, write_stream, write_streamed, write_streamed_with};
pub use tsv::write_tsv;
pub use txt::write_txt;
pub use vtt::{write_vtt, write_vtt_with};

use crate::transcript::Transcript;

/// Writes `transcript` in `format`, in the form for a file of that format (JSON indented).
pub fn write<W: Write + ?Sized>(
    format: Format,
    transcript: &Transcript,
    out: &mut W,
) -> io::Result<()> {
    write_with(format, transcript, &SubtitleOptions::default(), out)
}

/// [`write`] with subtitles (srt, vtt) cut by `subtitles`.
pub fn write_with<W: Write + ?Sized>(
    format: Format,
    transcript: &Transcript,
    subtitles: &SubtitleOptions,
    out: &mut W,
) -> io::Result<()> {
    match format {
        Format::Txt => write_txt(transcript, out),
        Format::Json => write_json(transcript, out),
        Format::Srt => write_srt_with(transcript, subtitles, out),
        Format::Vtt => write_vtt_with(transcript, subtitles, out),
        Format::Tsv => write_tsv(transcript, out),
    }
}
