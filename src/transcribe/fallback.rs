//! openai/whisper's temperature fallback for one window: decode greedily; if the text is a
//! repetition loop (compresses too well) or unlikely (low mean log-probability), and the
//! window is not plain silence, decode again at a higher temperature, keeping the best of
//! several samples. The best-of candidates of a sampled attempt are decoded together, as rows of
//! one pass per token ([`crate::decoding::best_of`]); a single sample goes through the
//! speculative sampler when there is a draft, which draws the target's own tokens.
//! A window's attempts share a budget of decoding steps (`window_step_budget`): a retry
//! starts only while a whole attempt still fits in it, so no audio costs more than a few
//! attempts however badly it fails the thresholds.
//! With `--verify`, every attempt and candidate is decoded again by the target alone (beams
//! one at a time) and must agree bit for bit.

use std::io::Write;
use std::time::Instant;

use flate2::Compression;
use flate2::write::ZlibEncoder;

use super::{EncodedWindow, TranscribeOptions, Transcriber, WindowPrompt};
use crate::decoding::greedy::WindowDecode;
use crate::decoding::sampling::Sampler;
use crate::decoding::speculative::SpecStats;
use crate::error::Result;

/// `len(text) / len(zlib(text, level 6))` over the UTF-8 bytes, as openai/whisper's
/// `compression_ratio` (0 for empty text).
pub fn compression_ratio(text: &str) -> f64 {
    if text.is_empty() {
        return 0.0;
    }
    let mut z = ZlibEncoder::new(Vec::new(), Compression::new(6));
    z.write_all(text.as_bytes()).expect("writing to memory");
    let compressed = z.finish().expect("writing to memory");
    text.len() as f64 / compressed.len() as f64
}

/// The attempt kept for a window.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The decoded window.
    pub result: WindowDecode,
    /// Its temperature.
    pub temperature: f32,
    /// Its text's compression ratio.
    pub compression_ratio: f64,
    /// Speculative counts over every attempt and candidate (`None` without a draft).
    pub spec: Option<SpecStats>,
    /// The random stream it was decoded with (unused when greedy): decoding the window again
    /// with it gives the same tokens, with any draft or none (`--verify` does).
    pub sampler: Sampler,
    /// With `--verify`: the first difference between any attempt or candidate and the target's
    /// own decoding of it.
    pub verify_difference: Option<String>,
    /// Attempts made (1 when the first one stood).
    pub attempts: usize,
    /// The window wanted another attempt, but a whole one no longer fit in its step budget.
    pub out_of_budget: bool,
}

/// The decoding steps an attempt took: the sampled tokens plus the end-of-text step of its
/// longest candidate (best-of candidates are decoded together, one pass per step; a beam
/// search is counted by the candidate it kept), at most `sample_len`. Counted from tokens, not
/// forward passes, so a window's budget runs out at the same attempt with a draft or without.
pub fn attempt_steps(candidates: &[WindowDecode], sample_len: usize) -> usize {
    candidates
        .iter()
        .map(|r| r.tokens.len() + usize::from(r.finished))
        .max()
        .unwrap_or(0)
        .min(sample_len)
}

impl Attempt {
    /// The window ran out of budget on a repetition loop: its text is not speech (openai
    /// would have retried it hotter), and the window is skipped like silence.
    pub fn is_unresolved_loop(&self, opts: &TranscribeOptions) -> bool {
        self.out_of_budget
            && opts
                .compression_ratio_threshold
                .is_some_and(|t| self.compression_ratio > t)
    }
}

/// Whether one more whole attempt of `sample_len` steps fits after `spent` steps.
fn retry_fits(spent: usize, sample_len: usize, budget: usize) -> bool {
    spent.saturating_add(sample_len) <= budget
}

/// Whether an attempt needs a hotter retry (openai/whisper `decode_with_fallback`).
fn needs_fallback(r: &WindowDecode, ratio: f64, opts: &TranscribeOptions) -> bool {
    let repetitive = opts.compression_ratio_threshold.is_some_and(|t| ratio > t);
    let unlikely = opts.logprob_threshold.is_some_and(|t| r.avg_logprob < t);
    let silence = matches!(
        (opts.no_speech_threshold, opts.logprob_threshold),
        (Some(ns), Some(lp)) if r.no_speech_prob > ns && r.avg_logprob < lp
    );
    (repetitive || unlikely) && !silence
}

/// Decodes `window` with fallback; see the module notes.
pub fn decode_with_fallback(
    t: &Transcriber,
    window: &EncodedWindow,
    prompt: &WindowPrompt<'_>,
    opts: &TranscribeOptions,
    sampler: &mut Sampler,
) -> Result<Attempt> {
    let temperatures = opts.temperatures();
    let mut spec: Option<SpecStats> = None;
    let mut difference: Option<String> = None;
    let mut last = None;
    let mut steps = 0usize;
    for (i, &temperature) in temperatures.iter().enumerate() {
        let candidates = if temperature > 0.0 {
            opts.best_of.max(1)
        } else {
            1
        };
        // Each attempt and candidate has its own stream of numbers (see `sampling`).
        let streams: Vec<Sampler> = (0..candidates)
            .map(|c| sampler.stream(i as u64).stream(c as u64))
            .collect();
        let decoded = if candidates > 1 {
            // Best-of candidates as rows of one pass, by the target.
            t.decode_candidates(window, prompt, opts, temperature, &streams)?
        } else {
            let (r, s) = t.decode_window_with(
                window,
                prompt,
                opts,
                temperature,
                true,
                &mut streams[0].clone(),
            )?;
            if let Some(s) = s {
                spec.get_or_insert_with(SpecStats::default).add(&s);
            }
            vec![r]
        };
        if opts.verify && difference.is_none() {
            difference = verify_attempt(t, window, prompt, opts, temperature, &streams, &decoded)?
                .map(|d| format!("attempt {i} (temperature {temperature}), {d}"));
        }
        steps += attempt_steps(&decoded, opts.sample_len);
        // openai's ranking without a length penalty: log-probability per sampled token; the
        // first of equal scores wins.
        let mut best: Option<(f64, usize)> = None;
        for (c, r) in decoded.iter().enumerate() {
            let score = r.sum_logprob / r.tokens.len().max(1) as f64;
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, c));
            }
        }
        let (_, c) = best.expect("at least one candidate");
        let result = decoded.into_iter().nth(c).expect("a decoded candidate");
        let ratio = compression_ratio(t.tokenizer().decode(&result.tokens).trim());
        let in_time = opts.fallback_deadline.is_none_or(|d| Instant::now() < d);
        let wanted = needs_fallback(&result, ratio, opts) && i + 1 < temperatures.len() && in_time;
        let fits = retry_fits(steps, opts.sample_len, opts.window_step_budget);
        let retry = wanted && fits;
        last = Some(Attempt {
            result,
            temperature,
            compression_ratio: ratio,
            spec: None,
            sampler: streams[c],
            verify_difference: None,
            attempts: i + 1,
            out_of_budget: wanted && !fits,
        });
        if !retry {
            break;
        }
        tracing::debug!(
            "window falls back from temperature {temperature}: compression ratio {ratio:.2}"
        );
    }
    let mut attempt = last.expect("at least one temperature");
    if attempt.out_of_budget {
        tracing::debug!(
            "window keeps its attempt at temperature {}: {steps} steps spent of a budget of {}",
            attempt.temperature,
            opts.window_step_budget
        );
    }
    attempt.spec = spec;
    attempt.verify_difference = difference;
    Ok(attempt)
}

/// `--verify` for one attempt: each decoded candidate against the target's own decoding of
/// the window (alone, with the candidate's random stream; beams one at a time), tokens and
/// log-probability bit for bit. The first difference, described; `None` when all agree.
fn verify_attempt(
    t: &Transcriber,
    window: &EncodedWindow,
    prompt: &WindowPrompt<'_>,
    opts: &TranscribeOptions,
    temperature: f32,
    streams: &[Sampler],
    decoded: &[WindowDecode],
) -> Result<Option<String>> {
    let beam = opts
        .beams_for(prompt.language)
        .filter(|_| temperature == 0.0);
    if beam.is_none() && decoded.len() == 1 && t.draft.is_none() {
        // The target alone decoded it already: nothing else to compare with.
        return Ok(None);
    }
    for (c, (r, stream)) in decoded.iter().zip(streams).enumerate() {
        let alone = match beam {
            Some(beams) => t.decode_beam_one_by_one(window, prompt, opts, beams)?,
            None => {
                t.decode_window_with(
                    window,
                    prompt,
                    opts,
                    temperature,
                    false,
                    &mut stream.clone(),
                )?
                .0
            }
        };
        if let Some(k) = first_difference(&alone.tokens, &r.tokens) {
            return Ok(Some(format!(
                "candidate {c}, token {k}: target alone {:?}, decoded {:?}",
                alone.tokens.get(k),
                r.tokens.get(k)
            )));
        }
        if alone.sum_logprob.to_bits() != r.sum_logprob.to_bits() {
            return Ok(Some(format!(
                "candidate {c}: same tokens, log-probability {} alone, {} decoded",
                alone.sum_logprob, r.sum_logprob
            )));
        }
    }
    Ok(None)
}

/// The first index where `a` and `b` differ (a shorter one differs where it ends).
fn first_difference(a: &[u32], b: &[u32]) -> Option<usize> {
    let common = a.iter().zip(b).position(|(x, y)| x != y);
    common.or((a.len() != b.len()).then(|| a.len().min(b.len())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(tokens: usize, finished: bool) -> WindowDecode {
        WindowDecode {
            tokens: vec![1; tokens],
            sum_logprob: 0.0,
            avg_logprob: 0.0,
            no_speech_prob: 0.0,
            finished,
            forward_passes: 0,
        }
    }

    #[test]
    fn an_attempt_costs_the_steps_of_its_longest_candidate() {
        assert_eq!(attempt_steps(&[decode(10, true)], 224), 11);
        assert_eq!(attempt_steps(&[decode(224, false)], 224), 224);
        assert_eq!(attempt_steps(&[decode(224, true)], 224), 224);
        assert_eq!(
            attempt_steps(&[decode(3, true), decode(40, true), decode(7, false)], 224),
            41
        );
    }

    #[test]
    fn a_retry_starts_only_while_a_whole_attempt_fits() {
        // The default budget: three runaway attempts of 224 steps, not a fourth.
        let budget = crate::transcribe::DEFAULT_WINDOW_STEP_BUDGET;
        assert!(retry_fits(224, 224, budget));
        assert!(retry_fits(448, 224, budget));
        assert!(!retry_fits(672, 224, budget));
        // Short attempts leave room for more of them.
        assert!(retry_fits(5 * 80, 224, budget));
        assert!(!retry_fits(usize::MAX, 224, budget));
    }

    #[test]
    fn compression_ratio_flags_repetition() {
        // zlib of 1000 repeated bytes is a few dozen bytes; of varied text, about its length.
        let loop_text = "the same words again ".repeat(20);
        assert!(compression_ratio(&loop_text) > 2.4);
        let prose = "And so my fellow Americans, ask not what your country can do for you.";
        assert!(compression_ratio(prose) < 2.4);
        assert_eq!(compression_ratio(""), 0.0);
    }

    #[test]
    fn temperatures_step_to_one() {
        let opts = TranscribeOptions::default();
        let ts = opts.temperatures();
        assert_eq!(ts.len(), 6);
        assert!((ts[5] - 1.0).abs() < 1e-6);
        let none = TranscribeOptions {
            temperature_increment: None,
            ..TranscribeOptions::default()
        };
        assert_eq!(none.temperatures(), vec![0.0]);
    }
}
