//! Word-level timestamps, as openai/whisper's `timing.py`: one extra target pass over a
//! window's final text yields the cross-attention of the model's alignment heads; normalised,
//! median-filtered and averaged, it is a token-by-time cost matrix whose cheapest monotonic
//! path (dynamic time warping) says when each token was spoken. Tokens are grouped into words
//! (on spaces, or per character for languages written without them), punctuation joins its
//! neighbour, and implausibly long words at pauses and sentence ends are trimmed.
//!
//! The pass runs on the target alone, over tokens that are already final, so speculative
//! decoding stays on for the transcription itself.

use candle_core::{D, IndexOp};

use super::{EncodedWindow, Transcriber};
use crate::decoding::filters::softmax;
use crate::error::Result;
use crate::text::Task;
use crate::transcript::{Segment, Word};

/// The literals of [`PREPENDED`] and [`APPENDED`], as macros so they can also be joined.
macro_rules! prepended {
    () => {
        "\"'“¿([{-"
    };
}
macro_rules! appended {
    () => {
        "\"'.。,，!！?？:：”)]}、"
    };
}

/// Audio time per encoder output frame pair (openai `TOKENS_PER_SECOND`: 50 per second).
const TOKENS_PER_SECOND: f64 = 50.0;
/// Median filter width over time (openai `medfilt_width`).
const MEDIAN_WIDTH: usize = 7;
/// Punctuation joined to the following word.
const PREPENDED: &str = prepended!();
/// Punctuation joined to the preceding word.
const APPENDED: &str = appended!();
/// Both, one after the other (openai's `punctuation` in the hallucination rules).
pub(super) const SPEECH_PUNCTUATION: &str = concat!(prepended!(), appended!());
/// Python's `string.punctuation`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
/// Languages written without spaces between words: split per character instead.
const NO_SPACES: &[&str] = &["zh", "ja", "th", "lo", "my", "yue"];

/// A word with its tokens and times inside its window (seconds from the window start).
#[derive(Debug, Clone, PartialEq)]
pub struct WordTiming {
    /// The word, with its leading space.
    pub word: String,
    /// Its tokens.
    pub tokens: Vec<u32>,
    /// Start in seconds from the window start.
    pub start: f64,
    /// End in seconds from the window start.
    pub end: f64,
    /// Mean probability of its tokens.
    pub probability: f64,
}

/// Times for each word of `text_tokens` (text tokens only) in an encoded window whose audio
/// covers `num_frames` mel frames.
pub fn find_alignment(
    t: &Transcriber,
    window: &EncodedWindow,
    language: Option<&str>,
    task: Task,
    text_tokens: &[u32],
    num_frames: usize,
) -> Result<Vec<WordTiming>> {
    if text_tokens.is_empty() {
        return Ok(Vec::new());
    }
    let tok = t.tokenizer();
    let sp = tok.specials();
    let language = language.filter(|_| tok.is_multilingual());
    let sot_sequence = tok.sot_sequence(language, task)?;
    let mut tokens = sot_sequence.clone();
    tokens.push(sp.no_timestamps);
    tokens.extend_from_slice(text_tokens);
    tokens.push(sp.eot);
    let heads = &t.model().generation.alignment_heads;
    if heads.is_empty() {
        return Ok(Vec::new());
    }
    let (logits, scores) = t
        .model()
        .decoder
        .alignment_pass(&tokens, &window.cross, heads)?;

    // Probability of each text token, from the logits before it (end-of-text excluded).
    let s = sot_sequence.len();
    let eot = sp.eot as usize;
    let mut probabilities = Vec::with_capacity(text_tokens.len());
    let mut p = Vec::new();
    for (i, &token) in text_tokens.iter().enumerate() {
        let row = logits
            .i(s + i)?
            .narrow(D::Minus1, 0, eot)?
            .to_vec1::<f32>()?;
        p.resize(row.len(), 0.0);
        softmax(&row, &mut p);
        probabilities.push(f64::from(p[token as usize]));
    }

    // Cost matrix: per head, softmax over the audio's frames, normalised per frame across
    // tokens, median filtered over time; then the mean over heads.
    let n = tokens.len();
    let frames = (num_frames / 2).max(1);
    let mut matrix = vec![0f64; n * frames];
    for head in &scores {
        let head = head
            .narrow(1, 0, frames.min(head.dim(1)?))?
            .to_dtype(candle_core::DType::F32)?;
        let cols = head.dim(1)?;
        let rows: Vec<Vec<f32>> = head.to_vec2::<f32>()?;
        let mut w: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                let mut out = vec![0f32; r.len()];
                softmax(r, &mut out);
                out.into_iter().map(f64::from).collect()
            })
            .collect();
        for c in 0..cols {
            let mean = w.iter().map(|r| r[c]).sum::<f64>() / n as f64;
            let var = w.iter().map(|r| (r[c] - mean).powi(2)).sum::<f64>() / n as f64;
            let std = var.sqrt();
            for r in w.iter_mut() {
                r[c] = (r[c] - mean) / std;
            }
        }
        for (i, r) in w.iter().enumerate() {
            let filtered = median_filter(r, MEDIAN_WIDTH);
            for (c, v) in filtered.iter().enumerate() {
                matrix[i * frames + c] += v / scores.len() as f64;
            }
        }
    }
    // Rows that predict the text tokens and end-of-text.
    let rows = text_tokens.len() + 1;
    let cost: Vec<f64> = matrix[s * frames..(s + rows) * frames]
        .iter()
        .map(|v| -v)
        .collect();
    let (text_indices, time_indices) = dtw(&cost, rows, frames);

    let mut with_eot = text_tokens.to_vec();
    with_eot.push(sp.eot);
    let spaced = !language.is_some_and(|l| NO_SPACES.contains(&l));
    let (words, word_tokens) = if spaced {
        split_on_spaces(t, &with_eot)
    } else {
        split_on_unicode(t, &with_eot)
    };
    if word_tokens.len() <= 1 {
        return Ok(Vec::new());
    }
    let mut boundaries = vec![0usize];
    for wt in &word_tokens[..word_tokens.len() - 1] {
        boundaries.push(boundaries.last().unwrap() + wt.len());
    }
    let jump_times: Vec<f64> = text_indices
        .iter()
        .enumerate()
        .filter(|&(k, &ti)| k == 0 || ti != text_indices[k - 1])
        .map(|(k, _)| time_indices[k] as f64 / TOKENS_PER_SECOND)
        .collect();
    let mut out = Vec::new();
    for (k, (word, tokens)) in words.iter().zip(&word_tokens).enumerate() {
        if k + 1 >= boundaries.len() {
            break;
        }
        let (a, b) = (boundaries[k], boundaries[k + 1]);
        let at = |i: usize| {
            jump_times
                .get(i)
                .or(jump_times.last())
                .copied()
                .unwrap_or(0.0)
        };
        let probability = probabilities[a..b.min(probabilities.len())]
            .iter()
            .sum::<f64>()
            / (b.min(probabilities.len()) - a).max(1) as f64;
        out.push(WordTiming {
            word: word.clone(),
            tokens: tokens.clone(),
            start: at(a),
            end: at(b),
            probability,
        });
    }
    Ok(out)
}

/// openai's `median_filter` along one row: reflect-padded by `width / 2` (rows no longer than
/// that are left as they are).
fn median_filter(x: &[f64], width: usize) -> Vec<f64> {
    let pad = width / 2;
    if x.len() <= pad {
        return x.to_vec();
    }
    let n = x.len();
    let at = |i: isize| -> f64 {
        let i = if i < 0 {
            -i
        } else if i >= n as isize {
            2 * (n as isize - 1) - i
        } else {
            i
        };
        x[i as usize]
    };
    let mut window = vec![0f64; width];
    (0..n)
        .map(|c| {
            for (k, w) in window.iter_mut().enumerate() {
                *w = at(c as isize + k as isize - pad as isize);
            }
            window.sort_by(f64::total_cmp);
            window[pad]
        })
        .collect()
}

/// Dynamic time warping over the `rows x cols` cost matrix (openai `dtw_cpu`, same tie rules):
/// the token index and time index of each step of the cheapest monotonic path.
fn dtw(x: &[f64], rows: usize, cols: usize) -> (Vec<usize>, Vec<usize>) {
    let w = cols + 1;
    let mut cost = vec![f64::INFINITY; (rows + 1) * w];
    let mut trace = vec![-1i8; (rows + 1) * w];
    cost[0] = 0.0;
    for j in 1..=cols {
        for i in 1..=rows {
            let (c0, c1, c2) = (
                cost[(i - 1) * w + j - 1],
                cost[(i - 1) * w + j],
                cost[i * w + j - 1],
            );
            let (c, t) = if c0 < c1 && c0 < c2 {
                (c0, 0)
            } else if c1 < c0 && c1 < c2 {
                (c1, 1)
            } else {
                (c2, 2)
            };
            cost[i * w + j] = x[(i - 1) * cols + j - 1] + c;
            trace[i * w + j] = t;
        }
    }
    trace[..w].fill(2);
    for i in 0..=rows {
        trace[i * w] = 1;
    }
    let (mut i, mut j) = (rows, cols);
    let mut path = Vec::new();
    while i > 0 || j > 0 {
        path.push((i.wrapping_sub(1), j.wrapping_sub(1)));
        match trace[i * w + j] {
            0 => {
                i -= 1;
                j -= 1;
            }
            1 => i -= 1,
            _ => j -= 1,
        }
    }
    path.reverse();
    // The first step of openai's path is (-1, -1) only for an empty matrix; skip such steps.
    path.into_iter()
        .filter(|&(a, b)| a < rows && b < cols)
        .unzip()
}

/// openai `split_tokens_on_unicode`: a word ends wherever the tokens so far decode to whole
/// characters.
fn split_on_unicode(t: &Transcriber, tokens: &[u32]) -> (Vec<String>, Vec<Vec<u32>>) {
    let tok = t.tokenizer();
    let full: Vec<char> = tok.decode_with_timestamps(tokens).chars().collect();
    let (mut words, mut word_tokens, mut current) = (Vec::new(), Vec::new(), Vec::new());
    let mut offset = 0usize;
    for &token in tokens {
        current.push(token);
        let decoded = tok.decode_with_timestamps(&current);
        let chars: Vec<char> = decoded.chars().collect();
        let whole = match chars.iter().position(|&c| c == '\u{fffd}') {
            None => true,
            Some(k) => full.get(offset + k) == Some(&'\u{fffd}'),
        };
        if whole {
            offset += chars.len();
            words.push(decoded);
            word_tokens.push(std::mem::take(&mut current));
        }
    }
    (words, word_tokens)
}

/// openai `split_tokens_on_spaces`: subwords join the previous word unless they start with a
/// space, are punctuation, or are special tokens.
fn split_on_spaces(t: &Transcriber, tokens: &[u32]) -> (Vec<String>, Vec<Vec<u32>>) {
    let eot = t.tokenizer().specials().eot;
    let (subwords, subword_tokens) = split_on_unicode(t, tokens);
    let mut words: Vec<String> = Vec::new();
    let mut word_tokens: Vec<Vec<u32>> = Vec::new();
    for (sub, toks) in subwords.into_iter().zip(subword_tokens) {
        let special = toks[0] >= eot;
        let with_space = sub.starts_with(' ');
        // `subword.strip() in string.punctuation`: a substring test, as openai has it.
        let punctuation = PUNCTUATION.contains(sub.trim());
        if special || with_space || punctuation || words.is_empty() {
            words.push(sub);
            word_tokens.push(toks);
        } else {
            words.last_mut().unwrap().push_str(&sub);
            word_tokens.last_mut().unwrap().extend(toks);
        }
    }
    (words, word_tokens)
}

/// openai `merge_punctuations`: opening marks join the next word, closing marks the previous.
fn merge_punctuations(alignment: &mut [WordTiming]) {
    if alignment.len() < 2 {
        return;
    }
    let (mut i, mut j) = (alignment.len() as isize - 2, alignment.len() - 1);
    while i >= 0 {
        let iu = i as usize;
        let prev = &alignment[iu];
        // Python's `in` on strings is a substring test: kept as openai has it.
        if prev.word.starts_with(' ') && PREPENDED.contains(prev.word.trim()) {
            let (word, tokens) = (prev.word.clone(), prev.tokens.clone());
            let next = &mut alignment[j];
            next.word = word + &next.word;
            let mut t = tokens;
            t.extend(next.tokens.iter());
            next.tokens = t;
            alignment[iu].word.clear();
            alignment[iu].tokens.clear();
        } else {
            j = iu;
        }
        i -= 1;
    }
    let (mut i, mut j) = (0usize, 1usize);
    while j < alignment.len() {
        let following = &alignment[j];
        if !alignment[i].word.ends_with(' ') && APPENDED.contains(following.word.as_str()) {
            let (word, tokens) = (following.word.clone(), following.tokens.clone());
            alignment[i].word.push_str(&word);
            alignment[i].tokens.extend(tokens);
            alignment[j].word.clear();
            alignment[j].tokens.clear();
        } else {
            i = j;
        }
        j += 1;
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// openai `add_word_timestamps` for one window's segments (already in file time): aligns their
/// text, assigns the words, trims implausible durations, and moves segment boundaries to the
/// words. `last_speech` is the end of the last speech so far (updated). Returns, for each
/// segment, how many of its text tokens each of its words is made of.
pub fn add_word_timestamps(
    mut alignment: Vec<WordTiming>,
    segments: &mut [Segment],
    eot: u32,
    time_offset: f64,
    last_speech: &mut f64,
) -> Vec<Vec<usize>> {
    let eot_free: Vec<Vec<u32>> = segments
        .iter()
        .map(|s| s.tokens.iter().copied().filter(|&t| t < eot).collect())
        .collect();
    let mut durations: Vec<f64> = alignment
        .iter()
        .map(|w| w.end - w.start)
        .filter(|d| *d != 0.0)
        .collect();
    durations.sort_by(f64::total_cmp);
    let median = if durations.is_empty() {
        0.0
    } else if durations.len() % 2 == 1 {
        durations[durations.len() / 2]
    } else {
        (durations[durations.len() / 2 - 1] + durations[durations.len() / 2]) / 2.0
    };
    let median = median.min(0.7);
    let max_duration = median * 2.0;
    if !durations.is_empty() {
        let ends = ".。!！?？";
        for i in 1..alignment.len() {
            if alignment[i].end - alignment[i].start > max_duration {
                // Python's `in` on strings: a substring test (as openai).
                if ends.contains(alignment[i].word.as_str()) {
                    alignment[i].end = alignment[i].start + max_duration;
                } else if ends.contains(alignment[i - 1].word.as_str()) {
                    alignment[i].start = alignment[i].end - max_duration;
                }
            }
        }
    }
    merge_punctuations(&mut alignment);

    let mut index = 0;
    let mut token_counts = Vec::with_capacity(segments.len());
    for (segment, text_tokens) in segments.iter_mut().zip(&eot_free) {
        let mut saved = 0;
        let mut words: Vec<Word> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        while index < alignment.len() && saved < text_tokens.len() {
            let timing = &alignment[index];
            if !timing.word.is_empty() {
                words.push(Word {
                    word: timing.word.clone(),
                    start: round2(time_offset + timing.start),
                    end: round2(time_offset + timing.end),
                    probability: timing.probability,
                });
                counts.push(timing.tokens.len());
            } else if let Some(last) = counts.last_mut() {
                // An emptied entry's tokens went to a neighbour (none are left in it).
                *last += timing.tokens.len();
            }
            saved += timing.tokens.len();
            index += 1;
        }
        token_counts.push(counts);
        if !words.is_empty() {
            let long_first = words[0].end - words[0].start > max_duration;
            let long_pair = words.len() > 1 && words[1].end - words[0].start > max_duration * 2.0;
            if words[0].end - *last_speech > median * 4.0 && (long_first || long_pair) {
                if words.len() > 1 && words[1].end - words[1].start > max_duration {
                    let boundary = (words[1].end / 2.0).max(words[1].end - max_duration);
                    words[0].end = boundary;
                    words[1].start = boundary;
                }
                words[0].start = (words[0].end - max_duration).max(0.0);
            }
            if segment.start < words[0].end && segment.start - 0.5 > words[0].start {
                words[0].start = (words[0].end - median).min(segment.start).max(0.0);
            } else {
                segment.start = words[0].start;
            }
            let last = words.len() - 1;
            if segment.end > words[last].start && segment.end + 0.5 < words[last].end {
                words[last].end = (words[last].start + median).max(segment.end);
            } else {
                segment.end = words[last].end;
            }
            *last_speech = segment.end;
        }
        segment.words = words;
    }
    token_counts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_filter_reflects_at_the_edges() {
        let x = [5.0, 1.0, 4.0, 2.0, 3.0];
        // Padded by reflection (the edge itself not repeated): [2, 4, 1, 5, 1, 4, 2, 3, 2, 4, 1];
        // medians of each 7 in turn.
        assert_eq!(median_filter(&x, 7), vec![2.0, 3.0, 2.0, 3.0, 2.0]);
        assert_eq!(median_filter(&[1.0, 2.0], 7), vec![1.0, 2.0]);
    }

    #[test]
    fn dtw_follows_the_cheap_diagonal() {
        // 2 tokens x 4 frames: token 0 is cheap on frames 0-1, token 1 on frames 2-3.
        let x = [0.0, 0.0, 9.0, 9.0, 9.0, 9.0, 0.0, 0.0];
        let (ti, fi) = dtw(&x, 2, 4);
        assert_eq!(ti, vec![0, 0, 1, 1]);
        assert_eq!(fi, vec![0, 1, 2, 3]);
    }

    fn w(word: &str, start: f64, end: f64) -> WordTiming {
        WordTiming {
            word: word.into(),
            tokens: vec![1],
            start,
            end,
            probability: 1.0,
        }
    }

    #[test]
    fn punctuation_joins_its_neighbour() {
        let mut a = vec![
            w(" \"", 0.0, 0.1),
            w(" Hello", 0.1, 0.5),
            w(",", 0.5, 0.6),
            w(" you", 0.6, 0.9),
        ];
        merge_punctuations(&mut a);
        let words: Vec<&str> = a.iter().map(|x| x.word.as_str()).collect();
        assert_eq!(words, ["", " \" Hello,", "", " you"]);
        assert_eq!(a[1].tokens.len(), 3);
    }
}
