//! Subtitle cues for srt and vtt, as openai/whisper's `SubtitlesWriter.iterate_result`.
//!
//! Without word timings a cue is a segment. With them (`--word-timestamps`), cues are built
//! from words: lines of at most `max_line_width` characters, cues of at most `max_line_count`
//! lines (a pause of more than 3 s also starts a new cue), and with `highlight_words` one cue
//! per word showing the whole line with that word underlined (`<u>word</u>`), plus a plain cue
//! for any gap between words. Without both a width and a count, cues keep to segments.

use super::clean::cue_text;

/// How subtitles are cut (the `--max-line-width`, `--max-line-count` and `--highlight-words`
/// options; they only apply with word timings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SubtitleOptions {
    /// Most characters per line.
    pub max_line_width: Option<usize>,
    /// Most lines per cue.
    pub max_line_count: Option<usize>,
    /// One cue per word, the word underlined.
    pub highlight_words: bool,
}

/// One subtitle: times in seconds and the text (lines separated by `\n`; with highlighting,
/// the current word wrapped in `<u>` tags after `escape` was applied to every word).
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// The text.
    pub text: String,
}

/// A word of a cue being built: its text (possibly starting with the line break before it).
struct Piece {
    word: String,
    start: f64,
    end: f64,
}

/// The cues of `segments` (see the module notes); `escape` makes a word's text safe for the
/// format (vtt escapes `&` and `<`, srt nothing) before any tag is added.
pub fn cues(
    segments: &[crate::transcript::Segment],
    opts: &SubtitleOptions,
    escape: &dyn Fn(&str) -> String,
) -> Vec<Cue> {
    if !segments.iter().any(|s| !s.words.is_empty()) {
        return segments
            .iter()
            .map(|s| Cue {
                start: s.start,
                end: s.end,
                text: escape(&cue_text(&s.text)),
            })
            .collect();
    }
    let preserve_segments = opts.max_line_count.is_none() || opts.max_line_width.is_none();
    let max_width = opts.max_line_width.unwrap_or(1000);
    let chars = |s: &str| s.chars().count();

    let mut subtitles: Vec<Vec<Piece>> = Vec::new();
    let mut subtitle: Vec<Piece> = Vec::new();
    let (mut line_len, mut line_count) = (0usize, 1usize);
    let mut last = segments.first().map_or(0.0, |s| s.start);
    for segment in segments {
        for (i, w) in segment.words.iter().enumerate() {
            let mut word = w.word.clone();
            let long_pause = !preserve_segments && w.start - last > 3.0;
            let has_room = line_len + chars(&word) <= max_width;
            let seg_break = i == 0 && !subtitle.is_empty() && preserve_segments;
            if line_len > 0 && has_room && !long_pause && !seg_break {
                line_len += chars(&word);
            } else {
                word = word.trim().to_string();
                let full = opts
                    .max_line_count
                    .is_some_and(|max| long_pause || line_count >= max);
                if (!subtitle.is_empty() && full) || seg_break {
                    subtitles.push(std::mem::take(&mut subtitle));
                    line_count = 1;
                } else if line_len > 0 {
                    line_count += 1;
                    word = format!("\n{word}");
                }
                line_len = chars(word.trim());
            }
            subtitle.push(Piece {
                word,
                start: w.start,
                end: w.end,
            });
            last = w.start;
        }
    }
    if !subtitle.is_empty() {
        subtitles.push(subtitle);
    }

    let clean = |w: &str| {
        let mut t = escape(w);
        while t.contains("-->") {
            t = t.replace("-->", "->");
        }
        t
    };
    let mut out = Vec::new();
    for sub in &subtitles {
        let words: Vec<String> = sub.iter().map(|p| clean(&p.word)).collect();
        let text = words.concat();
        let (start, end) = (sub[0].start, sub[sub.len() - 1].end);
        if !opts.highlight_words {
            out.push(Cue { start, end, text });
            continue;
        }
        let mut previous = start;
        for (i, p) in sub.iter().enumerate() {
            if previous < p.start {
                out.push(Cue {
                    start: previous,
                    end: p.start,
                    text: text.clone(),
                });
            }
            let highlighted: String = words
                .iter()
                .enumerate()
                .map(|(j, w)| {
                    if j != i {
                        return w.clone();
                    }
                    let body = w.trim_start();
                    format!("{}<u>{body}</u>", &w[..w.len() - body.len()])
                })
                .collect();
            out.push(Cue {
                start: p.start,
                end: p.end,
                text: highlighted,
            });
            previous = p.end;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::{Segment, Word};

    fn word(w: &str, start: f64, end: f64) -> Word {
        Word {
            word: w.into(),
            start,
            end,
            probability: 1.0,
        }
    }

    fn segment(words: Vec<Word>) -> Segment {
        Segment {
            start: words[0].start,
            end: words[words.len() - 1].end,
            text: words.iter().map(|w| w.word.as_str()).collect(),
            words,
            ..Segment::default()
        }
    }

    fn plain(s: &str) -> String {
        s.to_string()
    }

    #[test]
    fn lines_wrap_at_the_width_and_cues_at_the_line_count() {
        let segs = [segment(vec![
            word(" one", 0.0, 0.5),
            word(" two", 0.5, 1.0),
            word(" three", 1.0, 1.5),
            word(" four", 1.5, 2.0),
            word(" five", 2.0, 2.5),
        ])];
        let opts = SubtitleOptions {
            max_line_width: Some(9),
            max_line_count: Some(2),
            highlight_words: false,
        };
        let c = cues(&segs, &opts, &plain);
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["one two\nthree", "four five"]);
        assert_eq!((c[0].start, c[0].end), (0.0, 1.5));
        assert_eq!((c[1].start, c[1].end), (1.5, 2.5));
    }

    #[test]
    fn highlighting_underlines_each_word_and_fills_gaps() {
        let segs = [segment(vec![
            word(" Hi", 0.0, 0.4),
            word(" there", 1.0, 1.4),
        ])];
        let opts = SubtitleOptions {
            highlight_words: true,
            ..SubtitleOptions::default()
        };
        let c = cues(&segs, &opts, &plain);
        let texts: Vec<&str> = c.iter().map(|c| c.text.as_str()).collect();
        assert_eq!(texts, ["<u>Hi</u> there", "Hi there", "Hi <u>there</u>"]);
        assert_eq!((c[1].start, c[1].end), (0.4, 1.0));
    }

    #[test]
    fn without_words_a_cue_is_a_segment() {
        let segs = [Segment {
            start: 1.0,
            end: 2.0,
            text: " a --> b".into(),
            ..Segment::default()
        }];
        let c = cues(&segs, &SubtitleOptions::default(), &plain);
        assert_eq!(
            c,
            [Cue {
                start: 1.0,
                end: 2.0,
                text: "a -> b".into()
            }]
        );
    }
}
