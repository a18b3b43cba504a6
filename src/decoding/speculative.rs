//! Speculative decoding of one window: a cheap draft decoder proposes tokens, the target scores
//! them all in one forward pass, and only what the target itself would have produced is kept.
//!
//! Each round:
//! 1. **Draft.** The draft proposes up to `gamma` tokens, each from its own logits after the
//!    same [`LogitFilters`] the target uses, with the same prefix (greedy: argmax; sampling:
//!    a draw from its tempered distribution q).
//! 2. **Verify.** One target pass over the pending token plus the proposals yields the target's
//!    logits at every proposed position and one beyond. Each row is filtered with its own prefix.
//! 3. **Accept.** Greedy: proposals stand while they equal the target's argmax; the first
//!    mismatch is replaced by the target's token (or, when all stand, the target adds a bonus
//!    token). Sampling: each proposal x stands with probability min(1, p(x)/q(x)); a rejection
//!    draws from norm(max(0, p - q)); all standing earns a bonus draw from p.
//! 4. **Roll back.** Both self-attention caches are truncated to the accepted prefix.
//!
//! The emitted token, its log-probability, the no-speech probability and the stopping rules
//! (end-of-text, `sample_len`, the 448-position context) are the target's, exactly as in
//! [`super::greedy::decode_greedy`]; in greedy mode the tokens are the target's own greedy
//! tokens. Invariant between rounds: each cache holds a prefix of `tokens`; the target's holds
//! all but the last ("pending") token, which the next verify pass feeds first.

use candle_core::{IndexOp, Result, Tensor};

use super::draft_session::DraftSession;
use super::filters::{LogitFilters, argmax, logsumexp, no_speech_prob, token_logprob};
use super::greedy::WindowDecode;
use super::sampling::{Residual, Sampler, Verdict, tempered_probs, verify_token};
use crate::model::{CrossKv, KvCache, TextDecoder};
use crate::text::SpecialTokens;

/// How many tokens the draft proposes per round, and how that adapts.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecConfig {
    /// Draft length of the first round. The default (4, adapting between 2 and 8) is measured:
    /// with base and a Q8_0 self-draft on this CPU (draft step 0.46 of a target step, a 5-token
    /// verify 1.5x a step) the cost per token is flat from 3 to 6 and climbs past 8, and the
    /// earlier 6..12 range spent more draft steps on rejected tails for the same speed. With
    /// the fused 8-bit draft (step 0.16 of a target step) 4..8 and 6..12 measured the same
    /// (1.86-1.90x on ljspeech, base).
    pub gamma: usize,
    /// Smallest draft length adaptation may choose.
    pub min_gamma: usize,
    /// Largest draft length adaptation may choose.
    pub max_gamma: usize,
    /// Grow gamma by 2 after a round where every proposal stood, shrink by 1 otherwise.
    pub adaptive: bool,
    /// 0 for greedy; otherwise sample from softmax(logits / temperature).
    pub temperature: f32,
    /// Replacement distribution on rejection (only `Exact` is correct; see [`Residual`]).
    pub residual: Residual,
    /// How many tokens of the previous-text prompt (those just before the start-of-transcript
    /// token) the draft reads; `None` = all of it, as the target; `Some(0)` = none (not even
    /// the start-of-previous token). A partial prompt keeps the start-of-previous token in
    /// front of the last `n` tokens. Fewer make the draft's prompt pass (up to 224 tokens
    /// through the whole draft, every window) cheaper, for less informed proposals. Output is
    /// the target's either way. Default `None`;
    /// [`SpecConfig::for_target`] picks by model size, from measurements.
    pub draft_prompt_tokens: Option<usize>,
    /// Stop a round's drafting after a proposal the draft itself gives less than this
    /// probability (greedy: its top probability; sampling: the sampled token's), so unsure
    /// stretches cost neither draft steps nor verify rows. 0 never stops early. The rule reads
    /// only the draft, so output is still exactly the target's. Default 0, measured (base,
    /// ljspeech concat, `bench --draft-confidence`, alternating runs): with the fused 8-bit
    /// draft the decoder speed-up was 1.63-2.05x at 0, 1.59-1.90x at 0.5, 1.50-1.76x at
    /// 0.85; with `self-q8` 1.40x at 0 against 1.36x at 0.5. Acceptance rises (0.85 -> 0.93)
    /// but tokens per target call fall (6.0 -> 5.1), and a draft step (0.16 of a target step)
    /// and a verify row are too cheap for the saved work to pay.
    pub draft_confidence: f32,
}

impl Default for SpecConfig {
    fn default() -> Self {
        SpecConfig {
            gamma: 4,
            min_gamma: 2,
            max_gamma: 8,
            adaptive: true,
            temperature: 0.0,
            residual: Residual::Exact,
            draft_prompt_tokens: None,
            draft_confidence: 0.0,
        }
    }
}

impl SpecConfig {
    /// The defaults for a target with `decoder_layers` layers, measured with the fused 8-bit
    /// self-draft on ../shared/corpus/long/ljspeech (222 s, 2 cores, decoder speed-up over the
    /// target alone, single interleaved runs, noisy by +-5 %): base (6 layers) 1.88-1.99x with
    /// the draft skipping the previous-text prompt against 1.83-1.88x reading it (acceptance
    /// 0.84 vs 0.95: the draft's 224-token prompt pass, 33 ms a window, costs about what the
    /// better proposals save); the start-of-previous token plus the last 16 or 48 prompt
    /// tokens: 1.87x (acceptance 0.86, 0.89); tiny.en (4 layers) 1.81x reading the prompt
    /// against 1.68x skipping it (acceptance 0.87 vs 0.69). With candle's `Q8_0` draft the
    /// picture was the same (base 1.50x skipping vs 1.39x reading, tiny.en 1.05x vs 1.27x). So
    /// the draft skips the prompt from 6 layers up.
    pub fn for_target(decoder_layers: usize) -> Self {
        SpecConfig {
            draft_prompt_tokens: (decoder_layers >= 6).then_some(0),
            ..SpecConfig::default()
        }
    }
}

/// What speculation did in one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpecStats {
    /// Target forward passes (including the prompt pass).
    pub target_calls: usize,
    /// Draft forward passes.
    pub draft_calls: usize,
    /// Tokens the draft proposed.
    pub draft_tokens: usize,
    /// Proposals the target accepted.
    pub accepted_tokens: usize,
}

impl SpecStats {
    /// Adds another window's counts.
    pub fn add(&mut self, other: &SpecStats) {
        self.target_calls += other.target_calls;
        self.draft_calls += other.draft_calls;
        self.draft_tokens += other.draft_tokens;
        self.accepted_tokens += other.accepted_tokens;
    }

    /// Share of proposals accepted.
    pub fn acceptance_rate(&self) -> f64 {
        if self.draft_tokens == 0 {
            0.0
        } else {
            self.accepted_tokens as f64 / self.draft_tokens as f64
        }
    }
}

/// The target, the cross-attention of the window for it, and its cache.
struct Target<'a> {
    decoder: &'a TextDecoder,
    cross: &'a CrossKv,
    cache: KvCache,
}

impl Target<'_> {
    /// Feeds `tokens[cache.len()..]` followed by `extra`; returns the logits of those positions.
    fn catch_up(&mut self, tokens: &[u32], extra: &[u32]) -> Result<Tensor> {
        let mut feed = tokens[self.cache.len()..].to_vec();
        feed.extend_from_slice(extra);
        self.decoder.forward(&feed, &mut self.cache, self.cross)
    }
}

fn row(t: &Tensor, i: usize) -> Result<Vec<f32>> {
    t.i(i)?.to_vec1::<f32>()
}

/// Speculative decoding of one window. Arguments as [`super::greedy::decode_greedy`], plus the
/// draft bound to this window (with an empty cache), the configuration, and (for
/// temperature > 0) the random source.
#[allow(clippy::too_many_arguments)]
pub fn decode_speculative(
    target: (&TextDecoder, &CrossKv),
    draft: &mut dyn DraftSession,
    initial: &[u32],
    sot_index: usize,
    filters: &LogitFilters,
    specials: &SpecialTokens,
    sample_len: usize,
    cfg: &SpecConfig,
    sampler: &mut Sampler,
) -> Result<(WindowDecode, SpecStats)> {
    let sampling = cfg.temperature > 0.0;
    let max_positions = target.0.max_positions();
    let mut t = Target {
        decoder: target.0,
        cross: target.1,
        cache: target.0.new_cache(),
    };
    if !draft.is_empty() {
        candle_core::bail!("the draft must start a window with an empty cache");
    }
    // Prompt tokens the draft never sees: with `keep_prev`, its cache position 0 is token 0
    // (start-of-previous) and position `i > 0` token `skip + i - 1`; otherwise position `i`
    // is token `skip + i`.
    let skip = match cfg.draft_prompt_tokens {
        None => 0,
        Some(n) => sot_index.min(initial.len() - 1).saturating_sub(n),
    };
    let keep_prev =
        skip > 0 && cfg.draft_prompt_tokens != Some(0) && initial.first() == Some(&specials.prev);
    let kept = usize::from(keep_prev);
    let mut r = Vec::new();
    let mut stats = SpecStats::default();
    let mut tokens = initial.to_vec();
    let mut no_speech = None;

    // The prompt minus its last token, so the first verify pass starts with a pending token.
    if initial.len() > 1 {
        // Only the start-of-transcript row's logits are used (no-speech probability).
        let head = initial.len() - 1;
        let sot_row = sot_index.min(head - 1);
        let _span = tracing::trace_span!("prompt_pass", tokens = head).entered();
        let logits =
            t.decoder
                .forward_rows(&initial[..head], &mut t.cache, t.cross, Some(&[sot_row]))?;
        stats.target_calls += 1;
        if sot_index < head {
            no_speech = no_speech_prob(&row(&logits, 0)?, specials);
        }
    }

    let mut gamma = cfg.gamma.max(1);
    let mut sampled = 0usize;
    let mut sum_logprob = 0.0f64;
    let mut finished = false;
    let mut p = Vec::new();
    let mut scratch = Vec::new();
    let mut q_rows: Vec<Vec<f32>> = Vec::new();

    while sampled < sample_len && tokens.len() <= max_positions {
        // 1. Draft.
        let k_max = gamma
            .min(sample_len - sampled - 1)
            .min(max_positions - tokens.len());
        let mut proposals: Vec<u32> = Vec::with_capacity(k_max);
        // `tokens` followed by the proposals so far: every row's filters read a slice of it.
        let mut prefix = tokens.clone();
        q_rows.clear();
        let draft_span = tracing::trace_span!("draft_round", gamma = k_max).entered();
        if k_max > 0 {
            let have = draft.len();
            if keep_prev && have == 0 {
                let mut feed = vec![tokens[0]];
                feed.extend_from_slice(&tokens[skip..]);
                draft.feed(&feed, &mut r)?;
            } else {
                draft.feed(&tokens[skip + have - kept.min(have)..], &mut r)?;
            }
            stats.draft_calls += 1;
            loop {
                filters.apply(&prefix, &mut r);
                let (x, confidence) = if sampling {
                    let mut q = Vec::new();
                    tempered_probs(&r, cfg.temperature, &mut q);
                    let x = sampler.sample(&q);
                    let qx = q[x as usize];
                    q_rows.push(q);
                    (x, qx)
                } else {
                    let x = argmax(&r);
                    let p = if cfg.draft_confidence > 0.0 {
                        (r[x] - logsumexp(&r)).exp()
                    } else {
                        1.0
                    };
                    (x as u32, p)
                };
                proposals.push(x);
                prefix.push(x);
                if x == specials.eot
                    || proposals.len() == k_max
                    || confidence < cfg.draft_confidence
                {
                    break;
                }
                draft.feed(&[x], &mut r)?;
                stats.draft_calls += 1;
            }
        }
        stats.draft_tokens += proposals.len();
        drop(draft_span);

        // 2. Verify: one target pass over the pending token(s) and the proposals.
        let before = t.cache.len();
        let verify_span = tracing::trace_span!("verify", proposals = proposals.len()).entered();
        let logits = t.catch_up(&tokens, &proposals)?;
        drop(verify_span);
        stats.target_calls += 1;
        let base = logits.dim(0)? - proposals.len() - 1;
        if no_speech.is_none() && sot_index >= before && sot_index < tokens.len() {
            no_speech = no_speech_prob(&row(&logits, sot_index - before)?, specials);
        }

        // 3. Accept.
        let mut accepted = 0;
        let mut emitted: Option<u32> = None;
        for i in 0..=proposals.len() {
            let mut r = row(&logits, base + i)?;
            filters.apply(&prefix[..tokens.len() + i], &mut r);
            let choice = if i < proposals.len() {
                let x = proposals[i];
                let stands = if sampling {
                    tempered_probs(&r, cfg.temperature, &mut p);
                    match verify_token(&p, &q_rows[i], x, cfg.residual, sampler, &mut scratch) {
                        Verdict::Accept => None,
                        Verdict::Replace(y) => Some(y),
                    }
                } else {
                    let y = argmax(&r) as u32;
                    (y != x).then_some(y)
                };
                match stands {
                    None => {
                        accepted += 1;
                        sum_logprob += f64::from(token_logprob(&r, x as usize));
                        if x == specials.eot {
                            finished = true;
                            break;
                        }
                        continue;
                    }
                    Some(y) => y,
                }
            } else if sampling {
                tempered_probs(&r, cfg.temperature, &mut p);
                sampler.sample(&p)
            } else {
                argmax(&r) as u32
            };
            sum_logprob += f64::from(token_logprob(&r, choice as usize));
            emitted = Some(choice);
            break;
        }
        stats.accepted_tokens += accepted;
        tokens.extend_from_slice(&proposals[..accepted]);
        sampled += accepted;
        if finished {
            // An accepted end-of-text is not part of the tokens.
            tokens.pop();
            break;
        }
        if let Some(x) = emitted {
            sampled += 1;
            if x == specials.eot {
                finished = true;
                break;
            }
            tokens.push(x);
        }

        // 4. Roll back to what both caches may keep: everything but the pending token.
        t.cache.truncate(tokens.len() - 1);
        let d_keep = draft.len().min(tokens.len() - 1 - skip + kept);
        draft.truncate(d_keep);

        if cfg.adaptive {
            gamma = if accepted == proposals.len() && !proposals.is_empty() {
                (gamma + 2).min(cfg.max_gamma)
            } else {
                gamma.saturating_sub(1).max(cfg.min_gamma)
            };
        }
    }

    let sampled_tokens = tokens.split_off(initial.len());
    let avg_logprob = sum_logprob / (sampled_tokens.len() + 1) as f64;
    Ok((
        WindowDecode {
            tokens: sampled_tokens,
            sum_logprob,
            avg_logprob,
            no_speech_prob: no_speech.map_or(0.0, f64::from),
            finished,
            forward_passes: stats.target_calls,
        },
        stats,
    ))
}
