//! Live decoding's prompt echo: after the buffer is cut at the end of a committed sentence, the
//! next decode sometimes starts by writing that sentence again. Whisper re-reads the tail of
//! the cut audio, or over a pause continues the prompt with its own last words; the alignment
//! then places the copy inside the new buffer and the commit policy would commit it twice.
//!
//! The echo is recognised by its text and its place: at least [`MIN_WORDS`] words at the very
//! start of a decode that repeat, in order, the last words of the prompt (the committed text),
//! the first of them starting within [`WITHIN_S`] of the buffer's start. Speakers do repeat
//! themselves, but three or more words restated word for word right at a cut, where the audio
//! before the cut already holds them, are the model's, not the speaker's.
//!
//! A decode can also repeat itself: a sentence, then the same sentence again squeezed into the
//! last instant of the buffer (every word of the copy aligned to a few milliseconds). Commit
//! policies would take the copy for speech already heard; [`squeezed_repeat`] finds it.

use crate::text::wer::words;
use crate::transcribe::agreement::{LiveWord, normalise};

/// Fewest repeated words taken as an echo (short repeats, "no, no", are often real).
pub const MIN_WORDS: usize = 3;

/// How far into the buffer the echo's first word may start (seconds).
pub const WITHIN_S: f64 = 1.0;

/// How many leading words of `hypothesis` (a decode of the buffer that starts at session time
/// `buffer_start`) repeat the end of `prompt`: the longest such run of at least [`MIN_WORDS`]
/// normalised words, else 0.
pub fn echo_len(prompt: &str, hypothesis: &[LiveWord], buffer_start: f64) -> usize {
    let Some(first) = hypothesis.first() else {
        return 0;
    };
    if first.start > buffer_start + WITHIN_S {
        return 0;
    }
    let said = words(prompt);
    // Each hypothesis word as normalised words (punctuation alone normalises to nothing).
    let heard: Vec<Vec<String>> = hypothesis.iter().map(|w| words(&w.text)).collect();
    let mut best = 0;
    let mut flat: Vec<&str> = Vec::new();
    for (n, parts) in heard.iter().enumerate() {
        flat.extend(parts.iter().map(String::as_str));
        if flat.len() > said.len() {
            break;
        }
        let tail = &said[said.len() - flat.len()..];
        if flat.len() >= MIN_WORDS && tail.iter().map(String::as_str).eq(flat.iter().copied()) {
            best = n + 1;
        }
    }
    best
}

/// Longest a repeated word may last on average and still count as squeezed (seconds): real
/// words last a tenth of a second or more.
pub const SQUEEZED_S: f64 = 0.03;

/// Where `hypothesis` starts repeating itself: the first index `i` such that the `k >=`
/// [`MIN_WORDS`] words from `i` restate, in order, the `k` words before `i`, with the copy's
/// words lasting at most [`SQUEEZED_S`] on average (aligned into almost no audio). Everything
/// from there on is the model's, not the audio's.
pub fn squeezed_repeat(hypothesis: &[LiveWord]) -> Option<usize> {
    let norm: Vec<String> = hypothesis.iter().map(|w| normalise(&w.text)).collect();
    for i in MIN_WORDS..hypothesis.len() {
        for k in MIN_WORDS..=i.min(hypothesis.len() - i) {
            let copy = &hypothesis[i..i + k];
            let squeezed =
                copy.iter().map(|w| w.end - w.start).sum::<f64>() <= SQUEEZED_S * k as f64;
            if squeezed && norm[i - k..i] == norm[i..i + k] {
                return Some(i);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hypothesis(text: &str, start: f64) -> Vec<LiveWord> {
        text.split_inclusive(' ')
            .enumerate()
            .map(|(i, t)| LiveWord {
                text: format!(" {}", t.trim()),
                start: start + 0.3 * i as f64,
                end: start + 0.3 * i as f64 + 0.25,
                probability: 0.9,
                ends_segment: false,
            })
            .collect()
    }

    #[test]
    fn a_restated_last_sentence_at_the_buffer_start_is_an_echo() {
        let prompt = " The blind man counted his old coins. A severe storm tore down the barn.";
        let h = hypothesis("A severe storm tore down the barn. She called", 28.8);
        assert_eq!(echo_len(prompt, &h, 28.7), 7);
        // The whole hypothesis an echo.
        let h = hypothesis("storm tore down the barn.", 28.7);
        assert_eq!(echo_len(prompt, &h, 28.7), 5);
    }

    #[test]
    fn a_sentence_repeated_into_the_buffer_end_is_cut_off() {
        // As decoded live from OSR_us_000_0034_8k.wav: the copy aligned to 28.18 s.
        let mut h = hypothesis("A severe storm tore down the barn.", 25.4);
        for w in hypothesis("A severe storm tore down the barn.", 28.18) {
            h.push(LiveWord {
                start: 28.18,
                end: 28.18,
                ..w
            });
        }
        assert_eq!(squeezed_repeat(&h), Some(7));
        // Said twice at a speaking pace: kept.
        let mut twice = hypothesis("A severe storm tore down the barn.", 25.4);
        twice.extend(hypothesis("A severe storm tore down the barn.", 28.0));
        assert_eq!(squeezed_repeat(&twice), None);
        // Squeezed but different words: not a repeat (the alignment alone decides nothing).
        let mut other = hypothesis("A severe storm tore down the barn.", 25.4);
        other.extend(
            hypothesis("She called his name", 28.18)
                .into_iter()
                .map(|w| LiveWord {
                    start: 28.18,
                    end: 28.18,
                    ..w
                }),
        );
        assert_eq!(squeezed_repeat(&other), None);
    }

    #[test]
    fn new_speech_short_repeats_and_late_repeats_are_kept() {
        let prompt = " A severe storm tore down the barn.";
        assert_eq!(
            echo_len(prompt, &hypothesis("She called his name", 28.8), 28.7),
            0
        );
        // Two words: below the minimum.
        assert_eq!(
            echo_len(prompt, &hypothesis("the barn. She", 28.8), 28.7),
            0
        );
        // The repeat starts 2 s into the buffer: speech, not an echo of the cut.
        assert_eq!(
            echo_len(prompt, &hypothesis("down the barn.", 30.7), 28.7),
            0
        );
        // Not the end of the prompt.
        assert_eq!(
            echo_len(prompt, &hypothesis("A severe storm hit", 28.8), 28.7),
            0
        );
        assert_eq!(echo_len("", &hypothesis("a b c", 28.8), 28.7), 0);
        assert_eq!(echo_len(prompt, &[], 28.7), 0);
    }
}
