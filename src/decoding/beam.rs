//! Beam search over one window, as openai/whisper's `BeamSearchDecoder` with its
//! `MaximumLikelihoodRanker` (no length penalty): keep the `beam_size` most likely unfinished
//! sequences, each extended by its `beam_size + 1` best next tokens every step; collect
//! finished ones until `beam_size * patience` are in; return the finished sequence with the
//! best log-probability per token.
//!
//! Target only: speculative decoding verifies one sequence, and a beam is several. Each beam
//! keeps its own self-attention cache (forked when a beam splits), and every step is one
//! decoder pass over all live beams ([`TextDecoder::forward_beams`]): the weights are read once
//! per step instead of once per beam, and each beam's logits are bit for bit those of its own
//! one-token pass, so the search is the same as decoding the beams one after another.
//!
//! [`TextDecoder::forward_beams`]: crate::model::TextDecoder::forward_beams

use candle_core::{IndexOp, Result};

use super::filters::log_softmax;
use super::greedy::{WindowDecode, prompt_pass};
use super::task::WindowTask;
use crate::model::KvCache;

struct Beam {
    tokens: Vec<u32>,
    sum_logprob: f64,
    cache: KvCache,
    /// Logits for the next token.
    row: Vec<f32>,
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
    let WindowTask {
        decoder,
        cross,
        initial,
        filters,
        specials,
        sample_len,
        ..
    } = *task;
    let beam_size = beam_size.max(1);
    let max_candidates = ((beam_size as f64 * patience).round() as usize).max(1);
    let (cache, no_speech_prob, row) = prompt_pass(task)?;
    let mut forward_passes = 1;
    // openai starts from `beam_size` copies of the prompt; their identical candidates merge,
    // which is one beam.
    let mut beams = vec![Beam {
        tokens: initial.to_vec(),
        sum_logprob: 0.0,
        cache,
        row,
    }];
    let mut finished: Vec<(Vec<u32>, f64)> = Vec::new();
    // The sequences still open when the search stops, with their scores.
    let mut unfinished = vec![(initial.to_vec(), 0.0)];
    let mut logprobs = Vec::new();

    for step in 0..sample_len {
        // (score, source beam, token), in beam order then best token first.
        let mut candidates: Vec<(f64, usize, u32)> = Vec::new();
        for (b, beam) in beams.iter_mut().enumerate() {
            filters.apply(&beam.tokens, &mut beam.row);
            logprobs.resize(beam.row.len(), 0.0);
            log_softmax(&beam.row, &mut logprobs);
            for (token, lp) in top_k(&logprobs, beam_size + 1) {
                candidates.push((beam.sum_logprob + f64::from(lp), b, token));
            }
        }
        // Stable: equal scores keep their order, as Python's `sorted`.
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut keep: Vec<(f64, usize, u32)> = Vec::new();
        let mut newly: Vec<(Vec<u32>, f64)> = Vec::new();
        for &(score, b, token) in &candidates {
            if token == specials.eot {
                let mut seq = beams[b].tokens.clone();
                seq.push(token);
                newly.push((seq, score));
            } else {
                keep.push((score, b, token));
                if keep.len() == beam_size {
                    break;
                }
            }
        }
        for seq in newly {
            if finished.len() >= max_candidates {
                break;
            }
            finished.push(seq);
        }
        let longest = beams.iter().map(|b| b.tokens.len()).max().unwrap_or(0) + 1;
        if finished.len() >= max_candidates
            || keep.is_empty()
            || longest > decoder.max_positions()
            || step + 1 == sample_len
        {
            // The kept sequences end the search unfed: openai ranks them as they are.
            unfinished = keep
                .iter()
                .map(|&(score, b, token)| {
                    let mut tokens = beams[b].tokens.clone();
                    tokens.push(token);
                    (tokens, score)
                })
                .collect();
            break;
        }
        // Extend the kept candidates: a beam used once moves on, one used more forks.
        let mut uses = vec![0usize; beams.len()];
        for &(_, b, _) in &keep {
            uses[b] += 1;
        }
        let mut old: Vec<Option<Beam>> = beams.into_iter().map(Some).collect();
        let mut next = Vec::with_capacity(keep.len());
        for &(score, b, token) in &keep {
            uses[b] -= 1;
            let (mut tokens, cache) = if uses[b] == 0 {
                let beam = old[b].take().expect("a beam is moved once, last");
                (beam.tokens, beam.cache)
            } else {
                let beam = old[b].as_ref().expect("still here");
                (beam.tokens.clone(), beam.cache.fork()?)
            };
            tokens.push(token);
            next.push(Beam {
                tokens,
                sum_logprob: score,
                cache,
                row: Vec::new(),
            });
        }
        let last: Vec<u32> = keep.iter().map(|&(_, _, token)| token).collect();
        match passes {
            BeamPasses::Batched => {
                // One pass for every kept beam's new token.
                let mut caches: Vec<&mut KvCache> = next.iter_mut().map(|b| &mut b.cache).collect();
                let logits = decoder.forward_beams(&last, &mut caches, cross)?;
                for (i, beam) in next.iter_mut().enumerate() {
                    beam.row = logits.i(i)?.to_vec1::<f32>()?;
                }
            }
            BeamPasses::OneByOne => {
                for (beam, &token) in next.iter_mut().zip(&last) {
                    let logits = decoder.forward(&[token], &mut beam.cache, cross)?;
                    beam.row = logits.i(0)?.to_vec1::<f32>()?;
                }
            }
        }
        forward_passes += 1;
        beams = next;
    }

    // Not enough finished: the best unfinished sequences count, as if they ended here.
    if finished.len() < beam_size {
        unfinished.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (mut seq, score) in unfinished {
            if finished.len() >= beam_size {
                break;
            }
            seq.push(specials.eot);
            if !finished.iter().any(|(s, _)| *s == seq) {
                finished.push((seq, score));
            }
        }
    }
    // Rank by log-probability per sampled token (openai: length penalty None).
    let sampled = |seq: &[u32]| -> Vec<u32> {
        let body = &seq[initial.len()..];
        let end = body
            .iter()
            .position(|&t| t == specials.eot)
            .unwrap_or(body.len());
        body[..end].to_vec()
    };
    let mut best: Option<(f64, usize)> = None;
    for (i, (seq, score)) in finished.iter().enumerate() {
        let ranked = score / sampled(seq).len().max(1) as f64;
        if best.is_none_or(|(b, _)| ranked > b) {
            best = Some((ranked, i));
        }
    }
    let (_, i) = best.expect("at least one candidate");
    let (seq, sum_logprob) = &finished[i];
    let tokens = sampled(seq);
    Ok(WindowDecode {
        avg_logprob: sum_logprob / (tokens.len() + 1) as f64,
        finished: true,
        tokens,
        sum_logprob: *sum_logprob,
        no_speech_prob,
        forward_passes,
    })
}

/// The `k` largest entries (token, value), largest first; equal values in index order.
fn top_k(values: &[f32], k: usize) -> Vec<(u32, f32)> {
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
