//! The allowed range of every numeric and enumerated flag, checked by clap while it parses
//! (`value_parser = ranges::beam_size`), so a typo such as `--beam-size 4294967296` or
//! `--temperature nan` is a usage error (exit status 2) naming the flag and what it accepts,
//! never an abort, a runaway allocation or an endless decode. One place for all commands:
//! `transcribe`, `batch`, `caption` and `bench` share these parsers.

use super::decode_args::{BeamSize, OptionalNumber};
use crate::text::resolve_language;

/// Most beams and most sampled candidates per window: beyond this, memory and time grow
/// with no gain in accuracy.
pub const MAX_CANDIDATES: usize = 64;
/// Most tokens a speculative draft may propose in one round.
pub const MAX_DRAFT_TOKENS: usize = 64;
/// Highest sampling temperature: beyond it the distribution is flat and the text noise.
pub const MAX_TEMPERATURE: f64 = 2.0;
/// Highest beam patience (finished candidates = beams x patience).
pub const MAX_PATIENCE: f64 = 16.0;
/// Threads per available core at most.
pub const THREADS_PER_CORE: usize = 4;
/// Longest time (seconds) any time flag accepts: about four months of audio.
pub const MAX_SECONDS: f64 = 1.0e7;

/// A whole number in `lo..=hi`.
fn whole_in(s: &str, lo: usize, hi: usize) -> Result<usize, String> {
    s.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("expected a whole number in {lo}..={hi}, got '{s}'"))
}

/// A finite number in `[lo, hi]`.
fn number_in(s: &str, lo: f64, hi: f64) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && (lo..=hi).contains(x))
        .ok_or_else(|| format!("expected a finite number in [{lo}, {hi}], got '{s}'"))
}

/// A finite number in `(0, hi]`.
fn positive_up_to(s: &str, hi: f64) -> Result<f64, String> {
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x > 0.0 && *x <= hi)
        .ok_or_else(|| format!("expected a finite number in (0, {hi}], got '{s}'"))
}

/// `none` (also `off`), or a finite number in `[lo, hi]`.
fn optional_in(s: &str, lo: f64, hi: f64) -> Result<OptionalNumber, String> {
    match s.trim() {
        "none" | "off" | "None" => Ok(OptionalNumber(None)),
        _ => number_in(s, lo, hi)
            .map(|x| OptionalNumber(Some(x)))
            .map_err(|_| format!("expected `none` or a finite number in [{lo}, {hi}], got '{s}'")),
    }
}

/// `--beam-size`: `auto`, `greedy`, or 1..=[`MAX_CANDIDATES`] beams.
pub fn beam_size(s: &str) -> Result<BeamSize, String> {
    match s.trim() {
        "auto" => Ok(BeamSize::Auto),
        "greedy" | "none" => Ok(BeamSize::Greedy),
        _ => whole_in(s, 1, MAX_CANDIDATES)
            .map(BeamSize::Beams)
            .map_err(|_| {
                format!(
                    "expected `auto`, `greedy` or a whole number in 1..={MAX_CANDIDATES}, got '{s}'"
                )
            }),
    }
}

/// `--best-of`: 1..=[`MAX_CANDIDATES`].
pub fn candidates(s: &str) -> Result<usize, String> {
    whole_in(s, 1, MAX_CANDIDATES)
}

/// `--patience`: (0, [`MAX_PATIENCE`]].
pub fn patience(s: &str) -> Result<f64, String> {
    positive_up_to(s, MAX_PATIENCE)
}

/// The most threads (and batch jobs) any command starts: a few per available core.
pub fn max_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) * THREADS_PER_CORE
}

/// `--shard K/N` (see [`crate::batch::shard`]).
pub fn shard(s: &str) -> Result<crate::batch::Shard, String> {
    s.parse()
}

/// `--shards N`: 1 to 100000.
pub fn shard_count(s: &str) -> Result<usize, String> {
    whole_in(s, 1, 100_000)
}

/// `--threads`, `--jobs`: 1..=[`max_threads`].
pub fn threads(s: &str) -> Result<usize, String> {
    whole_in(s, 1, max_threads())
}

/// `--temperature`: [0, [`MAX_TEMPERATURE`]].
pub fn temperature(s: &str) -> Result<f32, String> {
    number_in(s, 0.0, MAX_TEMPERATURE).map(|x| x as f32)
}

/// Smallest fallback temperature step: it bounds a window's attempts (one per step up to
/// 1.0) to a few dozen.
pub const MIN_TEMPERATURE_STEP: f64 = 0.05;

/// `--temperature-increment-on-fallback`: `none`, 0 (both: no retry) or
/// [[`MIN_TEMPERATURE_STEP`], 1].
pub fn temperature_increment(s: &str) -> Result<OptionalNumber, String> {
    optional_in(s, 0.0, 1.0)
        .ok()
        .filter(|x| x.0.is_none_or(|v| v == 0.0 || v >= MIN_TEMPERATURE_STEP))
        .ok_or_else(|| {
            format!(
                "expected `none`, 0 or a finite number in [{MIN_TEMPERATURE_STEP}, 1], got '{s}'"
            )
        })
}

/// `--compression-ratio-threshold`: `none` or [0, 1000] (zlib ratios of text are small).
pub fn compression_ratio(s: &str) -> Result<OptionalNumber, String> {
    optional_in(s, 0.0, 1000.0)
}

/// `--logprob-threshold`: `none` or a mean token log-probability in [-1000, 0].
pub fn logprob(s: &str) -> Result<OptionalNumber, String> {
    optional_in(s, -1000.0, 0.0)
}

/// `--no-speech-threshold`: `none` or a probability in [0, 1].
pub fn probability_threshold(s: &str) -> Result<OptionalNumber, String> {
    optional_in(s, 0.0, 1.0)
}

/// A probability in [0, 1] (`bench --draft-confidence`).
pub fn probability(s: &str) -> Result<f32, String> {
    number_in(s, 0.0, 1.0).map(|x| x as f32)
}

/// `--vad-threshold`: a speech probability in [0.01, 0.99].
pub fn vad_threshold(s: &str) -> Result<f64, String> {
    number_in(s, 0.01, 0.99)
}

/// The VAD's durations in milliseconds: 0..=600000 (ten minutes).
pub fn vad_ms(s: &str) -> Result<u32, String> {
    whole_in(s, 0, 600_000).map(|n| n as u32)
}

/// A level in dBFS: [-200, 0].
pub fn level_db(s: &str) -> Result<f64, String> {
    number_in(s, -200.0, 0.0)
}

/// `--silence-threshold-db`: `none` or a level in [-200, 0] dBFS.
pub fn optional_level_db(s: &str) -> Result<OptionalNumber, String> {
    optional_in(s, -200.0, 0.0)
}

/// `--audio-context`: `none` or [0, 30] seconds (a window is 30 s).
pub fn audio_context(s: &str) -> Result<OptionalNumber, String> {
    optional_in(s, 0.0, 30.0)
}

/// A point in time or a stretch of audio in seconds: [0, [`MAX_SECONDS`]].
pub fn seconds(s: &str) -> Result<f64, String> {
    number_in(s, 0.0, MAX_SECONDS)
}

/// A duration in seconds above 0: (0, [`MAX_SECONDS`]].
pub fn positive_seconds(s: &str) -> Result<f64, String> {
    positive_up_to(s, MAX_SECONDS)
}

/// `batch --max-hours`: (0, 10000].
pub fn hours(s: &str) -> Result<f64, String> {
    positive_up_to(s, 10_000.0)
}

/// `caption --step-ms`: 50..=60000 milliseconds (a shorter step only queues decodes).
pub fn step_ms(s: &str) -> Result<u64, String> {
    whole_in(s, 50, 60_000).map(|n| n as u64)
}

/// `--max-line-width`: 1..=10000 characters.
pub fn line_width(s: &str) -> Result<usize, String> {
    whole_in(s, 1, 10_000)
}

/// `--max-line-count`: 1..=1000 lines.
pub fn line_count(s: &str) -> Result<usize, String> {
    whole_in(s, 1, 1000)
}

/// `--draft-tokens`, `--max-draft-tokens`: 1..=[`MAX_DRAFT_TOKENS`].
pub fn draft_tokens(s: &str) -> Result<usize, String> {
    whole_in(s, 1, MAX_DRAFT_TOKENS)
}

/// `bench --draft-prompt-tokens`: 0..=448 (the decoder's context).
pub fn prompt_tokens(s: &str) -> Result<usize, String> {
    whole_in(s, 0, 448)
}

/// `--window-step-budget`: 0..=65536 decoding steps (below 224, a window is never retried).
pub fn window_step_budget(s: &str) -> Result<usize, String> {
    whole_in(s, 0, 65_536)
}

/// `caption --max-lag`: `none`, or [[`RESUME_S`], 600] seconds (a jump keeps `RESUME_S`).
///
/// [`RESUME_S`]: crate::transcribe::stream::RESUME_S
pub fn max_lag(s: &str) -> Result<OptionalNumber, String> {
    let lo = crate::transcribe::stream::RESUME_S;
    optional_in(s, lo, 600.0)
}

/// `bench --runs`: 1..=1000.
pub fn runs(s: &str) -> Result<usize, String> {
    whole_in(s, 1, 1000)
}

/// `--language`: `auto`, or a language Whisper knows by code, English name or alias.
pub fn language(s: &str) -> Result<String, String> {
    let given = s.trim();
    if given == "auto" || resolve_language(given).is_some() {
        Ok(given.to_string())
    } else {
        Err(format!(
            "expected `auto` or a Whisper language code or name (en, de, French, ...), got '{s}'"
        ))
    }
}

/// `--output-format`: a comma list of txt, json, srt, vtt, tsv, or `all`.
pub fn output_formats(s: &str) -> Result<String, String> {
    crate::output::parse_formats(s)
        .map(|_| s.to_string())
        .map_err(|e| format!("{e} (expected txt, json, srt, vtt, tsv, a comma list, or all)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_outside_their_range_are_refused() {
        for bad in [
            "0",
            "-1",
            "65",
            "4294967296",
            "99999999999999999999",
            "nan",
            "",
        ] {
            assert!(candidates(bad).is_err(), "{bad}");
        }
        assert_eq!(candidates("64"), Ok(64));
        assert_eq!(candidates(" 1 "), Ok(1));
        assert!(threads(&(max_threads() + 1).to_string()).is_err());
        assert_eq!(threads("1"), Ok(1));
    }

    #[test]
    fn numbers_must_be_finite_and_in_range() {
        for bad in ["nan", "inf", "-inf", "1e9", "-0.1", "2.01"] {
            assert!(temperature(bad).is_err(), "{bad}");
        }
        assert_eq!(temperature("0"), Ok(0.0));
        assert!(patience("0").is_err());
        assert!(patience("1e300").is_err());
        assert_eq!(patience("2"), Ok(2.0));
        assert_eq!(logprob("none"), Ok(OptionalNumber(None)));
        assert_eq!(logprob("-1"), Ok(OptionalNumber(Some(-1.0))));
        assert!(logprob("nan").is_err());
        assert!(logprob("1").is_err());
        assert!(temperature_increment("0.001").is_err());
        assert_eq!(temperature_increment("0"), Ok(OptionalNumber(Some(0.0))));
        assert_eq!(temperature_increment("0.2"), Ok(OptionalNumber(Some(0.2))));
        let err = compression_ratio("inf").unwrap_err();
        assert!(err.contains("[0, 1000]"), "{err}");
    }

    #[test]
    fn languages_must_be_known() {
        assert_eq!(language("auto").as_deref(), Ok("auto"));
        assert_eq!(language("German").as_deref(), Ok("German"));
        assert_eq!(language("de").as_deref(), Ok("de"));
        for bad in ["", " ", "xx", "klingon"] {
            assert!(language(bad).is_err(), "{bad:?}");
        }
    }
}
