//! Times of segments as subtitle and table timestamps. Every writer goes through here, so a
//! segment's start and end read the same in srt, vtt and tsv.

/// Seconds to whole milliseconds, rounded half up.
///
/// The time is first snapped to the nearest microsecond and only then rounded to the
/// millisecond: `1.9995` is stored by `f64` as `1.99949999…`, and rounding that directly would
/// give 1999 ms where anyone reading the number expects 2000. (openai/whisper uses Python's
/// `round`, half to even on the float; Whisper's own timestamps are multiples of 20 ms, where the
/// two agree.) Negative and NaN times clamp to 0; huge ones saturate.
pub fn to_millis(seconds: f64) -> u64 {
    if seconds.is_nan() || seconds <= 0.0 {
        return 0;
    }
    // `as` saturates on overflow and infinity.
    let micros = (seconds * 1_000_000.0).round() as u64;
    micros.saturating_add(500) / 1000
}

/// A segment's start and end in milliseconds: both rounded by [`to_millis`], and the end pulled
/// up to the start when it would come before it, because players reject or drop such cues.
pub fn span_millis(start: f64, end: f64) -> (u64, u64) {
    let start = to_millis(start);
    (start, to_millis(end).max(start))
}

/// `HH:MM:SS<marker>mmm`, hours always shown (with at least two digits), as SRT requires and
/// WebVTT allows.
pub fn format_millis(millis: u64, decimal_marker: char) -> String {
    let hours = millis / 3_600_000;
    let minutes = millis / 60_000 % 60;
    let seconds = millis / 1000 % 60;
    let fraction = millis % 1000;
    format!("{hours:02}:{minutes:02}:{seconds:02}{decimal_marker}{fraction:03}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_half_up_with_carry() {
        assert_eq!(to_millis(1.9995), 2000);
        assert_eq!(to_millis(1.9994), 1999);
        assert_eq!(to_millis(59.9995), 60_000);
        assert_eq!(to_millis(3599.9995), 3_600_000);
        assert_eq!(to_millis(0.0005), 1);
        assert_eq!(to_millis(0.02), 20);
    }

    #[test]
    fn clamps_bad_times() {
        assert_eq!(to_millis(-1.0), 0);
        assert_eq!(to_millis(f64::NAN), 0);
        assert_eq!(to_millis(f64::INFINITY), u64::MAX / 1000);
        assert_eq!(span_millis(5.0, 4.0), (5000, 5000));
        assert_eq!(span_millis(-3.0, -1.0), (0, 0));
    }

    #[test]
    fn formats_all_fields() {
        assert_eq!(format_millis(0, ','), "00:00:00,000");
        assert_eq!(format_millis(60_000, ','), "00:01:00,000");
        assert_eq!(format_millis(3_723_004, '.'), "01:02:03.004");
        assert_eq!(format_millis(100 * 3_600_000, '.'), "100:00:00.000");
    }
}
