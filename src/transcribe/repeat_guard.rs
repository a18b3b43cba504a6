//! The loop guard over non-speech: Whisper, prompted with what was just said, repeats it over
//! pauses, room tone and music. A segment that repeats the text just before it, over audio the
//! voice activity detector calls non-speech, is such a loop, not speech: it is dropped and
//! counted (`stats.dropped_repeats`).
//!
//! Both conditions are needed. A speaker may say the same sentence twice (the second time over
//! speech, so it stays), and new text over quiet audio may be a whisper the detector missed
//! (new, so it stays).
//!
//! - *Repeats*: at least 80 % of its words are, in order, among the words of the three kept
//!   segments before it (loops repeat the prompt whole or with words left out).
//! - *Over non-speech*: no chunk reaches the detector's threshold within 5 s of the segment.
//!   The margin is for timestamps: a window that loops places its segments loosely, and a real
//!   sentence said after a long pause can come out stamped seconds early (JFK's sentence after
//!   3 minutes of music, kept whole by `--vad-min-silence-ms 600000`, came out at 180-190 s, its
//!   speech at 191.6 s).
//!   A share of speech chunks would not do either: after long room tone the detector hears
//!   speech late and weakly (a real second sentence measured 46-49 % speech chunks, loops over
//!   music 0 %).

use crate::audio::SAMPLE_RATE;
use crate::text::wer::words;
use crate::transcript::{Segment, Transcript};
use crate::vad::CHUNK_SAMPLES;

/// Segments of text before a segment that it may repeat.
const LOOKBACK_SEGMENTS: usize = 3;

/// Share of a segment's words that must be, in order, in the text before it.
const REPEATED_SHARE: f64 = 0.8;

/// Seconds around a segment where any speech chunk keeps it.
const SPEECH_MARGIN_S: f64 = 5.0;

/// Drops from `transcript` the segments that repeat the text of the (kept) segments just
/// before them over audio that `probs` (the detector's speech probability per chunk of
/// [`CHUNK_SAMPLES`] samples of the original audio) puts under `threshold`; rebuilds the text
/// and returns how many were dropped.
pub fn drop_repeats_over_non_speech(
    transcript: &mut Transcript,
    probs: &[f32],
    threshold: f64,
) -> usize {
    let mut kept: Vec<Segment> = Vec::with_capacity(transcript.segments.len());
    let mut dropped = 0;
    for segment in std::mem::take(&mut transcript.segments) {
        let recent: Vec<&str> = kept
            .iter()
            .rev()
            .take(LOOKBACK_SEGMENTS)
            .map(|s| s.text.as_str())
            .collect();
        let repeats = repeats_recent_text(&segment.text, &recent);
        if repeats && !speech_near(&segment, probs, threshold) {
            tracing::debug!(
                "dropped a repeat over non-speech at {:.2}-{:.2} s: {:?}",
                segment.start,
                segment.end,
                segment.text
            );
            dropped += 1;
        } else {
            kept.push(segment);
        }
    }
    transcript.segments = kept;
    if dropped > 0 {
        transcript.text = transcript
            .segments
            .iter()
            .map(|s| s.text.as_str())
            .collect::<String>()
            .trim()
            .to_string();
    }
    transcript.stats.dropped_repeats += dropped;
    dropped
}

/// Whether most of `text`'s words ([`REPEATED_SHARE`]) occur, in order, among the words of
/// `recent` (newest first).
fn repeats_recent_text(text: &str, recent: &[&str]) -> bool {
    let own = words(text);
    if own.is_empty() {
        return false;
    }
    let before: Vec<String> = recent.iter().rev().flat_map(|t| words(t)).collect();
    common_subsequence(&own, &before) as f64 >= REPEATED_SHARE * own.len() as f64
}

/// Length of the longest common subsequence of `a` and `b`.
fn common_subsequence(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Whether any of the detector's chunks within [`SPEECH_MARGIN_S`] of `segment` reaches
/// `threshold`.
fn speech_near(segment: &Segment, probs: &[f32], threshold: f64) -> bool {
    let chunk_s = CHUNK_SAMPLES as f64 / f64::from(SAMPLE_RATE);
    let from = ((segment.start - SPEECH_MARGIN_S) / chunk_s)
        .floor()
        .max(0.0) as usize;
    let to = ((segment.end + SPEECH_MARGIN_S) / chunk_s).ceil().max(0.0) as usize;
    probs[from.min(probs.len())..to.min(probs.len())]
        .iter()
        .any(|&p| f64::from(p) >= threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment(start: f64, end: f64, text: &str) -> Segment {
        Segment {
            start,
            end,
            text: text.to_string(),
            ..Segment::default()
        }
    }

    #[test]
    fn a_repeat_over_non_speech_is_dropped_and_one_over_speech_kept() {
        // 30 s of audio: speech in 0-3 s and 20-23 s, quiet elsewhere.
        let chunk_s = CHUNK_SAMPLES as f64 / f64::from(SAMPLE_RATE);
        let probs: Vec<f32> = (0..(30.0 / chunk_s) as usize)
            .map(|i| {
                let t = i as f64 * chunk_s;
                if t < 3.0 || (20.0..23.0).contains(&t) {
                    0.9
                } else {
                    0.05
                }
            })
            .collect();
        let mut t = Transcript {
            segments: vec![
                segment(0.0, 3.0, " Ask not what your country can do for you."),
                // A loop, with a word left out, far from speech: dropped.
                segment(9.0, 12.0, " Ask not what country can do for you."),
                segment(12.0, 14.0, " something new"),
                // Stamped early, next to the real speech at 20 s: kept.
                segment(16.5, 19.0, " Ask not what your country can do for you."),
                segment(20.0, 23.0, " ask not, what your country can do for you"),
            ],
            ..Transcript::default()
        };
        assert_eq!(drop_repeats_over_non_speech(&mut t, &probs, 0.35), 1);
        let starts: Vec<f64> = t.segments.iter().map(|s| s.start).collect();
        assert_eq!(starts, vec![0.0, 12.0, 16.5, 20.0]);
        assert_eq!(t.stats.dropped_repeats, 1);
        assert!(t.text.starts_with("Ask not") && t.text.contains("something new"));
    }

    #[test]
    fn words_ignore_case_and_punctuation() {
        assert!(repeats_recent_text(
            "Do for you.",
            &["ask not what you can DO, for you"]
        ));
        // Newest first: the text before reads "ask what you can do for your country".
        assert!(repeats_recent_text(
            "You can do for your country",
            &["for your country.", "ask what you can do"]
        ));
        assert!(!repeats_recent_text(
            "you can do for your country now and then",
            &["for your country.", "ask what you can do"]
        ));
        assert!(!repeats_recent_text("for me", &["for you"]));
        assert!(!repeats_recent_text(" ...", &["anything"]));
    }
}
