//! Best-of-N sampling with the N candidates as rows of one decoder pass.
//!
//! openai/whisper's temperature fallback samples `best_of` candidates (5 by default) of a window
//! and keeps the likeliest. Decoded one after another, each candidate reads every weight once
//! per token; here all live candidates advance together through
//! [`TextDecoder::forward_beams`], which reads the weights once per step for all of them and
//! computes each row as it would be alone. Each candidate draws from its own random stream at
//! each position ([`Sampler`]), so candidate `i` is token for token, score for score, what
//! [`decode_target`](super::greedy::decode_target) gives with `samplers[i]`.
//!
//! [`TextDecoder::forward_beams`]: crate::model::TextDecoder::forward_beams

use candle_core::{IndexOp, Result};

use super::filters::token_logprob;
use super::greedy::{WindowDecode, prompt_pass};
use super::sampling::{Sampler, tempered_probs};
use super::task::WindowTask;
use crate::model::KvCache;

/// One candidate while it is being sampled.
struct Candidate {
    tokens: Vec<u32>,
    sum_logprob: f64,
    finished: bool,
    /// Still sampling (not finished, under every limit).
    live: bool,
    forward_passes: usize,
    /// Logits for the next token (while live).
    row: Vec<f32>,
    cache: Option<KvCache>,
}

/// Samples one candidate per entry of `samplers` at `temperature` (> 0) from `task`'s window,
/// all in the same passes; returns them in the order of `samplers`.
pub fn decode_sampled_batch(
    task: &WindowTask<'_>,
    temperature: f32,
    samplers: &[Sampler],
) -> Result<Vec<WindowDecode>> {
    let WindowTask {
        decoder,
        cross,
        initial,
        filters,
        specials,
        sample_len,
        ..
    } = *task;
    if samplers.is_empty() {
        return Ok(Vec::new());
    }
    let (cache, no_speech_prob, row) = prompt_pass(task)?;
    let mut prompt_cache = Some(cache);
    let mut candidates: Vec<Candidate> = Vec::with_capacity(samplers.len());
    for i in 0..samplers.len() {
        // The last candidate takes the prompt's cache itself; the others copy it.
        let cache = match i + 1 == samplers.len() {
            true => prompt_cache.take().expect("taken once, last"),
            false => prompt_cache.as_ref().expect("still here").fork()?,
        };
        candidates.push(Candidate {
            tokens: initial.to_vec(),
            sum_logprob: 0.0,
            finished: false,
            live: true,
            forward_passes: 1,
            row: row.clone(),
            cache: Some(cache),
        });
    }
    let mut probs = Vec::new();
    for _ in 0..sample_len {
        let mut next_tokens: Vec<u32> = Vec::new();
        for (c, sampler) in candidates.iter_mut().zip(samplers) {
            if !c.live {
                continue;
            }
            filters.apply(&c.tokens, &mut c.row);
            tempered_probs(&c.row, temperature, &mut probs);
            let next = sampler.sample_at(c.tokens.len(), &probs);
            c.sum_logprob += f64::from(token_logprob(&c.row, next as usize));
            if next == specials.eot {
                c.finished = true;
                c.live = false;
                c.cache = None;
                continue;
            }
            c.tokens.push(next);
            if c.tokens.len() > decoder.max_positions() {
                c.live = false;
                c.cache = None;
                continue;
            }
            next_tokens.push(next);
        }
        if next_tokens.is_empty() {
            break;
        }
        let mut live: Vec<&mut Candidate> = candidates.iter_mut().filter(|c| c.live).collect();
        let logits = {
            let mut caches: Vec<&mut KvCache> = live
                .iter_mut()
                .map(|c| c.cache.as_mut().expect("a live candidate has its cache"))
                .collect();
            decoder.forward_beams(&next_tokens, &mut caches, cross)?
        };
        for (i, c) in live.iter_mut().enumerate() {
            c.row = logits.i(i)?.to_vec1::<f32>()?;
            c.forward_passes += 1;
        }
    }
    Ok(candidates
        .into_iter()
        .map(|c| {
            let tokens = c.tokens[initial.len()..].to_vec();
            WindowDecode {
                avg_logprob: c.sum_logprob / (tokens.len() + 1) as f64,
                tokens,
                sum_logprob: c.sum_logprob,
                no_speech_prob,
                finished: c.finished,
                forward_passes: c.forward_passes,
            }
        })
        .collect())
}
