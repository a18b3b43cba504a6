//! Output files: one per format, named after the input, in an output directory.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use super::atomic::write_file;
use super::{Format, OutputError, SubtitleOptions, write_with};
use crate::transcript::Transcript;

/// Where `format`'s output for `input` goes: `<dir>/<input's file stem>.<ext>`, so
/// `talks/intro.mp3` gives `<dir>/intro.srt`, and standard input (named
/// [`STDIN_NAME`](crate::audio::STDIN_NAME)) `<dir>/stdin.srt`. Exposed so a caller can spot two
/// inputs with the same stem (`a/x.wav`, `b/x.mp3`) before one overwrites the other's output.
pub fn output_path(dir: &Path, input: &str, format: Format) -> Result<PathBuf, OutputError> {
    let stem = if input == crate::audio::STDIN_NAME {
        OsStr::new("stdin")
    } else {
        Path::new(input)
            .file_stem()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| OutputError::NoFileName {
                file: input.to_string(),
            })?
    };
    let mut name = stem.to_os_string();
    name.push(".");
    name.push(format.extension());
    Ok(dir.join(name))
}

/// Writes `transcript` in each of `formats` (duplicates once) into `dir`, creating `dir` if
/// missing, each file atomically (see [`write_file`]). Returns the paths written, in the order
/// of `formats`. Stops at the first failure; files already written stay, each complete.
pub fn write_outputs(
    transcript: &Transcript,
    formats: &[Format],
    dir: &Path,
) -> Result<Vec<PathBuf>, OutputError> {
    write_outputs_with(transcript, formats, dir, &SubtitleOptions::default())
}

/// [`write_outputs`] with subtitles cut by `subtitles`.
pub fn write_outputs_with(
    transcript: &Transcript,
    formats: &[Format],
    dir: &Path,
    subtitles: &SubtitleOptions,
) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir).map_err(|source| OutputError::CreateDir {
        dir: dir.to_path_buf(),
        source,
    })?;
    let mut written: Vec<PathBuf> = Vec::with_capacity(formats.len());
    for &format in formats {
        let path = output_path(dir, &transcript.file, format)?;
        if written.contains(&path) {
            continue;
        }
        write_file(&path, |out| write_with(format, transcript, subtitles, out))?;
        written.push(path);
    }
    Ok(written)
}
