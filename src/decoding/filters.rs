//! openai/whisper's logit filters (decoding.py: `SuppressBlank`, `SuppressTokens`,
//! `ApplyTimestampRules`) and the row math every decoder shares.
//!
//! The filters are a pure function of (tokens so far, logits row for the next position): no state
//! is carried from one step to the next. That is what speculative decoding needs: the verifier
//! applies the very same function to each drafted position with that position's own prefix, and
//! the greedy reference applies it once per step, so both see identical distributions.
//!
//! [`LogitFilters::apply`] runs on every decoding step over a whole vocabulary row (51865
//! floats), so everything that does not depend on the tokens is computed once per window in
//! [`LogitFilters::new`] and `apply` never allocates.

use crate::text::{SpecialTokens, WhisperTokenizer};

/// openai/whisper's default `max_initial_timestamp` (1.0 s) in 0.02 s steps.
pub const DEFAULT_MAX_INITIAL_TIMESTAMP_INDEX: u32 = 50;

/// The timestamp rules (openai: `ApplyTimestampRules`), used when decoding with timestamps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimestampRules {
    /// The latest timestamp allowed as the first sampled token, in 0.02 s steps after
    /// `<|0.00|>` (openai: `max_initial_timestamp` / precision); `None` for no limit.
    pub max_initial_timestamp_index: Option<u32>,
}

impl Default for TimestampRules {
    /// openai/whisper's defaults: the first timestamp is at most `<|1.00|>`.
    fn default() -> Self {
        TimestampRules {
            max_initial_timestamp_index: Some(DEFAULT_MAX_INITIAL_TIMESTAMP_INDEX),
        }
    }
}

/// What to filter in one window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterOptions {
    /// Length of the prompt: the index in the token sequence of the first sampled token
    /// (openai: `sample_begin`, `len(initial_tokens)`).
    pub sample_begin: usize,
    /// Tokens never to sample: the model's `suppress_tokens` (generation_config.json), or
    /// [`WhisperTokenizer::non_speech_tokens`] for openai's `"-1"`. The special tokens
    /// openai always adds (transcribe, translate, sot, prev, sot_lm, no_speech) are added by
    /// [`LogitFilters::new`]. `None` disables the filter altogether, specials included, as an
    /// empty `suppress_tokens` option does in openai/whisper.
    pub suppress_tokens: Option<Vec<u32>>,
    /// Forbid a blank (`encode(" ")`) or eot as the first sampled token (openai: `suppress_blank`).
    pub suppress_blank: bool,
    /// Timestamp rules, when decoding with timestamps; `None` for `<|notimestamps|>` prompts.
    pub timestamps: Option<TimestampRules>,
}

impl FilterOptions {
    /// openai/whisper's defaults for a prompt of `sample_begin` tokens: suppress blank, suppress
    /// the model's list `suppress_tokens`, and the timestamp rules when `with_timestamps`.
    pub fn new(sample_begin: usize, suppress_tokens: &[u32], with_timestamps: bool) -> Self {
        FilterOptions {
            sample_begin,
            suppress_tokens: Some(suppress_tokens.to_vec()),
            suppress_blank: true,
            timestamps: with_timestamps.then(TimestampRules::default),
        }
    }
}

/// The logit filters of one decoding window. Build once per window, apply at any position.
#[derive(Debug, Clone)]
pub struct LogitFilters {
    specials: SpecialTokens,
    sample_begin: usize,
    /// Suppressed at every position: sorted, unique, all < vocab_size.
    suppress: Vec<u32>,
    /// Suppressed at the first sampled position only (empty when suppress_blank is off).
    blank: Vec<u32>,
    timestamps: Option<TimestampRules>,
}

impl LogitFilters {
    /// The filters for `tokenizer`'s vocabulary.
    pub fn new(tokenizer: &WhisperTokenizer, options: &FilterOptions) -> Self {
        Self::with_specials(*tokenizer.specials(), &tokenizer.encode(" "), options)
    }

    /// The filters from special token ids and the tokens of a blank (`encode(" ")`), for callers
    /// (and tests) without a tokenizer at hand.
    pub fn with_specials(specials: SpecialTokens, blank: &[u32], options: &FilterOptions) -> Self {
        let in_vocab = |t: &u32| (*t as usize) < specials.vocab_size;
        let suppress = match &options.suppress_tokens {
            None => Vec::new(),
            Some(list) => {
                let always = [
                    Some(specials.transcribe),
                    Some(specials.translate),
                    Some(specials.sot),
                    Some(specials.prev),
                    specials.sot_lm,
                    specials.no_speech,
                ];
                let mut all: Vec<u32> = list
                    .iter()
                    .copied()
                    .chain(always.into_iter().flatten())
                    .filter(in_vocab)
                    .collect();
                all.sort_unstable();
                all.dedup();
                all
            }
        };
        let blank = if options.suppress_blank {
            let mut b: Vec<u32> = blank
                .iter()
                .copied()
                .chain([specials.eot])
                .filter(in_vocab)
                .collect();
            b.sort_unstable();
            b.dedup();
            b
        } else {
            Vec::new()
        };
        LogitFilters {
            specials,
            sample_begin: options.sample_begin,
            suppress,
            blank,
            timestamps: options.timestamps,
        }
    }

    /// Index of the first sampled token in the token sequence.
    pub fn sample_begin(&self) -> usize {
        self.sample_begin
    }

    /// The tokens suppressed at every position (sorted).
    pub fn suppressed(&self) -> &[u32] {
        &self.suppress
    }

    /// The special tokens these filters were built for.
    pub fn specials(&self) -> &SpecialTokens {
        &self.specials
    }

    /// Sets to `-inf` every logit the rules forbid for the next token.
    ///
    /// `tokens` is the whole sequence so far (prompt + sampled tokens, not the token being
    /// predicted); `logits` is the vocabulary row for the next position. Applied in openai's
    /// order: suppress blank, suppress tokens, timestamp rules (whose last step reads the
    /// logits left by the earlier ones).
    pub fn apply(&self, tokens: &[u32], logits: &mut [f32]) {
        debug_assert_eq!(logits.len(), self.specials.vocab_size, "logits row length");
        debug_assert!(
            tokens.len() >= self.sample_begin,
            "tokens must include the prompt"
        );
        let at_begin = tokens.len() == self.sample_begin;
        if at_begin {
            forbid_each(logits, &self.blank);
        }
        forbid_each(logits, &self.suppress);
        if let Some(rules) = &self.timestamps {
            let sampled = tokens.get(self.sample_begin..).unwrap_or(&[]);
            self.apply_timestamp_rules(rules, sampled, at_begin, logits);
        }
    }

    /// openai's `ApplyTimestampRules` on one row; `sampled` are the tokens after the prompt.
    fn apply_timestamp_rules(
        &self,
        rules: &TimestampRules,
        sampled: &[u32],
        at_begin: bool,
        logits: &mut [f32],
    ) {
        let ts_begin = self.specials.timestamp_begin as usize;
        let eot = self.specials.eot as usize;
        let vocab = logits.len();
        let is_ts = |t: u32| t as usize >= ts_begin;

        // <|notimestamps|> is how a prompt asks for no timestamps, never a sampled token.
        logits[self.specials.no_timestamps as usize] = f32::NEG_INFINITY;

        // Timestamps come in pairs (end of one segment, start of the next), except right before
        // eot. openai counts "penultimate was a timestamp" as true with fewer than two sampled
        // tokens, so a lone first timestamp must be followed by text.
        let n = sampled.len();
        let last_was_ts = n >= 1 && is_ts(sampled[n - 1]);
        let penultimate_was_ts = n < 2 || is_ts(sampled[n - 2]);
        if last_was_ts {
            if penultimate_was_ts {
                forbid(&mut logits[ts_begin.min(vocab)..]);
            } else {
                forbid(&mut logits[..eot.min(vocab)]);
            }
        }

        // Timestamps never decrease; after text they must strictly increase, so that every
        // segment has a nonzero length (no infinite loop of empty segments). Right after a
        // segment's closing timestamp the next segment may open at the same time.
        if let Some(&last_ts) = sampled.iter().rev().find(|&&t| is_ts(t)) {
            let first_allowed = if last_was_ts && !penultimate_was_ts {
                last_ts as usize
            } else {
                last_ts as usize + 1
            };
            forbid(&mut logits[ts_begin.min(vocab)..first_allowed.min(vocab)]);
        }

        // The first sampled token is a timestamp, and not a late one.
        if at_begin {
            forbid(&mut logits[..ts_begin.min(vocab)]);
            if let Some(max) = rules.max_initial_timestamp_index {
                let last_allowed = ts_begin + max as usize;
                forbid(&mut logits[(last_allowed + 1).min(vocab)..]);
            }
        }

        // When the timestamps together are likelier than the likeliest text token, sample a
        // timestamp. openai compares log-softmax values; both sides share the normaliser, so
        // comparing logsumexp(timestamp logits) with max(text logits) is the same test.
        let (text, stamps) = logits.split_at_mut(ts_begin.min(vocab));
        let max_text = max(text);
        let timestamp_mass = logsumexp(stamps);
        if timestamp_mass > max_text {
            forbid(text);
        }
    }
}

/// Sets every logit of `row` to `-inf`.
fn forbid(row: &mut [f32]) {
    row.fill(f32::NEG_INFINITY);
}

/// Sets the logits at `ids` (all in range) to `-inf`.
fn forbid_each(row: &mut [f32], ids: &[u32]) {
    for &id in ids {
        row[id as usize] = f32::NEG_INFINITY;
    }
}

/// Independent accumulators in the row loops below: with them LLVM vectorises max and sum
/// (a single float accumulator forces a sequential chain). These helpers run over the whole
/// vocabulary at every decoding step, often several times.
const LANES: usize = 8;

/// The largest value of `row` (`-inf` when empty; NaNs are ignored).
fn max(row: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = a.max(x);
        }
    }
    tail.iter()
        .chain(&acc)
        .copied()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// sum(exp(x - shift)) over `row`, for `shift` >= every entry, accumulated in f64. The
/// exponentials go through a small buffer: fused with the f64 sum the loop does not vectorise
/// (three times slower).
fn sum_exp(row: &[f32], shift: f32) -> f64 {
    let mut buf = [0f32; 256];
    let mut total = 0f64;
    for block in row.chunks(buf.len()) {
        let buf = &mut buf[..block.len()];
        for (b, &x) in buf.iter_mut().zip(block) {
            *b = crate::kernels::math::exp_nonpositive(x - shift);
        }
        total += sum_f64(buf);
    }
    total
}

/// sum(row) accumulated in f64.
fn sum_f64(row: &[f32]) -> f64 {
    let mut acc = [0f64; LANES];
    let chunks = row.chunks_exact(LANES);
    let tail: f64 = chunks.remainder().iter().map(|&x| f64::from(x)).sum();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a += f64::from(x);
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// log(sum(exp(row))), stable (max subtracted, sum accumulated in f64); `-inf` when every entry
/// is `-inf` or the row is empty.
pub fn logsumexp(row: &[f32]) -> f32 {
    let m = max(row);
    if m == f32::NEG_INFINITY || m.is_nan() {
        return f32::NEG_INFINITY;
    }
    if m == f32::INFINITY {
        return f32::INFINITY;
    }
    m + sum_exp(row, m).ln() as f32
}

/// `log_softmax(row)[token]`, the same number, without writing the other entries: the
/// decoding loops need one log-probability per position, not 51865.
pub fn token_logprob(row: &[f32], token: usize) -> f32 {
    let log_z = logsumexp(row);
    if !log_z.is_finite() {
        return f32::NEG_INFINITY;
    }
    row[token] - log_z
}

/// `out = log_softmax(row)`: log-probabilities of the logits in `row`, computed with the maximum
/// subtracted and the sum accumulated in f64. A row with no finite entry gives all `-inf`.
///
/// # Panics
/// When `out` and `row` differ in length.
pub fn log_softmax(row: &[f32], out: &mut [f32]) {
    assert_eq!(row.len(), out.len(), "log_softmax: output length");
    let log_z = logsumexp(row);
    if !log_z.is_finite() {
        out.fill(f32::NEG_INFINITY);
        return;
    }
    for (o, &x) in out.iter_mut().zip(row) {
        *o = x - log_z;
    }
}

/// `out = softmax(row)`: probabilities of the logits in `row` (all zero when no entry is
/// finite). Forbidden (`-inf`) logits get exactly 0.
///
/// # Panics
/// When `out` and `row` differ in length.
pub fn softmax(row: &[f32], out: &mut [f32]) {
    assert_eq!(row.len(), out.len(), "softmax: output length");
    let m = max(row);
    if !m.is_finite() {
        out.fill(0.0);
        return;
    }
    for (o, &x) in out.iter_mut().zip(row) {
        *o = crate::kernels::math::exp_nonpositive(x - m);
    }
    let inv = (1.0 / sum_f64(out)) as f32;
    for o in out.iter_mut() {
        *o *= inv;
    }
}

/// Index of the largest value; the first one on ties (like `torch.argmax`). NaNs are skipped;
/// an empty row or one of NaNs gives 0.
pub fn argmax(row: &[f32]) -> usize {
    let m = max(row);
    row.iter().position(|&x| x == m).unwrap_or(0)
}

/// Language probabilities from the logits at the `<|startoftranscript|>` position (openai:
/// `detect_language`): a softmax over the language tokens only, every other id masked out.
/// (code, probability) in token-id order. An English-only model gives `[("en", 1.0)]`.
pub fn language_probs(logits_at_sot: &[f32], tokenizer: &WhisperTokenizer) -> Vec<(String, f32)> {
    let languages = tokenizer.languages();
    if languages.is_empty() {
        return vec![("en".to_string(), 1.0)];
    }
    let picked: Vec<f32> = languages
        .iter()
        .map(|(_, id)| logits_at_sot[*id as usize])
        .collect();
    let mut probs = vec![0.0; picked.len()];
    softmax(&picked, &mut probs);
    languages
        .iter()
        .zip(probs)
        .map(|((code, _), p)| (code.clone(), p))
        .collect()
}

/// The probability of `<|nospeech|>` at the `<|startoftranscript|>` position, from the raw
/// (unfiltered) logits there, as openai/whisper computes `no_speech_prob`; `None` when the
/// vocabulary has no such token.
pub fn no_speech_prob(logits_at_sot: &[f32], specials: &SpecialTokens) -> Option<f32> {
    let id = specials.no_speech? as usize;
    let log_z = logsumexp(logits_at_sot);
    Some((logits_at_sot[id] - log_z).exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_logprob_is_the_log_softmax_entry() {
        let row: Vec<f32> = (0..51865)
            .map(|i| ((i * 104_729 % 991) as f32 / 29.0) - 17.0)
            .collect();
        let mut all = vec![0.0; row.len()];
        log_softmax(&row, &mut all);
        for t in [0, 7, 25_000, 51_864] {
            assert_eq!(token_logprob(&row, t).to_bits(), all[t].to_bits());
        }
        let forbidden = [f32::NEG_INFINITY; 4];
        assert_eq!(token_logprob(&forbidden, 2), f32::NEG_INFINITY);
    }

    #[test]
    fn row_helpers_match_a_plain_f64_computation() {
        let row: Vec<f32> = (0..51865)
            .map(|i| ((i * 7919 % 1000) as f32 / 37.0) - 13.0)
            .collect();
        let m = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f64 = row
            .iter()
            .map(|&x| (f64::from(x) - f64::from(m)).exp())
            .sum();
        let lse = f64::from(m) + sum.ln();
        assert!((f64::from(logsumexp(&row)) - lse).abs() < 1e-5);
        let mut p = vec![0.0; row.len()];
        softmax(&row, &mut p);
        for (i, &x) in row.iter().enumerate().step_by(97) {
            let exact = (f64::from(x) - lse).exp();
            assert!((f64::from(p[i]) - exact).abs() <= 1e-6 * exact + 1e-12);
        }
        assert_eq!(max(&row), m);
        assert_eq!(row[argmax(&row)], m);
    }
}
