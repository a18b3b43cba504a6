//! Beam search over one window, as openai/whisper's `BeamSearchDecoder` with its
//! `MaximumLikelihoodRanker` (no length penalty): keep the `beam_size` most likely unfinished
//! sequences, each extended by its `beam_size + 1` best next tokens every step; collect
//! finished ones until `beam_size * patience` are in; return the finished sequence with the
//! best log-probability per token.
//!
//! The search itself is [`BeamSearch`], a state machine fed the logits of the live hypotheses
//! step by step, so the target-only search here and the speculative one
//! ([`super::speculative_beam`]) take the same decisions from the same logits.
//!
//! Target only: each beam keeps its own self-attention cache (forked when a beam splits), and
//! every step is one decoder pass over all live beams ([`TextDecoder::forward_beams`]): the
//! weights are read once per step instead of once per beam, and each beam's logits are bit for
//! bit those of its own one-token pass, so the search is the same as decoding the beams one
//! after another.
//!
//! [`TextDecoder::forward_beams`]: crate::model::TextDecoder::forward_beams

use candle_core::{IndexOp, Result};

use super::filters::{LogitFilters, log_softmax};
use super::greedy::{WindowDecode, prompt_pass};
use super::task::WindowTask;
use crate::model::KvCache;

/// A hypothesis of the search: its tokens (prompt included) and summed log-probability.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Hypothesis {
    pub(crate) tokens: Vec<u32>,
    pub(crate) sum_logprob: f64,
}

/// What a step of the search decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Advance {
    /// The search goes on with new live hypotheses; entry `i` is the index (among the
    /// previous live ones) of the hypothesis new one `i` extends by its last token.
    Extend(Vec<usize>),
    /// The search is over: [`BeamSearch::finish`] ranks what it collected.
    Done,
}

/// openai's beam search over one window as a state machine, apart from how the logits are
/// computed: [`step`](Self::step) takes the logits of every live hypothesis and decides the
/// next ones. The target-only search and the speculative one drive the same machine, so they
/// make the same decisions from the same logits.
pub(crate) struct BeamSearch<'t> {
    task: WindowTask<'t>,
    beam_size: usize,
    max_candidates: usize,
    /// The live hypotheses, in openai's order (best candidate first).
    pub(crate) live: Vec<Hypothesis>,
    finished: Vec<(Vec<u32>, f64)>,
    /// The sequences still open when the search stops, with their scores.
    unfinished: Vec<(Vec<u32>, f64)>,
    steps: usize,
    logprobs: Vec<f32>,
}

impl<'t> BeamSearch<'t> {
    /// A search of `beam_size` beams with openai's `patience` from the window's prompt.
    pub(crate) fn new(task: &WindowTask<'t>, beam_size: usize, patience: f64) -> Self {
        let beam_size = beam_size.max(1);
        // openai starts from `beam_size` copies of the prompt; their identical candidates
        // merge, which is one beam.
        let start = Hypothesis {
            tokens: task.initial.to_vec(),
            sum_logprob: 0.0,
        };
        BeamSearch {
            task: *task,
            beam_size,
            max_candidates: ((beam_size as f64 * patience).round() as usize).max(1),
            unfinished: vec![(start.tokens.clone(), 0.0)],
            live: vec![start],
            finished: Vec::new(),
            steps: 0,
            logprobs: Vec::new(),
        }
    }

    /// Beams kept per step.
    pub(crate) fn beam_size(&self) -> usize {
        self.beam_size
    }

    /// Steps a search may still take (`sample_len` minus those taken).
    pub(crate) fn steps_left(&self) -> usize {
        self.task.sample_len.saturating_sub(self.steps)
    }

    /// One step: `rows[i]` holds the logits after live hypothesis `i` (filtered here, in
    /// place). Each live hypothesis offers its `beam_size + 1` best next tokens; the best
    /// `beam_size` that are not end-of-text live on, the end-of-text ones are collected as
    /// finished.
    pub(crate) fn step(&mut self, rows: &mut [Vec<f32>]) -> Advance {
        let (filters, specials) = (self.task.filters, self.task.specials);
        assert_eq!(rows.len(), self.live.len(), "one row per live hypothesis");
        if self.task.sample_len == 0 {
            // Nothing may be sampled: the prompt is the only (unfinished) sequence.
            self.live.clear();
            return Advance::Done;
        }
        let candidates = ranked_candidates(
            filters,
            self.live
                .iter()
                .zip(rows.iter_mut())
                .map(|(hyp, row)| (hyp.tokens.as_slice(), hyp.sum_logprob, row)),
            self.beam_size + 1,
            &mut self.logprobs,
        );
        let mut keep: Vec<(f64, usize, u32)> = Vec::new();
        let mut newly: Vec<(Vec<u32>, f64)> = Vec::new();
        for &(score, b, token) in &candidates {
            if token == specials.eot {
                let mut seq = self.live[b].tokens.clone();
                seq.push(token);
                newly.push((seq, score));
            } else {
                keep.push((score, b, token));
                if keep.len() == self.beam_size {
                    break;
                }
            }
        }
        for seq in newly {
            if self.finished.len() >= self.max_candidates {
                break;
            }
            self.finished.push(seq);
        }
        let longest = self.live.iter().map(|h| h.tokens.len()).max().unwrap_or(0) + 1;
        let extended: Vec<Hypothesis> = keep
            .iter()
            .map(|&(score, b, token)| {
                let mut tokens = self.live[b].tokens.clone();
                tokens.push(token);
                Hypothesis {
                    tokens,
                    sum_logprob: score,
                }
            })
            .collect();
        self.steps += 1;
        if self.finished.len() >= self.max_candidates
            || keep.is_empty()
            || longest > self.task.decoder.max_positions()
            || self.steps == self.task.sample_len
        {
            // The kept sequences end the search unfed: openai ranks them as they are.
            self.unfinished = extended
                .into_iter()
                .map(|h| (h.tokens, h.sum_logprob))
                .collect();
            self.live.clear();
            return Advance::Done;
        }
        self.live = extended;
        Advance::Extend(keep.iter().map(|&(_, b, _)| b).collect())
    }

    /// The window's result once the search is done: the finished sequence with the best
    /// log-probability per token (openai: length penalty `None`), topped up with the best
    /// unfinished ones when fewer than `beam_size` finished.
    pub(crate) fn finish(mut self, no_speech_prob: f64, forward_passes: usize) -> WindowDecode {
        let (initial, eot) = (self.task.initial, self.task.specials.eot);
        if self.finished.len() < self.beam_size {
            self.unfinished.sort_by(|a, b| b.1.total_cmp(&a.1));
            for (mut seq, score) in std::mem::take(&mut self.unfinished) {
                if self.finished.len() >= self.beam_size {
                    break;
                }
                seq.push(eot);
                if !self.finished.iter().any(|(s, _)| *s == seq) {
                    self.finished.push((seq, score));
                }
            }
        }
        let sampled = |seq: &[u32]| -> Vec<u32> {
            let body = &seq[initial.len()..];
            let end = body.iter().position(|&t| t == eot).unwrap_or(body.len());
            body[..end].to_vec()
        };
        let mut best: Option<(f64, usize)> = None;
        for (i, (seq, score)) in self.finished.iter().enumerate() {
            let ranked = score / sampled(seq).len().max(1) as f64;
            if best.is_none_or(|(b, _)| ranked > b) {
                best = Some((ranked, i));
            }
        }
        let (_, i) = best.expect("at least one candidate");
        let (seq, sum_logprob) = &self.finished[i];
        let tokens = sampled(seq);
        WindowDecode {
            avg_logprob: sum_logprob / (tokens.len() + 1) as f64,
            finished: true,
            tokens,
            sum_logprob: *sum_logprob,
            no_speech_prob,
            forward_passes,
        }
    }
}

/// The candidates of a beam step, best first: each hypothesis `(tokens, score, logits)`
/// offers its `per_hypothesis` best next tokens after `filters` (applied to its logits in
/// place), scored `score` + the token's log-probability, as `(score, hypothesis index,
/// token)`. Equal scores keep hypothesis order, then token order (Python's stable `sorted`).
/// `logprobs` is scratch.
pub(crate) fn ranked_candidates<'r>(
    filters: &LogitFilters,
    hypotheses: impl Iterator<Item = (&'r [u32], f64, &'r mut Vec<f32>)>,
    per_hypothesis: usize,
    logprobs: &mut Vec<f32>,
) -> Vec<(f64, usize, u32)> {
    let mut candidates = Vec::new();
    for (b, (tokens, score, row)) in hypotheses.enumerate() {
        filters.apply(tokens, row);
        logprobs.resize(row.len(), 0.0);
        log_softmax(row, logprobs);
        for (token, lp) in top_k(logprobs, per_hypothesis) {
            candidates.push((score + f64::from(lp), b, token));
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    candidates
}

/// How the live beams of a step are run through the decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeamPasses {
    /// All beams as rows of one pass (what decoding uses).
    Batched,
    /// Each beam in its own one-token pass: the reference the batched pass must equal bit for
    /// bit (`--verify` and the tests compare them).
    OneByOne,
}

/// Beam search decoding of one window with `beam_size` beams and openai's `patience`
/// (finished candidates collected: `beam_size * patience`), all beams in one pass per step.
pub fn decode_beam(task: &WindowTask<'_>, beam_size: usize, patience: f64) -> Result<WindowDecode> {
    decode_beam_with(task, beam_size, patience, BeamPasses::Batched)
}

/// [`decode_beam`] with the beams' passes chosen by `passes`.
pub fn decode_beam_with(
    task: &WindowTask<'_>,
    beam_size: usize,
    patience: f64,
    passes: BeamPasses,
) -> Result<WindowDecode> {
    let (decoder, cross) = (task.decoder, task.cross);
    let mut search = BeamSearch::new(task, beam_size, patience);
    let (cache, no_speech_prob, row) = prompt_pass(task)?;
    let mut forward_passes = 1;
    // Each live hypothesis's cache (all its tokens) and logits for its next token.
    let mut caches = vec![cache];
    let mut rows = vec![row];
    let mut held: Vec<Vec<u32>> = vec![task.initial.to_vec()];
    while let Advance::Extend(sources) = search.step(&mut rows) {
        // A hypothesis extended once moves on with its cache, one extended more copies it.
        let held_refs: Vec<&[u32]> = held.iter().map(Vec::as_slice).collect();
        caches = extend_caches(caches, &held_refs, &sources)?;
        let last: Vec<u32> = search
            .live
            .iter()
            .map(|h| *h.tokens.last().expect("extended"))
            .collect();
        held = search.live.iter().map(|h| h.tokens.clone()).collect();
        rows = match passes {
            BeamPasses::Batched => {
                // One pass for every live hypothesis's new token.
                let mut refs: Vec<&mut KvCache> = caches.iter_mut().collect();
                let logits = decoder.forward_beams(&last, &mut refs, cross)?;
                (0..last.len())
                    .map(|i| logits.i(i)?.to_vec1::<f32>())
                    .collect::<Result<_>>()?
            }
            BeamPasses::OneByOne => caches
                .iter_mut()
                .zip(&last)
                .map(|(cache, &token)| decoder.forward(&[token], cache, cross)?.i(0)?.to_vec1())
                .collect::<Result<_>>()?,
        };
        forward_passes += 1;
    }
    Ok(search.finish(no_speech_prob, forward_passes))
}

/// The caches of the next live hypotheses, `sources[i]` being the index of the old one new
/// hypothesis `i` extends; `held[j]` are the tokens whose keys and values old cache `j` holds.
/// A cache used once moves on. One used more is copied for its other users into the caches of
/// dropped hypotheses, from the first token where the two differ (positions before it hold the
/// same bits, being the same tokens' keys and values); a fresh copy only when none is left.
pub(crate) fn extend_caches(
    old: Vec<KvCache>,
    held: &[&[u32]],
    sources: &[usize],
) -> Result<Vec<KvCache>> {
    let mut uses = vec![0usize; old.len()];
    for &s in sources {
        uses[s] += 1;
    }
    let mut spare: Vec<usize> = (0..old.len()).filter(|&j| uses[j] == 0).collect();
    let mut old: Vec<Option<KvCache>> = old.into_iter().map(Some).collect();
    sources
        .iter()
        .map(|&s| {
            uses[s] -= 1;
            if uses[s] == 0 {
                return Ok(old[s].take().expect("a cache is moved once, last"));
            }
            // The spare that shares the longest prefix with the source.
            let best = spare
                .iter()
                .enumerate()
                .max_by_key(|&(_, &j)| common_prefix(held[j], held[s]))
                .map(|(k, _)| k);
            match best {
                Some(k) => {
                    let j = spare.swap_remove(k);
                    let mut cache = old[j].take().expect("a spare is used once");
                    let source = old[s].as_ref().expect("still here");
                    cache.overwrite_from(source, common_prefix(held[j], held[s]))?;
                    Ok(cache)
                }
                None => old[s].as_ref().expect("still here").fork(),
            }
        })
        .collect()
}

/// Length of the common prefix of `a` and `b`.
pub(crate) fn common_prefix(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// The `k` largest entries (token, value), largest first; equal values in index order.
pub(crate) fn top_k(values: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    for (i, &v) in values.iter().enumerate() {
        if v == f32::NEG_INFINITY || (best.len() == k && v <= best[k - 1].1) {
            continue;
        }
        let at = best.partition_point(|&(_, b)| b >= v);
        best.insert(at, (i as u32, v));
        best.truncate(k);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::top_k;

    #[test]
    fn top_k_keeps_the_largest_in_order() {
        let v = [0.1, 3.0, f32::NEG_INFINITY, 2.0, 3.0, -1.0];
        assert_eq!(top_k(&v, 3), vec![(1, 3.0), (4, 3.0), (3, 2.0)]);
        assert_eq!(top_k(&v, 10).len(), 5);
    }
}
