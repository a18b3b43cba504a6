//! Speculative decoding of one window: a cheap draft decoder proposes tokens, the target scores
//! them all in one forward pass, and only what the target itself would have produced is kept.
//!
//! Each round:
//! 1. **Draft.** The draft proposes up to `gamma` tokens, each from its own logits after the
//!    same [`LogitFilters`] the target uses, with the same prefix (greedy: argmax; sampling:
//!    the inverse-CDF draw of its tempered distribution q at the position's random number).
//! 2. **Verify.** One target pass over the pending token plus the proposals yields the target's
//!    logits at every proposed position and one beyond. Each row is filtered with its own prefix.
//! 3. **Accept.** Greedy: proposals stand while they equal the target's argmax; the first
//!    mismatch is replaced by the target's token (or, when all stand, the target adds a bonus
//!    token). Sampling the same, with the target's draw from p at the position's number in
//!    place of its argmax (see [`super::sampling`]): the output is token for token what the
//!    target alone samples with the same numbers, so it follows p exactly.
//! 4. **Roll back.** Both self-attention caches are truncated to the accepted prefix.
//!
//! The emitted token, its log-probability, the no-speech probability and the stopping rules
//! (end-of-text, `sample_len`, the 448-position context) are the target's, exactly as in
//! [`super::greedy::decode_greedy`]; the tokens are the target's own, greedy or sampled
//! ([`super::greedy::decode_target`] with the same sampler). Invariant between rounds: each
//! cache holds a prefix of `tokens`; the target's holds
//! all but the last ("pending") token, which the next verify pass feeds first.

use candle_core::{IndexOp, Result, Tensor};

use super::draft_session::{DraftSession, PromptWindowedDraft};
use super::filters::{argmax, logsumexp, no_speech_prob, token_logprob};
use super::greedy::WindowDecode;
use super::sampling::{Sampler, tempered_probs};
use super::task::WindowTask;
use crate::model::KvCache;

/// How many tokens the draft proposes per round, and how that adapts.
#[derive(Debug, Clone, PartialEq)]
pub struct SpecConfig {
    /// Draft length of the first round (default 4, adapting between 2 and 8: cheaper per token
    /// than longer rounds, which spend draft steps on rejected tails; docs/MEASUREMENTS.md).
    pub gamma: usize,
    /// Smallest draft length adaptation may choose.
    pub min_gamma: usize,
    /// Largest draft length adaptation may choose.
    pub max_gamma: usize,
    /// Grow gamma by 2 after a round where every proposal stood, shrink by 1 otherwise.
    pub adaptive: bool,
    /// 0 for greedy; otherwise sample from softmax(logits / temperature).
    pub temperature: f32,
    /// How many tokens of the previous-text prompt (those just before the start-of-transcript
    /// token) the draft reads; `None` = all of it, as the target; `Some(0)` = none (not even
    /// the start-of-previous token). A partial prompt keeps the start-of-previous token in
    /// front of the last `n` tokens. Fewer make the draft's prompt pass (up to 224 tokens
    /// through the whole draft, every window) cheaper, for less informed proposals. Output is
    /// the target's either way. Default `None`; [`SpecConfig::for_target`] picks by model size.
    pub draft_prompt_tokens: Option<usize>,
    /// Stop a round's drafting after a proposal the draft itself gives less than this
    /// probability (greedy: its top probability; sampling: the sampled token's), so unsure
    /// stretches cost neither draft steps nor verify rows. 0 never stops early. The rule reads
    /// only the draft, so output is still exactly the target's. Default 0: with drafts as cheap
    /// as ours, the fewer tokens per target call cost more than the saved work
    /// (docs/MEASUREMENTS.md, `bench --draft-confidence`).
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
            draft_prompt_tokens: None,
            draft_confidence: 0.0,
        }
    }
}

impl SpecConfig {
    /// The defaults for a target with `decoder_layers` layers: from 6 layers up the draft skips
    /// the previous-text prompt (its prompt pass costs about what better proposals save), below
    /// it reads the prompt (small drafts need it to agree); measured, see docs/MEASUREMENTS.md.
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
    /// Every round, in order (greedy and sampling speculation; beam trees are not rounds of
    /// this kind and leave it empty).
    pub rounds: Vec<DraftRound>,
}

/// One round of speculation: what the draft proposed and what the target made of it (shown by
/// `transcribe --show-drafts` and the server's page).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DraftRound {
    /// The proposed tokens.
    pub proposed: Vec<u32>,
    /// How many of them stood (a prefix).
    pub accepted: usize,
    /// The target's own token after them: a correction when proposals were left, a bonus
    /// token when all stood (`None` when an accepted end-of-text ended the window).
    pub emitted: Option<u32>,
}

impl SpecStats {
    /// Adds another window's counts and rounds.
    pub fn add(&mut self, other: &SpecStats) {
        self.target_calls += other.target_calls;
        self.draft_calls += other.draft_calls;
        self.draft_tokens += other.draft_tokens;
        self.accepted_tokens += other.accepted_tokens;
        self.rounds.extend_from_slice(&other.rounds);
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

/// One round's proposals and what the draft knew when it made them.
struct Proposals {
    /// The proposed tokens, in order.
    tokens: Vec<u32>,
    /// The window's tokens followed by the proposals: row `i`'s filters read its first
    /// `accepted_len + i` entries.
    prefix: Vec<u32>,
}

/// What the accept phase decided.
struct Verdicts {
    /// Proposals that stand.
    accepted: usize,
    /// The target's own token after them (a correction or the bonus), unless an accepted
    /// end-of-text ended the window.
    emitted: Option<u32>,
}

/// The state of one window's speculative decode between rounds: each cache holds a prefix of
/// `tokens`; the target's holds all but the last ("pending") token, which the next verify pass
/// feeds first.
struct SpeculativeWindow<'t, 'd> {
    task: &'t WindowTask<'t>,
    cfg: &'t SpecConfig,
    target_cache: KvCache,
    draft: PromptWindowedDraft<'d>,
    /// Prompt plus every token emitted so far.
    tokens: Vec<u32>,
    /// Tokens emitted so far (end-of-text included).
    sampled: usize,
    sum_logprob: f64,
    no_speech: Option<f32>,
    finished: bool,
    stats: SpecStats,
    /// The draft's logits for its next proposal.
    draft_logits: Vec<f32>,
    /// Scratch: a tempered distribution of one row.
    probs: Vec<f32>,
}

impl<'t, 'd> SpeculativeWindow<'t, 'd> {
    fn new(
        task: &'t WindowTask<'t>,
        cfg: &'t SpecConfig,
        draft: &'d mut dyn DraftSession,
    ) -> Result<Self> {
        if !draft.is_empty() {
            candle_core::bail!("the draft must start a window with an empty cache");
        }
        Ok(SpeculativeWindow {
            task,
            cfg,
            target_cache: task.decoder.new_cache(),
            draft: PromptWindowedDraft::new(draft, task, cfg.draft_prompt_tokens),
            tokens: task.initial.to_vec(),
            sampled: 0,
            sum_logprob: 0.0,
            no_speech: None,
            finished: false,
            stats: SpecStats::default(),
            draft_logits: Vec::new(),
            probs: Vec::new(),
        })
    }

    fn sampling(&self) -> bool {
        self.cfg.temperature > 0.0
    }

    /// The target reads the prompt minus its last token, so the first verify pass starts with
    /// a pending token. Only the start-of-transcript row goes through the vocabulary
    /// projection (the no-speech probability).
    fn prompt_pass(&mut self) -> Result<()> {
        let WindowTask {
            decoder,
            cross,
            initial,
            sot_index,
            specials,
            ..
        } = *self.task;
        if initial.len() <= 1 {
            return Ok(());
        }
        let head = initial.len() - 1;
        let sot_row = sot_index.min(head - 1);
        let _span = tracing::trace_span!("prompt_pass", tokens = head).entered();
        let logits = decoder.forward_rows(
            &initial[..head],
            &mut self.target_cache,
            cross,
            Some(&[sot_row]),
        )?;
        self.stats.target_calls += 1;
        if sot_index < head {
            self.no_speech = no_speech_prob(&logits_row(&logits, 0)?, specials);
        }
        Ok(())
    }

    /// Phase 1: the draft proposes up to `max_len` tokens, each after the target's filters with
    /// its own prefix (greedy: argmax; sampling: a draw from its tempered distribution q). A
    /// round stops at end-of-text, at `max_len`, or below the draft-confidence bar.
    fn draft(&mut self, max_len: usize, sampler: &mut Sampler) -> Result<Proposals> {
        let mut round = Proposals {
            tokens: Vec::with_capacity(max_len),
            prefix: self.tokens.clone(),
        };
        let _span = tracing::trace_span!("draft_round", gamma = max_len).entered();
        if max_len == 0 {
            return Ok(round);
        }
        let (filters, eot) = (self.task.filters, self.task.specials.eot);
        let logits = &mut self.draft_logits;
        self.draft.catch_up(&self.tokens, logits)?;
        self.stats.draft_calls += 1;
        loop {
            filters.apply(&round.prefix, logits);
            let (proposal, confidence) = if self.cfg.temperature > 0.0 {
                // The draw at this position's number: the one the target will compare with.
                let q = &mut self.probs;
                tempered_probs(logits, self.cfg.temperature, q);
                let proposal = sampler.sample_at(round.prefix.len(), q);
                (proposal, q[proposal as usize])
            } else {
                let best = argmax(logits);
                let probability = if self.cfg.draft_confidence > 0.0 {
                    (logits[best] - logsumexp(logits)).exp()
                } else {
                    1.0
                };
                (best as u32, probability)
            };
            round.tokens.push(proposal);
            round.prefix.push(proposal);
            if proposal == eot
                || round.tokens.len() == max_len
                || confidence < self.cfg.draft_confidence
            {
                break;
            }
            self.draft.feed(proposal, logits)?;
            self.stats.draft_calls += 1;
        }
        self.stats.draft_tokens += round.tokens.len();
        Ok(round)
    }

    /// Phase 2: one target pass over the pending token(s) and the proposals, giving the
    /// target's logits at every proposed position and one beyond. Returns the logits and the
    /// row of the pending token.
    fn verify(&mut self, round: &Proposals) -> Result<(Tensor, usize)> {
        let WindowTask {
            decoder,
            cross,
            sot_index,
            specials,
            ..
        } = *self.task;
        let cached = self.target_cache.len();
        let mut feed = self.tokens[cached..].to_vec();
        feed.extend_from_slice(&round.tokens);
        let logits = {
            let _span = tracing::trace_span!("verify", proposals = round.tokens.len()).entered();
            decoder.forward(&feed, &mut self.target_cache, cross)?
        };
        self.stats.target_calls += 1;
        let first_row = logits.dim(0)? - round.tokens.len() - 1;
        if self.no_speech.is_none() && sot_index >= cached && sot_index < self.tokens.len() {
            self.no_speech = no_speech_prob(&logits_row(&logits, sot_index - cached)?, specials);
        }
        Ok((logits, first_row))
    }

    /// Phase 3: proposals stand while they equal the target's own token (greedy: its argmax;
    /// sampling: its draw at the position's number); the first that does not is replaced by
    /// the target's token, and when all stand the target adds a bonus token. Every row is
    /// filtered with its own prefix; log-probabilities are the target's.
    fn accept(
        &mut self,
        round: &Proposals,
        logits: &Tensor,
        first_row: usize,
        sampler: &mut Sampler,
    ) -> Result<Verdicts> {
        let sampling = self.sampling();
        let (filters, eot, temperature) = (
            self.task.filters,
            self.task.specials.eot,
            self.cfg.temperature,
        );
        let accepted_len = self.tokens.len();
        let mut verdicts = Verdicts {
            accepted: 0,
            emitted: None,
        };
        for i in 0..=round.tokens.len() {
            let mut row = logits_row(logits, first_row + i)?;
            filters.apply(&round.prefix[..accepted_len + i], &mut row);
            // The target's own token at this position: its argmax, or its draw at the
            // position's number (see `sampling`).
            let target_token = if sampling {
                tempered_probs(&row, temperature, &mut self.probs);
                sampler.sample_at(accepted_len + i, &self.probs)
            } else {
                argmax(&row) as u32
            };
            if round.tokens.get(i) == Some(&target_token) {
                verdicts.accepted += 1;
                self.sum_logprob += f64::from(token_logprob(&row, target_token as usize));
                if target_token == eot {
                    self.finished = true;
                    break;
                }
                continue;
            }
            // A proposal that differs, or none left (all stood): the target's token.
            self.sum_logprob += f64::from(token_logprob(&row, target_token as usize));
            verdicts.emitted = Some(target_token);
            break;
        }
        self.stats.accepted_tokens += verdicts.accepted;
        self.tokens
            .extend_from_slice(&round.tokens[..verdicts.accepted]);
        self.sampled += verdicts.accepted;
        if self.finished {
            // An accepted end-of-text is not part of the tokens.
            self.tokens.pop();
            return Ok(verdicts);
        }
        if let Some(token) = verdicts.emitted {
            self.sampled += 1;
            if token == eot {
                self.finished = true;
            } else {
                self.tokens.push(token);
            }
        }
        Ok(verdicts)
    }

    /// Phase 4: both caches keep only what stood: everything but the pending token.
    fn roll_back(&mut self) {
        let keep = self.tokens.len() - 1;
        self.target_cache.truncate(keep);
        self.draft.roll_back(keep);
    }

    /// The window's result: the target's tokens, scores and no-speech probability.
    fn finish(mut self) -> (WindowDecode, SpecStats) {
        let sampled_tokens = self.tokens.split_off(self.task.initial.len());
        let avg_logprob = self.sum_logprob / (sampled_tokens.len() + 1) as f64;
        (
            WindowDecode {
                tokens: sampled_tokens,
                sum_logprob: self.sum_logprob,
                avg_logprob,
                no_speech_prob: self.no_speech.map_or(0.0, f64::from),
                finished: self.finished,
                forward_passes: self.stats.target_calls,
            },
            self.stats,
        )
    }
}

fn logits_row(t: &Tensor, i: usize) -> Result<Vec<f32>> {
    t.i(i)?.to_vec1::<f32>()
}

/// Speculative decoding of `task` with `draft` (bound to this window, with an empty cache),
/// configured by `cfg`; `sampler` is the random source when `cfg.temperature > 0`. The
/// algorithm is the module's: draft, verify, accept, roll back, until end-of-text,
/// `sample_len` tokens or the decoder's context is full.
pub fn decode_speculative(
    task: &WindowTask<'_>,
    draft: &mut dyn DraftSession,
    cfg: &SpecConfig,
    sampler: &mut Sampler,
) -> Result<(WindowDecode, SpecStats)> {
    let max_positions = task.decoder.max_positions();
    let sample_len = task.sample_len;
    let mut window = SpeculativeWindow::new(task, cfg, draft)?;
    window.prompt_pass()?;
    let mut gamma = cfg.gamma.max(1);
    while window.sampled < sample_len && window.tokens.len() <= max_positions {
        // Leave room for the target's own token after the proposals.
        let max_len = gamma
            .min(sample_len - window.sampled - 1)
            .min(max_positions - window.tokens.len());
        let round = window.draft(max_len, sampler)?;
        let (logits, first_row) = window.verify(&round)?;
        let verdicts = window.accept(&round, &logits, first_row, sampler)?;
        window.stats.rounds.push(DraftRound {
            proposed: round.tokens.clone(),
            accepted: verdicts.accepted,
            emitted: verdicts.emitted,
        });
        if window.finished {
            break;
        }
        window.roll_back();
        if cfg.adaptive {
            let all_stood = verdicts.accepted == round.tokens.len() && !round.tokens.is_empty();
            gamma = if all_stood {
                (gamma + 2).min(cfg.max_gamma)
            } else {
                gamma.saturating_sub(1).max(cfg.min_gamma)
            };
        }
    }
    Ok(window.finish())
}
