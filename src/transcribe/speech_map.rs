//! Transcribing only the speech of a file: its speech regions (from the voice activity
//! detector) are cut out and joined end to end, the joined audio is transcribed as any audio
//! is (30 s windows full of speech instead of windows of pauses, music or room tone, over
//! which Whisper invents text), and every timestamp is mapped back to the original timeline.
//! Speech after a long pause starts windows of its own ([`SpeechMap::stretches`]); a segment
//! that runs across a shorter cut is split there ([`super::cut_split`]).

use std::ops::Range;

use crate::audio::SAMPLE_RATE;
use crate::transcript::{Segment, Transcript};

/// A segment edge this close to a cut (seconds of joined audio) belongs to the other side.
const SNAP_S: f64 = 1.0;

/// Non-speech cut out that separates one stretch of speech from the next, in seconds: the
/// speech after it starts a new window, without the text before it as prompt. Speech from
/// either side of a minute of music shares nothing, and decoded in one window it costs words
/// (JFK after 3 minutes of music lost "ask not" that way; alone, it keeps them).
pub const LONG_CUT_S: f64 = 10.0;

/// Speech regions of a file (sample ranges of the original audio) and where each lands in the
/// joined audio.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechMap {
    /// Regions in the original audio, sorted, not overlapping, not empty.
    regions: Vec<Range<usize>>,
    /// Where each region starts in the joined audio.
    joined_starts: Vec<usize>,
    /// Length of the joined audio in samples.
    joined_len: usize,
}

/// Which side of a boundary between two joined regions a time belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A start: at a boundary, the start of the next region.
    Start,
    /// An end: at a boundary, the end of the previous region.
    End,
}

impl SpeechMap {
    /// The map of `regions` (sample ranges of audio `total` samples long): clipped to the
    /// audio, sorted, overlapping or touching ones merged, empty ones dropped.
    pub fn new(mut regions: Vec<Range<usize>>, total: usize) -> SpeechMap {
        for r in &mut regions {
            r.end = r.end.min(total);
            r.start = r.start.min(r.end);
        }
        regions.retain(|r| !r.is_empty());
        regions.sort_by_key(|r| r.start);
        let mut merged: Vec<Range<usize>> = Vec::with_capacity(regions.len());
        for r in regions {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        let mut joined_starts = Vec::with_capacity(merged.len());
        let mut joined_len = 0;
        for r in &merged {
            joined_starts.push(joined_len);
            joined_len += r.len();
        }
        SpeechMap {
            regions: merged,
            joined_starts,
            joined_len,
        }
    }

    /// The speech regions, in samples of the original audio.
    pub fn regions(&self) -> &[Range<usize>] {
        &self.regions
    }

    /// Samples of speech in all.
    pub fn speech_samples(&self) -> usize {
        self.joined_len
    }

    /// The longest stretch of original audio left out between joined-audio positions `from`
    /// and `to` (samples; a cut exactly at `to` counts, one at `from` does not).
    pub fn longest_cut_between(&self, from: usize, to: usize) -> usize {
        (1..self.regions.len())
            .filter(|&i| self.joined_starts[i] > from && self.joined_starts[i] <= to)
            .map(|i| self.regions[i].start - self.regions[i - 1].end)
            .max()
            .unwrap_or(0)
    }

    /// Where the joined audio is split into stretches at cuts of [`LONG_CUT_S`] or more, as
    /// clip timestamps (pairs of start and end seconds of joined audio, the last end left
    /// open): each stretch is transcribed in windows of its own.
    pub fn stretches(&self) -> Vec<f64> {
        let long = (LONG_CUT_S * f64::from(SAMPLE_RATE)) as usize;
        let mut clips = vec![0.0];
        for i in 1..self.regions.len() {
            if self.regions[i].start - self.regions[i - 1].end >= long {
                let at = self.joined_start_s(i);
                clips.extend([at, at]);
            }
        }
        clips
    }

    /// Where region `i` ends in the joined audio, in seconds.
    pub fn joined_end_s(&self, i: usize) -> f64 {
        (self.joined_starts[i] + self.regions[i].len()) as f64 / f64::from(SAMPLE_RATE)
    }

    /// Whether a cut lies strictly inside joined-audio times `start..end` (seconds).
    pub fn cut_inside(&self, start: f64, end: f64) -> bool {
        let rate = f64::from(SAMPLE_RATE);
        let (from, to) = ((start * rate).max(0.0) as usize, (end * rate) as usize);
        to > from + 1 && self.longest_cut_between(from, to - 1) > 0
    }

    /// The region joined-audio time `t` (seconds) belongs to (a time on a boundary: the
    /// region starting there).
    pub fn region_of(&self, t: f64) -> usize {
        self.region_at(t * f64::from(SAMPLE_RATE), Side::Start)
    }

    /// Where region `i` starts in the joined audio, in seconds.
    pub fn joined_start_s(&self, i: usize) -> f64 {
        self.joined_starts[i] as f64 / f64::from(SAMPLE_RATE)
    }

    /// The regions' samples of `samples`, joined end to end.
    pub fn join(&self, samples: &[f32]) -> Vec<f32> {
        let mut joined = Vec::with_capacity(self.joined_len);
        for r in &self.regions {
            joined.extend_from_slice(&samples[r.clone()]);
        }
        joined
    }

    /// The region a joined-audio sample position `x` belongs to, on `side` of a boundary.
    fn region_at(&self, x: f64, side: Side) -> usize {
        // Regions whose joined start is before `x` (or at it, for a start).
        let before = self.joined_starts.partition_point(|&s| match side {
            Side::Start => s as f64 <= x,
            Side::End => (s as f64) < x,
        });
        before.saturating_sub(1)
    }

    /// The original time (seconds) of joined-audio time `t`, within region `i`.
    fn in_region(&self, t: f64, i: usize) -> f64 {
        let rate = f64::from(SAMPLE_RATE);
        let r = &self.regions[i];
        let offset = (t * rate - self.joined_starts[i] as f64).clamp(0.0, r.len() as f64);
        (r.start as f64 + offset) / rate
    }

    /// The original time of joined-audio time `t` (seconds); a time on the boundary of two
    /// regions is the next region's start or the previous one's end, as `side` says.
    pub fn original_time(&self, t: f64, side: Side) -> f64 {
        if self.regions.is_empty() {
            return t;
        }
        let i = self.region_at(t * f64::from(SAMPLE_RATE), side);
        self.in_region(t, i)
    }

    /// Maps every timestamp of `transcript` (made from the joined audio) back to the original
    /// timeline: a word stays inside the region of its middle; a segment spans its words
    /// (without words, its start and end are mapped as such).
    pub fn restore(&self, transcript: &mut Transcript) {
        if self.regions.is_empty() {
            return;
        }
        for segment in &mut transcript.segments {
            self.restore_segment(segment);
        }
    }

    /// The regions segment `segment` spans: those of its start and end timestamps, except
    /// that an edge less than [`SNAP_S`] from a cut belongs to the other side (Whisper puts a
    /// segment's edge in the padding next to a cut, and its speech is on the other side).
    fn segment_regions(&self, segment: &Segment) -> (usize, usize) {
        let rate = f64::from(SAMPLE_RATE);
        let (start, end) = (segment.start * rate, segment.end * rate);
        let mut first = self.region_at(start, Side::Start);
        let mut last = self.region_at(end, Side::End).max(first);
        let snap = SNAP_S * rate;
        if first < last && self.joined_starts[first + 1] as f64 - start < snap {
            first += 1;
        }
        if first < last && end - (self.joined_starts[last] as f64) < snap {
            last -= 1;
        }
        (first, last)
    }

    /// Maps one segment back: its words each inside the region of their middle (kept within
    /// the segment's regions, where alignment next to a cut can stray), the segment spanning
    /// its words, or without words its own edges.
    fn restore_segment(&self, segment: &mut Segment) {
        let rate = f64::from(SAMPLE_RATE);
        let (first, last) = self.segment_regions(segment);
        for word in &mut segment.words {
            let middle = (word.start + word.end) / 2.0;
            let i = self
                .region_at(middle * rate, Side::Start)
                .clamp(first, last);
            let duration = word.end - word.start;
            let region_end = self.regions[i].end as f64 / rate;
            word.start = self.in_region(word.start, i);
            // A word moved into its segment's region keeps its length.
            word.end = self
                .in_region(word.end, i)
                .max((word.start + duration).min(region_end));
        }
        match (segment.words.first(), segment.words.last()) {
            (Some(first_word), Some(last_word)) => {
                segment.start = first_word.start;
                segment.end = last_word.end;
            }
            _ => {
                segment.start = self.in_region(segment.start, first);
                segment.end = self.in_region(segment.end, last).max(segment.start);
            }
        }
    }
}

/// `regions` cut down to the clips of `clip_timestamps` (pairs of start and end seconds, the
/// last end defaulting to the end of audio `total` samples long).
pub fn within_clips(
    regions: &[Range<usize>],
    clip_timestamps: &[f64],
    total: usize,
) -> Vec<Range<usize>> {
    let rate = f64::from(SAMPLE_RATE);
    let at = |s: f64| ((s.max(0.0) * rate) as usize).min(total);
    let clips: Vec<Range<usize>> = clip_timestamps
        .chunks(2)
        .map(|c| at(c[0])..c.get(1).map_or(total, |&e| at(e)))
        .collect();
    let mut out = Vec::new();
    for r in regions {
        for c in &clips {
            let (start, end) = (r.start.max(c.start), r.end.min(c.end));
            if start < end {
                out.push(start..end);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transcript::Word;

    const S: usize = SAMPLE_RATE as usize;

    fn map() -> SpeechMap {
        // Speech at 1-3 s and 10-12 s of a 20 s file (given unsorted, with an empty one).
        SpeechMap::new(vec![10 * S..12 * S, 5 * S..5 * S, S..3 * S], 20 * S)
    }

    #[test]
    fn regions_are_sorted_merged_and_clipped() {
        let m = SpeechMap::new(
            vec![4 * S..9 * S, S..3 * S, 2 * S..5 * S, 18 * S..30 * S],
            20 * S,
        );
        assert_eq!(m.regions(), &[S..9 * S, 18 * S..20 * S]);
        assert_eq!(m.speech_samples(), 10 * S);
    }

    #[test]
    fn cuts_are_found_between_joined_positions() {
        let m = SpeechMap::new(vec![S..3 * S, 10 * S..12 * S, 13 * S..14 * S], 20 * S);
        // Joined: 0..2 s, 2..4 s (after a 7 s cut), 4..5 s (after a 1 s cut).
        assert_eq!(m.longest_cut_between(0, S), 0);
        assert_eq!(m.longest_cut_between(0, 2 * S), 7 * S);
        assert_eq!(m.longest_cut_between(2 * S, 5 * S), S);
        assert_eq!(m.longest_cut_between(0, 5 * S), 7 * S);
    }

    #[test]
    fn cuts_inside_a_stretch_and_regions_of_times() {
        let m = map();
        // Joined: 0..2 s, then 2..4 s after the cut.
        assert!(m.cut_inside(1.5, 2.5));
        assert!(!m.cut_inside(0.0, 2.0) && !m.cut_inside(2.0, 3.0));
        assert_eq!((m.region_of(1.99), m.region_of(2.0)), (0, 1));
        assert_eq!((m.joined_start_s(1), m.joined_end_s(0)), (2.0, 2.0));
    }

    #[test]
    fn long_cuts_split_the_speech_into_stretches() {
        // Cuts of 7 s (long) and 1 s (short) at joined 2 s and 4 s.
        let m = SpeechMap::new(vec![S..3 * S, 10 * S..12 * S, 13 * S..14 * S], 20 * S);
        assert_eq!(m.stretches(), vec![0.0]);
        let m = SpeechMap::new(vec![S..3 * S, 13 * S..15 * S, 16 * S..17 * S], 20 * S);
        assert_eq!(m.stretches(), vec![0.0, 2.0, 2.0]);
    }

    #[test]
    fn regions_are_cut_to_clips() {
        let regions = [S..3 * S, 10 * S..12 * S];
        assert_eq!(
            within_clips(&regions, &[2.0, 11.0], 20 * S),
            vec![2 * S..3 * S, 10 * S..11 * S]
        );
        // The last clip runs to the end.
        assert_eq!(
            within_clips(&regions, &[11.5], 20 * S),
            vec![11 * S + S / 2..12 * S]
        );
    }

    #[test]
    fn joined_audio_is_the_regions_in_order() {
        let samples: Vec<f32> = (0..20 * S).map(|i| i as f32).collect();
        let joined = map().join(&samples);
        assert_eq!(joined.len(), 4 * S);
        assert_eq!(joined[0], S as f32);
        assert_eq!(joined[2 * S - 1], (3 * S - 1) as f32);
        assert_eq!(joined[2 * S], (10 * S) as f32);
    }

    #[test]
    fn times_map_back_with_boundaries_on_their_side() {
        let m = map();
        assert_eq!(m.original_time(0.0, Side::Start), 1.0);
        assert_eq!(m.original_time(1.5, Side::Start), 2.5);
        // 2 s of joined audio is where the second region starts.
        assert_eq!(m.original_time(2.0, Side::Start), 10.0);
        assert_eq!(m.original_time(2.0, Side::End), 3.0);
        assert_eq!(m.original_time(3.0, Side::End), 11.0);
        // Past the joined audio: the end of the last region.
        assert_eq!(m.original_time(9.0, Side::End), 12.0);
        // No regions: times are left alone.
        assert_eq!(
            SpeechMap::new(vec![], 20 * S).original_time(3.0, Side::End),
            3.0
        );
    }

    #[test]
    fn words_stay_in_the_region_of_their_middle() {
        let word = |start: f64, end: f64| Word {
            word: " w".into(),
            start,
            end,
            probability: 1.0,
        };
        let mut t = Transcript {
            segments: vec![
                Segment {
                    start: 0.0,
                    end: 3.5,
                    // The second word straddles the boundary, mostly before it.
                    words: vec![word(0.2, 0.8), word(1.7, 2.1), word(2.2, 2.5)],
                    ..Segment::default()
                },
                Segment {
                    start: 2.6,
                    end: 3.5,
                    ..Segment::default()
                },
            ],
            ..Transcript::default()
        };
        map().restore(&mut t);
        let w = &t.segments[0].words;
        assert_eq!((w[0].start, w[0].end), (1.2, 1.8));
        assert_eq!((w[1].start, w[1].end), (2.7, 3.0));
        assert!((w[2].start - 10.2).abs() < 1e-9 && (w[2].end - 10.5).abs() < 1e-9);
        assert_eq!((t.segments[0].start, t.segments[0].end), (1.2, w[2].end));
        // A word that strays before its segment's first region is put back into it.
        let mut late = Transcript {
            segments: vec![Segment {
                start: 1.5,
                end: 3.5,
                words: vec![word(1.6, 1.8), word(2.5, 3.0)],
                ..Segment::default()
            }],
            ..Transcript::default()
        };
        map().restore(&mut late);
        let w = &late.segments[0].words;
        assert!(w[0].start == 10.0 && (w[0].end - 10.2).abs() < 1e-9);
        assert_eq!((w[1].start, w[1].end), (10.5, 11.0));
        let s = &t.segments[1];
        assert!((s.start - 10.6).abs() < 1e-9 && (s.end - 11.5).abs() < 1e-9);
    }

    #[test]
    fn segment_edges_next_to_a_cut_go_to_the_other_side() {
        let segment = |start: f64, end: f64| Segment {
            start,
            end,
            ..Segment::default()
        };
        let mut t = Transcript {
            segments: vec![
                // 0.5 s before the cut at 2 s: the speech is after it.
                segment(1.5, 3.5),
                // 1.5 s before the cut: it stays, the end is after.
                segment(0.5, 3.5),
                // Ends 0.3 s after the cut: the end goes back to the first region's end.
                segment(0.5, 2.3),
            ],
            ..Transcript::default()
        };
        map().restore(&mut t);
        let times: Vec<(f64, f64)> = t.segments.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(times, vec![(10.0, 11.5), (1.5, 11.5), (1.5, 3.0)]);
    }
}
