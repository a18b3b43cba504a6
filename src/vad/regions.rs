//! From per-chunk speech probabilities to speech regions: faster-whisper 1.2.1's
//! `get_speech_timestamps` (itself adapted from snakers4/silero-vad), with its knobs and
//! defaults, giving the very same sample indices.
//!
//! The algorithm, in one pass over the chunks:
//! - a chunk at or above `threshold` starts a region (and cancels a pending end);
//! - a chunk below `neg_threshold` inside a region marks a pending end; the region ends there
//!   once the silence has lasted `min_silence_duration_ms`, and is kept only if it is longer
//!   than `min_speech_duration_ms`;
//! - a region that grows past `max_speech_duration_s` is cut at the last silence of more than
//!   98 ms, or, without one, right there;
//! - finally every region is padded by `speech_pad_ms` on each side, and where two regions are
//!   closer than twice that, the gap between them is shared out evenly.

use std::ops::Range;

use super::{CHUNK_SAMPLES, SAMPLE_RATE};

/// faster-whisper's `VadOptions`, with its defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct VadOptions {
    /// Probability at or above which a chunk is speech (faster-whisper: `threshold`, 0.5).
    pub threshold: f64,
    /// Probability below which a chunk is silence; between the two a chunk continues what
    /// came before. `None`: `threshold - 0.15`, at least 0.01 (`neg_threshold`).
    pub neg_threshold: Option<f64>,
    /// Regions ended by silence that are not longer than this are dropped
    /// (`min_speech_duration_ms`, 0).
    pub min_speech_duration_ms: u32,
    /// Regions longer than this are split (`max_speech_duration_s`, unlimited).
    pub max_speech_duration_s: f64,
    /// Silence a region must be followed by to end (`min_silence_duration_ms`, 2000).
    pub min_silence_duration_ms: u32,
    /// Padding added to each side of a region (`speech_pad_ms`, 400).
    pub speech_pad_ms: u32,
}

impl Default for VadOptions {
    fn default() -> Self {
        VadOptions {
            threshold: 0.5,
            neg_threshold: None,
            min_speech_duration_ms: 0,
            max_speech_duration_s: f64::INFINITY,
            min_silence_duration_ms: 2000,
            speech_pad_ms: 400,
        }
    }
}

/// Silence (samples) that must precede a cut of a region grown too long.
const MIN_SILENCE_AT_MAX_SPEECH: f64 = SAMPLE_RATE as f64 * 98.0 / 1000.0;

/// The speech regions (sample ranges, sorted, within `0..num_samples`) of audio of
/// `num_samples` samples whose chunks have speech probabilities `probs`
/// ([`super::SileroVad::speech_probs`]).
pub fn speech_regions(
    probs: &[f32],
    num_samples: usize,
    options: &VadOptions,
) -> Vec<Range<usize>> {
    let rate = SAMPLE_RATE as f64;
    let window = CHUNK_SAMPLES;
    let min_speech = rate * f64::from(options.min_speech_duration_ms) / 1000.0;
    let pad = rate * f64::from(options.speech_pad_ms) / 1000.0;
    let max_speech = rate * options.max_speech_duration_s - window as f64 - 2.0 * pad;
    let min_silence = rate * f64::from(options.min_silence_duration_ms) / 1000.0;
    // faster-whisper compares float32 probabilities with Python floats, which numpy does in
    // float32: so do we.
    let threshold = options.threshold as f32;
    let neg_threshold = options
        .neg_threshold
        .unwrap_or_else(|| (options.threshold - 0.15).max(0.01)) as f32;

    let mut speeches: Vec<Range<usize>> = Vec::new();
    let mut triggered = false;
    let mut start: Option<usize> = None;
    // Zero means "none" for these three, as in the reference.
    let mut temp_end = 0; // where a pending silence began
    let mut prev_end = 0; // the last silence long enough to cut a too-long region at
    let mut next_start = 0; // where speech resumed after `prev_end`

    for (i, &prob) in probs.iter().enumerate() {
        let at = window * i;
        if prob >= threshold && temp_end != 0 {
            temp_end = 0;
            if next_start < prev_end {
                next_start = at;
            }
        }
        if prob >= threshold && !triggered {
            triggered = true;
            start = Some(at);
            continue;
        }
        if triggered
            && let Some(s) = start
            && at as f64 - s as f64 > max_speech
        {
            if prev_end != 0 {
                speeches.push(s..prev_end);
                // Still silence since `prev_end`: wait for new speech; otherwise the next
                // region starts where speech resumed.
                if next_start < prev_end {
                    triggered = false;
                    start = None;
                } else {
                    start = Some(next_start);
                }
                prev_end = 0;
                next_start = 0;
                temp_end = 0;
            } else {
                speeches.push(s..at);
                start = None;
                prev_end = 0;
                next_start = 0;
                temp_end = 0;
                triggered = false;
                continue;
            }
        }
        if prob < neg_threshold && triggered {
            if temp_end == 0 {
                temp_end = at;
            }
            // Only a silence of more than 98 ms may later cut a region grown too long.
            if (at - temp_end) as f64 > MIN_SILENCE_AT_MAX_SPEECH {
                prev_end = temp_end;
            }
            if ((at - temp_end) as f64) < min_silence {
                continue;
            }
            let s = start.take().expect("a triggered region has a start");
            if temp_end as f64 - s as f64 > min_speech {
                speeches.push(s..temp_end);
            }
            prev_end = 0;
            next_start = 0;
            temp_end = 0;
            triggered = false;
        }
    }
    if let Some(s) = start
        && (num_samples as f64 - s as f64) > min_speech
    {
        speeches.push(s..num_samples);
    }
    pad_regions(&mut speeches, pad, num_samples);
    speeches
}

/// Shortest stretch of non-speech the transcriber cuts out, in seconds: at the file's start or
/// end, or between two regions (with faster-whisper's defaults those are at least 1.2 s).
///
/// Cutting a shorter one saves little decoding and guards against nothing (Whisper invents text
/// over long pauses, not over a breath), but it moves all the speech after it by a fraction of
/// a second against the 30 s windows, and Whisper's greedy and beam decodings of the same speech
/// shifted that little differ by a word here and there (measured on the corpus's multilingual
/// files, whose lead-ins the VAD trimmed by 0.1-0.2 s); and where the detector is slow to hear
/// speech again (after minutes of music) the pause it cuts can hold words (JFK's "ask not",
/// in a 1.7 s gap). Kept, a file with no long pause decodes exactly as without the VAD.
pub const MIN_CUT_S: f64 = 2.0;

/// `regions` (sorted, disjoint, within `0..num_samples`) with every non-speech stretch shorter
/// than [`MIN_CUT_S`] given back to speech: the first region reaches back to the start and the
/// last to the end where less than that is left, and regions closer than that are merged.
pub fn keep_short_gaps(regions: &[Range<usize>], num_samples: usize) -> Vec<Range<usize>> {
    let min_cut = (MIN_CUT_S * f64::from(SAMPLE_RATE)) as usize;
    let mut kept: Vec<Range<usize>> = Vec::with_capacity(regions.len());
    for r in regions {
        match kept.last_mut() {
            Some(last) if r.start.saturating_sub(last.end) < min_cut => last.end = r.end,
            Some(_) => kept.push(r.clone()),
            None => kept.push(if r.start < min_cut {
                0..r.end
            } else {
                r.clone()
            }),
        }
    }
    if let Some(last) = kept.last_mut()
        && num_samples.saturating_sub(last.end) < min_cut
    {
        last.end = num_samples;
    }
    kept
}

/// Probability that still counts as the rise of speech: a region reaches back through the
/// chunks at or above it before the chunk that crossed the threshold.
pub const ONSET_FLOOR: f32 = 0.01;

/// Furthest a region reaches back for its rise, in seconds.
pub const ONSET_MAX_S: f64 = 1.0;

/// `regions` ([`speech_regions`] of `probs` with `options`) each starting where its speech
/// began to rise rather than where it crossed the threshold: from the crossing, back through
/// the chunks at or above [`ONSET_FLOOR`] (at most [`ONSET_MAX_S`]), then padded as before, never
/// into the region before.
///
/// After minutes of loud non-speech Silero's state is slow to believe speech again: after 3
/// minutes of music its probabilities stay below 0.35 for the first second of a sentence while
/// they climb from 0.01, so a region padded from the crossing begins in the middle of the first
/// word, and the word is lost. Over room tone and hiss the rise is shorter.
/// A region starting the file, or one whose speech was already above the floor before the
/// padding, is left alone.
pub fn start_at_onsets(
    regions: &[Range<usize>],
    probs: &[f32],
    options: &VadOptions,
) -> Vec<Range<usize>> {
    let rate = f64::from(SAMPLE_RATE);
    let pad = (rate * f64::from(options.speech_pad_ms) / 1000.0) as usize;
    let max_back = (ONSET_MAX_S * rate) as usize / CHUNK_SAMPLES;
    let mut out: Vec<Range<usize>> = Vec::with_capacity(regions.len());
    for r in regions {
        let previous_end = out.last().map_or(0, |p| p.end);
        // The chunk that crossed the threshold: the region's start before padding.
        let crossing = (r.start + pad) / CHUNK_SAMPLES;
        let mut first = crossing.min(probs.len());
        while first > 0 && crossing - first < max_back && probs[first - 1] >= ONSET_FLOOR {
            first -= 1;
        }
        let start = (first * CHUNK_SAMPLES)
            .saturating_sub(pad)
            .max(previous_end)
            .min(r.start);
        out.push(start..r.end);
    }
    out
}

/// Pads every region by `pad` samples each side, within the audio; where two regions are
/// closer than `2 * pad`, each gets half of the gap instead.
fn pad_regions(speeches: &mut [Range<usize>], pad: f64, num_samples: usize) {
    let padded_start = |start: usize, by: f64| (start as f64 - by).max(0.0) as usize;
    let padded_end = |end: usize| (end as f64 + pad).min(num_samples as f64) as usize;
    let count = speeches.len();
    for i in 0..count {
        if i == 0 {
            speeches[0].start = padded_start(speeches[0].start, pad);
        }
        if i + 1 < count {
            let gap = speeches[i + 1].start as i64 - speeches[i].end as i64;
            if (gap as f64) < 2.0 * pad {
                let half = gap.div_euclid(2);
                speeches[i].end = (speeches[i].end as i64 + half) as usize;
                speeches[i + 1].start = padded_start(speeches[i + 1].start, half as f64);
            } else {
                speeches[i].end = padded_end(speeches[i].end);
                speeches[i + 1].start = padded_start(speeches[i + 1].start, pad);
            }
        } else {
            speeches[i].end = padded_end(speeches[i].end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_shorter_than_the_minimum_cut_go_back_to_speech() {
        let second = SAMPLE_RATE as usize;
        let total = 60 * second;
        // A 0.2 s lead-in, a 0.5 s gap, a 3 s gap and a 0.9 s tail: only the 3 s gap stays cut
        // (the minimum is 2 s).
        let regions = [
            second / 5..10 * second,
            10 * second + second / 2..20 * second,
            23 * second..total - 9 * second / 10,
        ];
        assert_eq!(
            keep_short_gaps(&regions, total),
            vec![0..20 * second, 23 * second..total]
        );
        // Long edges stay cut; nothing at all stays nothing.
        let long_edges = [2 * second..5 * second, 9 * second..total - 2 * second];
        assert_eq!(keep_short_gaps(&long_edges, total), long_edges.to_vec());
        assert!(keep_short_gaps(&[], total).is_empty());
    }

    #[test]
    fn regions_reach_back_through_the_rise_of_their_speech() {
        let options = VadOptions {
            threshold: 0.35,
            speech_pad_ms: 64,
            ..VadOptions::default()
        };
        // Speech crossing the threshold at chunk 14 after rising from 11 (a region starts at its
        // crossing less the pad); a second region crossing at 60 after a rise of 40 chunks
        // (more than a second).
        let mut probs = vec![0.0f32; 100];
        probs[11..14].copy_from_slice(&[0.06, 0.1, 0.3]);
        probs[14..20].fill(0.9);
        probs[20..60].fill(0.2);
        probs[60..70].fill(0.9);
        let regions = speech_regions(&probs, 100 * 512, &options);
        assert_eq!(regions, vec![14 * 512 - 1024..100 * 512]);
        let two = [14 * 512 - 1024..20 * 512, 60 * 512 - 1024..70 * 512];
        let started = start_at_onsets(&two, &probs, &options);
        // Back to chunk 11, then the pad; the second reaches back a second (31 chunks) only.
        assert_eq!(started[0], 11 * 512 - 1024..20 * 512);
        assert_eq!(started[1], (60 - 31) * 512 - 1024..70 * 512);
        // Never into the region before, never later than it was.
        let close = [14 * 512 - 1024..58 * 512, 60 * 512 - 1024..70 * 512];
        assert_eq!(start_at_onsets(&close, &probs, &options)[1].start, 58 * 512);
        let mut flat = probs.clone();
        flat[11..14].fill(0.0);
        assert_eq!(
            start_at_onsets(&two[..1], &flat, &options),
            two[..1].to_vec()
        );
    }

    #[test]
    fn no_speech_gives_no_region() {
        assert!(speech_regions(&[0.1; 100], 51_200, &VadOptions::default()).is_empty());
    }

    #[test]
    fn speech_to_the_end_runs_to_the_last_sample_and_is_padded_at_the_start() {
        let mut probs = vec![0.0f32; 40];
        probs[20..].fill(0.9);
        let regions = speech_regions(&probs, 40 * 512 - 100, &VadOptions::default());
        assert_eq!(regions, vec![20 * 512 - 6400..40 * 512 - 100]);
    }
}
