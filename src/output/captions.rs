//! Live captions: committed words grouped into lines ([`LineBuilder`]) and appended, line by
//! line, to a caption file ([`CaptionFile`]: srt, vtt, txt or jsonl).
//!
//! Unlike the transcript writers, a caption file is not written atomically at the end: a live
//! session can last hours and must not lose its captions to a crash or a pulled plug. Each cue
//! is written with one `write` and flushed, so the file always holds every finished line, each
//! complete; the line being spoken when a session dies is all that can be missing.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use super::clean::cue_text;
use super::timestamp::{format_millis, span_millis};
use crate::transcribe::agreement::LiveWord;

/// A finished caption line.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaptionLine {
    /// Start, seconds from the start of the session.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The text, trimmed.
    pub text: String,
}

/// Groups committed words into lines: a line ends at the end of a Whisper segment, before a
/// pause, or before it would grow past a width.
#[derive(Debug, Clone)]
pub struct LineBuilder {
    words: Vec<LiveWord>,
    max_chars: usize,
    max_pause_s: f64,
}

impl LineBuilder {
    /// Lines of at most `max_chars` characters (a single longer word still makes a line).
    pub fn new(max_chars: usize) -> Self {
        LineBuilder {
            words: Vec::new(),
            max_chars: max_chars.max(1),
            max_pause_s: 1.5,
        }
    }

    /// The words of the line being built (committed, not yet a finished line).
    pub fn open_text(&self) -> String {
        self.words.iter().map(|w| w.text.as_str()).collect()
    }

    /// Adds committed words and returns the lines they finish.
    pub fn push(&mut self, words: &[LiveWord]) -> Vec<CaptionLine> {
        let mut lines = Vec::new();
        for w in words {
            if let Some(last) = self.words.last() {
                let chars = self.open_text().trim().chars().count() + w.text.chars().count();
                if w.start - last.end > self.max_pause_s || chars > self.max_chars {
                    lines.extend(self.take());
                }
            }
            self.words.push(w.clone());
            if w.ends_segment {
                lines.extend(self.take());
            }
        }
        lines
    }

    /// Finishes the open line, if any (end of session).
    pub fn finish(&mut self) -> Option<CaptionLine> {
        self.take()
    }

    fn take(&mut self) -> Option<CaptionLine> {
        let words = std::mem::take(&mut self.words);
        let text = cue_text(&words.iter().map(|w| w.text.as_str()).collect::<String>());
        match (words.first(), words.last()) {
            (Some(first), Some(last)) if !text.is_empty() => Some(CaptionLine {
                start: first.start,
                end: last.end,
                text,
            }),
            _ => None,
        }
    }
}

/// Formats of a live caption file, chosen by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionFormat {
    /// SubRip.
    Srt,
    /// WebVTT.
    Vtt,
    /// One line of text per caption line.
    Txt,
    /// One JSON object per line: `{"start", "end", "text"}`.
    Jsonl,
}

impl CaptionFormat {
    /// The format for `path`'s extension, or an error naming the ones that exist.
    pub fn for_path(path: &Path) -> Result<Self, String> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("srt") => Ok(CaptionFormat::Srt),
            Some("vtt") => Ok(CaptionFormat::Vtt),
            Some("txt") => Ok(CaptionFormat::Txt),
            Some("jsonl") => Ok(CaptionFormat::Jsonl),
            _ => Err(format!(
                "{}: caption files are .srt, .vtt, .txt or .jsonl",
                path.display()
            )),
        }
    }
}

/// A caption file being written.
#[derive(Debug)]
pub struct CaptionFile {
    path: PathBuf,
    format: CaptionFormat,
    out: BufWriter<File>,
    cues: usize,
}

impl CaptionFile {
    /// Creates (or truncates) `path` and writes the format's header.
    pub fn create(path: &Path) -> io::Result<Self> {
        let format = CaptionFormat::for_path(path)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let file = File::create(path)?;
        let mut f = CaptionFile {
            path: path.to_path_buf(),
            format,
            out: BufWriter::new(file),
            cues: 0,
        };
        if format == CaptionFormat::Vtt {
            f.out.write_all(b"WEBVTT\n\n")?;
            f.out.flush()?;
        }
        Ok(f)
    }

    /// Where it is written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line as a cue and flushes it to the file.
    pub fn write_line(&mut self, line: &CaptionLine) -> io::Result<()> {
        let (start, end) = span_millis(line.start, line.end);
        let text = cue_text(&line.text);
        let cue = match self.format {
            CaptionFormat::Srt => format!(
                "{}\n{} --> {}\n{}\n\n",
                self.cues + 1,
                format_millis(start, ','),
                format_millis(end, ','),
                text
            ),
            CaptionFormat::Vtt => format!(
                "{} --> {}\n{}\n\n",
                format_millis(start, '.'),
                format_millis(end, '.'),
                text
            ),
            CaptionFormat::Txt => format!("{text}\n"),
            CaptionFormat::Jsonl => {
                let json = serde_json::json!({
                    "start": start as f64 / 1000.0,
                    "end": end as f64 / 1000.0,
                    "text": text,
                });
                format!("{json}\n")
            }
        };
        self.out.write_all(cue.as_bytes())?;
        self.out.flush()?;
        self.cues += 1;
        Ok(())
    }

    /// Flushes and syncs the file to disk.
    pub fn close(mut self) -> io::Result<()> {
        self.out.flush()?;
        self.out.get_ref().sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(text: &str, start: f64, end: f64, ends_segment: bool) -> LiveWord {
        LiveWord {
            text: text.into(),
            start,
            end,
            probability: 1.0,
            ends_segment,
        }
    }

    #[test]
    fn lines_end_at_segments_pauses_and_width() {
        let mut b = LineBuilder::new(12);
        let lines = b.push(&[
            word(" Hello", 0.0, 0.5, false),
            word(" there.", 0.6, 1.0, true),
            word(" After", 3.0, 3.2, false),
            word(" a", 5.0, 5.1, false),
            word(" pause,", 5.2, 5.5, false),
            word(" a", 5.6, 5.7, false),
            word(" long", 5.8, 6.0, false),
        ]);
        let texts: Vec<&str> = lines.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(texts, ["Hello there.", "After", "a pause, a"]);
        assert_eq!((lines[0].start, lines[0].end), (0.0, 1.0));
        assert_eq!(b.open_text(), " long");
        assert_eq!(b.finish().unwrap().text, "long");
        assert!(b.finish().is_none());
    }

    #[test]
    fn each_format_gets_whole_cues() {
        let dir = tempfile::tempdir().unwrap();
        let line = CaptionLine {
            start: 61.5,
            end: 62.25,
            text: "Hi --> there".into(),
        };
        for (name, expected) in [
            ("a.srt", "1\n00:01:01,500 --> 00:01:02,250\nHi -> there\n\n"),
            (
                "a.vtt",
                "WEBVTT\n\n00:01:01.500 --> 00:01:02.250\nHi -> there\n\n",
            ),
            ("a.txt", "Hi -> there\n"),
            (
                "a.jsonl",
                "{\"end\":62.25,\"start\":61.5,\"text\":\"Hi -> there\"}\n",
            ),
        ] {
            let path = dir.path().join(name);
            let mut f = CaptionFile::create(&path).unwrap();
            f.write_line(&line).unwrap();
            f.close().unwrap();
            assert_eq!(std::fs::read_to_string(&path).unwrap(), expected, "{name}");
        }
        assert!(CaptionFormat::for_path(Path::new("x.mp3")).is_err());
    }
}
