//! Turning one window's tokens into timed segments, and how far to seek, exactly as
//! openai/whisper's transcribe loop does.
//!
//! With timestamps, a window's tokens look like `<|0.00|> text <|2.40|><|2.40|> text <|5.10|>`:
//! every pair of adjacent timestamp tokens closes a segment. If the window ends on a single
//! timestamp (`... text <|5.10|>`) the speech ran to the end of what was decoded and the next
//! window starts after this one; otherwise the last segment is incomplete (cut by the window
//! edge) and the next window starts at the last complete timestamp, so that segment is decoded
//! again whole.

/// Seconds per timestamp token step.
pub const TIME_PRECISION: f64 = 0.02;
/// Mel frames per timestamp step (two 10 ms frames per 20 ms token).
pub const FRAMES_PER_TIMESTAMP: usize = 2;
/// Seconds per mel frame.
pub const FRAME_SECONDS: f64 = 0.01;

/// A segment before its text is decoded: times in seconds from the start of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct TimedTokens {
    /// Start in seconds.
    pub start: f64,
    /// End in seconds.
    pub end: f64,
    /// The segment's tokens, timestamps included.
    pub tokens: Vec<u32>,
}

/// The segments of one decoded window and how many frames to advance.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSplit {
    /// Segments in order.
    pub segments: Vec<TimedTokens>,
    /// Mel frames to move the window start by.
    pub advance: usize,
    /// Whether the tokens ended on a lone timestamp (text, then one timestamp): openai/whisper
    /// then consumes the whole window, and word timings must not move the seek back.
    pub single_timestamp_ending: bool,
}

/// Splits the tokens of a window starting at `window_start` frames, whose content is
/// `window_frames` frames long (3000, or less at the end of the file), into segments.
/// `tokens` are the sampled tokens without the final end-of-text.
pub fn split_window(
    tokens: &[u32],
    timestamp_begin: u32,
    window_start: usize,
    window_frames: usize,
) -> WindowSplit {
    let offset = window_start as f64 * FRAME_SECONDS;
    let window_seconds = window_frames as f64 * FRAME_SECONDS;
    let is_ts = |t: u32| t >= timestamp_begin;
    let seconds = |t: u32| f64::from(t - timestamp_begin) * TIME_PRECISION;
    let n = tokens.len();
    let single_timestamp_ending = n >= 2 && !is_ts(tokens[n - 2]) && is_ts(tokens[n - 1]);
    // Indices where a timestamp follows a timestamp: the start of the second one.
    let mut slices: Vec<usize> = (1..n)
        .filter(|&i| is_ts(tokens[i - 1]) && is_ts(tokens[i]))
        .collect();

    if slices.is_empty() {
        // No complete pair: the whole window is one segment, ending at its last timestamp
        // when there is one beyond 0.
        let end = match tokens.iter().rev().find(|&&t| is_ts(t)) {
            Some(&t) if t != timestamp_begin => seconds(t),
            _ => window_seconds,
        };
        let segments = if n == 0 {
            Vec::new()
        } else {
            vec![TimedTokens {
                start: offset,
                end: offset + end,
                tokens: tokens.to_vec(),
            }]
        };
        return WindowSplit {
            segments,
            advance: window_frames,
            single_timestamp_ending,
        };
    }

    if single_timestamp_ending {
        slices.push(n);
    }
    let mut segments = Vec::with_capacity(slices.len());
    let mut last = 0;
    for &cut in &slices {
        let piece = &tokens[last..cut];
        segments.push(TimedTokens {
            start: offset + seconds(piece[0].max(timestamp_begin)),
            end: offset + seconds(piece[piece.len() - 1].max(timestamp_begin)),
            tokens: piece.to_vec(),
        });
        last = cut;
    }
    let advance = if single_timestamp_ending {
        window_frames
    } else {
        // Resume at the last complete timestamp.
        (tokens[last - 1] - timestamp_begin) as usize * FRAMES_PER_TIMESTAMP
    };
    WindowSplit {
        segments,
        advance,
        single_timestamp_ending,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TB: u32 = 50364;

    #[test]
    fn pairs_close_segments_and_an_open_end_seeks_back() {
        // <|0.00|> a b <|1.00|><|1.00|> c <|2.00|><|2.50|> d   (cut by the window edge)
        let toks = [TB, 1, 2, TB + 50, TB + 50, 3, TB + 100, TB + 125, 4];
        let split = split_window(&toks, TB, 300, 3000);
        assert_eq!(split.segments.len(), 2);
        assert_eq!(split.segments[0].tokens, vec![TB, 1, 2, TB + 50]);
        assert!((split.segments[0].start - 3.0).abs() < 1e-9);
        assert!((split.segments[0].end - 4.0).abs() < 1e-9);
        assert!((split.segments[1].end - 5.0).abs() < 1e-9);
        // Seek to the last complete timestamp: 2.00 s = 200 frames.
        assert_eq!(split.advance, 200);
    }

    #[test]
    fn single_timestamp_ending_consumes_the_window() {
        let toks = [TB, 1, TB + 50, TB + 50, 2, TB + 90];
        let split = split_window(&toks, TB, 0, 1100);
        assert_eq!(split.segments.len(), 2);
        assert_eq!(split.segments[1].tokens, vec![TB + 50, 2, TB + 90]);
        assert!((split.segments[1].end - 1.8).abs() < 1e-9);
        assert_eq!(split.advance, 1100);
    }

    #[test]
    fn no_timestamps_is_one_segment_over_the_window() {
        let split = split_window(&[5, 6, 7], TB, 3000, 1234);
        assert_eq!(split.segments.len(), 1);
        assert!((split.segments[0].start - 30.0).abs() < 1e-9);
        assert!((split.segments[0].end - 42.34).abs() < 1e-9);
        assert_eq!(split.advance, 1234);
        assert!(split_window(&[], TB, 0, 3000).segments.is_empty());
    }

    #[test]
    fn a_lone_final_timestamp_sets_the_end() {
        // <|0.00|> text <|3.00|> with no pair: one segment ending at 3.00.
        let split = split_window(&[TB, 9, 9, TB + 150], TB, 0, 3000);
        assert_eq!(split.segments.len(), 1);
        assert!((split.segments[0].end - 3.0).abs() < 1e-9);
        assert_eq!(split.advance, 3000);
    }
}
