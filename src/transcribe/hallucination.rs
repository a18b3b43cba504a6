//! openai/whisper's `--hallucination-silence-threshold` (with word timestamps): Whisper tends
//! to invent text in long silences; a segment whose words look anomalous (improbable, very
//! short or very long) and that is surrounded by silence is dropped, and the window seeks past
//! the silence before it.

use crate::transcript::{Segment, Word};

use super::timing::SPEECH_PUNCTUATION as PUNCTUATION;

/// How unlikely a word's probability and duration look (openai `word_anomaly_score`).
fn word_anomaly_score(w: &Word) -> f64 {
    let duration = w.end - w.start;
    let mut score = 0.0;
    if w.probability < 0.15 {
        score += 1.0;
    }
    if duration < 0.133 {
        score += (0.133 - duration) * 15.0;
    }
    if duration > 2.0 {
        score += duration - 2.0;
    }
    score
}

/// Whether a segment's first words look like a hallucination (openai `is_segment_anomaly`).
pub fn is_segment_anomaly(segment: Option<&Segment>) -> bool {
    let Some(segment) = segment.filter(|s| !s.words.is_empty()) else {
        return false;
    };
    let words: Vec<&Word> = segment
        .words
        .iter()
        .filter(|w| !PUNCTUATION.contains(w.word.as_str()))
        .take(8)
        .collect();
    let score: f64 = words.iter().map(|w| word_anomaly_score(w)).sum();
    score >= 3.0 || score + 0.01 >= words.len() as f64
}

/// The first segment with words.
fn next_with_words(segments: &[Segment]) -> Option<&Segment> {
    segments.iter().find(|s| !s.words.is_empty())
}

/// Where a window ends up, after [`apply`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// Keep the (possibly shortened) segments and seek to this frame.
    Keep(usize),
    /// Drop the window's segments and seek to this frame (a leading silence is skipped).
    Skip(usize),
}

/// Times of the window being decided, in seconds / frames.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    /// Where the window starts (frames) and its content length (frames).
    pub seek: usize,
    /// Frames of audio in the window.
    pub frames: usize,
    /// Frames of audio in the whole file.
    pub content_frames: usize,
    /// Whether the decode ended on a lone timestamp.
    pub single_timestamp_ending: bool,
    /// End of the last speech before this window (seconds).
    pub last_speech: f64,
}

/// openai/whisper's hallucination rules for one window's `segments` (with words), given the
/// seek the window would otherwise take (`seek_next`, frames) and the silence `threshold`
/// in seconds.
pub fn apply(segments: &mut Vec<Segment>, w: &Window, seek_next: usize, threshold: f64) -> Outcome {
    let frames_at = crate::audio::framing::frame_at;
    let time_offset = w.seek as f64 * 0.01;
    let window_end = (w.seek + w.frames) as f64 * 0.01;
    let content_duration = w.content_frames as f64 * 0.01;
    let mut seek = seek_next;
    if !w.single_timestamp_ending {
        let last_word_end = segments
            .iter()
            .rev()
            .find_map(|s| s.words.last().map(|x| x.end));
        if let Some(end) = last_word_end.filter(|&e| e > time_offset) {
            seek = if window_end - end > threshold {
                frames_at(end)
            } else {
                w.seek + w.frames
            };
        }
    }
    // A possible hallucination first, after a silence: skip the silence and decode again.
    if let Some(first) = next_with_words(segments)
        && is_segment_anomaly(Some(first))
    {
        let gap = first.start - time_offset;
        if gap > threshold {
            return Outcome::Skip(w.seek + frames_at(gap));
        }
    }
    // A possible hallucination between silences (or more hallucinations): drop it and what
    // follows, and seek to it.
    let mut last_end = w.last_speech;
    for i in 0..segments.len() {
        if segments[i].words.is_empty() {
            continue;
        }
        if is_segment_anomaly(Some(&segments[i])) {
            let next = next_with_words(&segments[i + 1..]);
            let next_start =
                next.map_or(time_offset + w.frames as f64 * 0.01, |n| n.words[0].start);
            let s = &segments[i];
            let silence_before = s.start - last_end > threshold
                || s.start < threshold
                || s.start - time_offset < 2.0;
            let silence_after = next_start - s.end > threshold
                || is_segment_anomaly(next)
                || window_end - s.end < 2.0;
            if silence_before && silence_after {
                seek = frames_at((time_offset + 1.0).max(s.start));
                if content_duration - s.end < threshold {
                    seek = w.content_frames;
                }
                segments.truncate(i);
                break;
            }
        }
        last_end = segments[i].end;
    }
    Outcome::Keep(seek)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(w: &str, start: f64, end: f64, probability: f64) -> Word {
        Word {
            word: w.into(),
            start,
            end,
            probability,
        }
    }

    fn seg(words: Vec<Word>) -> Segment {
        Segment {
            start: words[0].start,
            end: words[words.len() - 1].end,
            words,
            ..Segment::default()
        }
    }

    #[test]
    fn improbable_or_odd_length_words_are_anomalies() {
        let good = seg(vec![
            word(" Hello", 1.0, 1.4, 0.9),
            word(" there", 1.4, 1.8, 0.8),
        ]);
        assert!(!is_segment_anomaly(Some(&good)));
        let bad = seg(vec![word(" you", 20.0, 20.05, 0.05)]);
        assert!(is_segment_anomaly(Some(&bad)));
        assert!(!is_segment_anomaly(None));
    }

    #[test]
    fn a_lone_hallucination_after_silence_is_skipped() {
        // Speech until 2 s, then an improbable word at 25 s in a 30 s window.
        let mut segments = vec![
            seg(vec![
                word(" Hello", 0.5, 1.0, 0.9),
                word(" there.", 1.0, 2.0, 0.9),
            ]),
            seg(vec![word(" you", 25.0, 25.05, 0.05)]),
        ];
        let w = Window {
            seek: 0,
            frames: 3000,
            content_frames: 6000,
            single_timestamp_ending: false,
            last_speech: 0.0,
        };
        let outcome = apply(&mut segments, &w, 3000, 2.0);
        assert_eq!(segments.len(), 1, "the hallucination is dropped");
        assert_eq!(
            outcome,
            Outcome::Keep(2500),
            "decoding resumes where it was"
        );
        // First segment anomalous after a long leading gap: skip the gap.
        let mut lead = vec![seg(vec![word(" you", 12.0, 12.05, 0.05)])];
        assert_eq!(apply(&mut lead, &w, 3000, 2.0), Outcome::Skip(1200));
    }
}
