//! The output formats and how a user names them on the command line.

use std::fmt;
use std::str::FromStr;

use super::OutputError;

/// One output format. The name a user types, the file extension and [`Display`](fmt::Display)
/// are all the same lower-case word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// Plain text, one line per segment.
    Txt,
    /// The whole transcript as JSON (pretty in files, one line per file on stdout).
    Json,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
    /// Tab-separated `start end text`, times in milliseconds.
    Tsv,
}

impl Format {
    /// Every format, in the order `all` writes them.
    pub const ALL: [Format; 5] = [
        Format::Txt,
        Format::Json,
        Format::Srt,
        Format::Vtt,
        Format::Tsv,
    ];

    /// The names [`FromStr`] and [`parse_formats`] accept, for help texts and clap's
    /// `PossibleValuesParser` (`all` included).
    pub const NAMES: [&'static str; 6] = ["txt", "json", "srt", "vtt", "tsv", "all"];

    /// Every format: what `all` means.
    pub fn all() -> Vec<Format> {
        Self::ALL.to_vec()
    }

    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Txt => "txt",
            Format::Json => "json",
            Format::Srt => "srt",
            Format::Vtt => "vtt",
            Format::Tsv => "tsv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// One format by name, ignoring case. `all` is not a single format: use [`parse_formats`].
/// The error type is a std error, so clap can use this as a value parser directly.
impl FromStr for Format {
    type Err = OutputError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Format::ALL
            .into_iter()
            .find(|f| name.trim().eq_ignore_ascii_case(f.extension()))
            .ok_or_else(|| OutputError::UnknownFormat(name.to_string()))
    }
}

/// A format list as a user writes it: `all`, one name, or names separated by commas
/// (`srt,vtt`). Duplicates are dropped and the first-mentioned order kept, so `all,srt` writes
/// each file once.
pub fn parse_formats(spec: &str) -> Result<Vec<Format>, OutputError> {
    let mut formats = Vec::new();
    for name in spec.split(',') {
        let named = if name.trim().eq_ignore_ascii_case("all") {
            Format::all()
        } else {
            vec![name.parse()?]
        };
        for format in named {
            if !formats.contains(&format) {
                formats.push(format);
            }
        }
    }
    Ok(formats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!("srt".parse::<Format>().unwrap(), Format::Srt);
        assert_eq!("VTT".parse::<Format>().unwrap(), Format::Vtt);
        assert!("all".parse::<Format>().is_err());
        assert!("".parse::<Format>().is_err());
        let err = "doc".parse::<Format>().unwrap_err().to_string();
        assert!(
            err.contains("'doc'") && err.contains("txt, json, srt, vtt, tsv"),
            "{err}"
        );
    }

    #[test]
    fn parses_lists() {
        assert_eq!(parse_formats("all").unwrap(), Format::ALL);
        assert_eq!(
            parse_formats("vtt, srt,vtt").unwrap(),
            [Format::Vtt, Format::Srt]
        );
        assert_eq!(parse_formats("srt,all").unwrap().len(), 5);
        assert!(parse_formats("srt,,vtt").is_err());
    }

    #[test]
    fn names_match_extensions() {
        for format in Format::ALL {
            assert_eq!(format.to_string().parse::<Format>().unwrap(), format);
            assert!(Format::NAMES.contains(&format.extension()));
        }
    }
}
