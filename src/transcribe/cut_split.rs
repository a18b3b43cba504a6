//! Splitting a segment that runs across a cut of the voice activity detector.
//!
//! The joined speech (see [`super::speech_map`]) puts speech from minutes apart side by side,
//! and Whisper may write one segment from the end of one region into the start of the next.
//! Mapped back whole, such a segment would span the cut-out minutes; its words know which side
//! of the cut they were said on, so the segment becomes one segment per region: each with the
//! text tokens of its words, timestamp tokens at the new edges, and the window's scores.

use super::segments::{FRAMES_PER_TIMESTAMP, TIME_PRECISION};
use super::speech_map::SpeechMap;
use crate::transcript::Segment;

/// How a window's tokens are numbered: what a timestamp token means and which tokens are text.
#[derive(Debug, Clone, Copy)]
pub struct WindowTokens {
    /// The first timestamp token (`<|0.00|>`).
    pub timestamp_begin: u32,
    /// End of text: tokens below it are text.
    pub eot: u32,
    /// The window's start in the joined audio (seconds).
    pub offset: f64,
    /// The window's content length (mel frames).
    pub frames: usize,
}

impl WindowTokens {
    /// The timestamp token for joined-audio time `t`, within the window.
    fn timestamp(&self, t: f64) -> u32 {
        let steps = ((t - self.offset) / TIME_PRECISION).round();
        let max = self.frames.div_ceil(FRAMES_PER_TIMESTAMP) as f64;
        // Both are small non-negative whole numbers after the clamp.
        self.timestamp_begin + steps.clamp(0.0, max) as u32
    }
}

/// `segment` (joined-audio times, with its words) as one segment per speech region its words
/// fall in (the region of each word's middle); when they all fall in one, the segment whole,
/// its edges kept inside that region.
/// `word_tokens` says how many of the segment's text tokens each word is made of; where that
/// does not add up to its text tokens, or timestamps sit inside its text, the segment is left
/// whole. `decode` gives a token sequence's text; without `keep_words` the segments returned
/// have no words (they were found for the split only).
pub fn split_at_cuts(
    segment: Segment,
    word_tokens: &[usize],
    map: &SpeechMap,
    window: &WindowTokens,
    decode: &dyn Fn(&[u32]) -> String,
    keep_words: bool,
) -> Vec<Segment> {
    let mut parts = split_by_region(&segment, word_tokens, map, window, decode);
    if parts.is_empty() {
        parts = vec![segment];
    }
    if !keep_words {
        for part in &mut parts {
            part.words.clear();
        }
    }
    parts
}

/// [`split_at_cuts`] with every word kept; nothing when the segment stays as it is.
fn split_by_region(
    segment: &Segment,
    word_tokens: &[usize],
    map: &SpeechMap,
    window: &WindowTokens,
    decode: &dyn Fn(&[u32]) -> String,
) -> Vec<Segment> {
    let is_text = |t: &u32| *t < window.eot;
    let Some(text_start) = segment.tokens.iter().position(is_text) else {
        return Vec::new();
    };
    let text_end = segment
        .tokens
        .iter()
        .rposition(is_text)
        .map_or(0, |i| i + 1);
    let text = &segment.tokens[text_start..text_end];
    let consistent = word_tokens.len() == segment.words.len()
        && word_tokens.iter().sum::<usize>() == text.len()
        && text.iter().all(is_text);
    if !consistent {
        return Vec::new();
    }
    // Runs of consecutive words in one region: (region, first word, end word).
    let mut runs: Vec<(usize, usize, usize)> = Vec::new();
    for (i, w) in segment.words.iter().enumerate() {
        let region = map.region_of((w.start + w.end) / 2.0);
        match runs.last_mut() {
            Some(run) if run.0 == region => run.2 = i + 1,
            _ => runs.push((region, i, i + 1)),
        }
    }
    if let [(region, ..)] = runs[..] {
        // One region's words in a segment whose edges reach over a cut: the edges stay in it.
        let start = segment.start.max(map.joined_start_s(region));
        let end = segment.end.min(map.joined_end_s(region)).max(start);
        return vec![Segment {
            start,
            end,
            ..segment.clone()
        }];
    }
    let mut parts = Vec::with_capacity(runs.len());
    let mut token_at = 0;
    for (k, &(region, first, end)) in runs.iter().enumerate() {
        let words = &segment.words[first..end];
        let n_tokens: usize = word_tokens[first..end].iter().sum();
        let part_text = &text[token_at..token_at + n_tokens];
        token_at += n_tokens;
        let start = if k == 0 {
            segment.start
        } else {
            words[0].start.max(map.joined_start_s(region))
        };
        let end_time = match runs.get(k + 1) {
            None => segment.end,
            Some(&(next, ..)) => words[words.len() - 1]
                .end
                .min(map.joined_start_s(next))
                .max(start),
        };
        let mut tokens = Vec::with_capacity(part_text.len() + 2);
        if k == 0 {
            tokens.extend_from_slice(&segment.tokens[..text_start]);
        } else {
            tokens.push(window.timestamp(start));
        }
        tokens.extend_from_slice(part_text);
        if k + 1 == runs.len() {
            tokens.extend_from_slice(&segment.tokens[text_end..]);
        } else {
            tokens.push(window.timestamp(end_time));
        }
        parts.push(Segment {
            start,
            end: end_time,
            text: decode(part_text),
            tokens,
            words: words.to_vec(),
            ..segment.clone()
        });
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::SAMPLE_RATE;
    use crate::transcript::Word;

    const S: usize = SAMPLE_RATE as usize;
    const TS: u32 = 1000;
    const EOT: u32 = 900;

    fn word(w: &str, start: f64, end: f64) -> Word {
        Word {
            word: w.into(),
            start,
            end,
            probability: 0.9,
        }
    }

    fn decode(tokens: &[u32]) -> String {
        tokens.iter().map(|t| format!(" t{t}")).collect()
    }

    fn window() -> WindowTokens {
        WindowTokens {
            timestamp_begin: TS,
            eot: EOT,
            offset: 0.0,
            frames: 3000,
        }
    }

    // Speech at 1-3 s and 60-64 s of a 70 s file: joined, the cut is at 2 s.
    fn map() -> SpeechMap {
        SpeechMap::new(vec![S..3 * S, 60 * S..64 * S], 70 * S)
    }

    fn spanning() -> Segment {
        Segment {
            start: 0.5,
            end: 3.5,
            text: " t1 t2 t3 t4".into(),
            // <|0.50|> t1 t2 | t3 t4 <|3.50|>: the first word has two tokens.
            tokens: vec![TS + 25, 1, 2, 3, 4, TS + 175],
            avg_logprob: -0.2,
            words: vec![
                word(" a", 0.5, 1.0),
                word(" b", 1.2, 1.9),
                word(" c", 2.1, 2.6),
            ],
            ..Segment::default()
        }
    }

    #[test]
    fn a_segment_across_a_cut_becomes_one_per_region() {
        let parts = split_at_cuts(spanning(), &[2, 1, 1], &map(), &window(), &decode, true);
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0].tokens, vec![TS + 25, 1, 2, 3, TS + 95]);
        assert_eq!(parts[0].text, " t1 t2 t3");
        assert_eq!((parts[0].start, parts[0].end), (0.5, 1.9));
        assert_eq!(parts[0].words.len(), 2);
        // The second starts at the cut or its first word, whichever is later.
        assert_eq!(parts[1].tokens, vec![TS + 105, 4, TS + 175]);
        assert_eq!((parts[1].start, parts[1].end), (2.1, 3.5));
        assert_eq!(parts[1].avg_logprob, -0.2);
        // Mapped back, each lies in its own region.
        let mut t = crate::transcript::Transcript {
            segments: parts,
            ..Default::default()
        };
        map().restore(&mut t);
        assert!(t.segments[0].end <= 3.0 && t.segments[1].start >= 60.0);
    }

    #[test]
    fn segments_in_one_region_or_with_unknown_tokens_stay_whole_inside_it() {
        let m = map();
        let mut one = spanning();
        one.words.pop();
        one.tokens = vec![TS + 25, 1, 2, 3, TS + 95];
        let kept = split_at_cuts(one.clone(), &[2, 1], &m, &window(), &decode, true);
        // Its end, past the cut, comes back to the end of its words' region.
        assert_eq!(kept.len(), 1);
        assert_eq!((kept[0].start, kept[0].end), (0.5, 2.0));
        assert_eq!((&kept[0].tokens, &kept[0].words), (&one.tokens, &one.words));
        // Word token counts that do not add up: left alone.
        let whole = split_at_cuts(spanning(), &[1, 1, 1], &m, &window(), &decode, true);
        assert_eq!(whole, vec![spanning()]);
        // Without words kept, the parts have none.
        let parts = split_at_cuts(spanning(), &[2, 1, 1], &m, &window(), &decode, false);
        assert!(parts.iter().all(|p| p.words.is_empty()));
    }
}
