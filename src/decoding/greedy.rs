//! Target-only decoding of one window (greedy, or sampling at a temperature): the reference
//! every faster path (speculative decoding) must reproduce, token for token when greedy.
//!
//! Follows openai/whisper's `DecodingTask` at temperature 0: one forward pass over the initial
//! tokens (previous-text prompt + start-of-transcript sequence), the no-speech probability read
//! at the start-of-transcript position, then one token per step: filters, log-softmax, argmax,
//! until end-of-text, `sample_len` tokens, or the decoder's context is full.

use candle_core::{IndexOp, Result};

use super::filters::{argmax, no_speech_prob, token_logprob};
use super::sampling::{Sampler, tempered_probs};
use super::task::WindowTask;
use crate::model::KvCache;

/// What decoding one window produced.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowDecode {
    /// Sampled tokens, without the final end-of-text.
    pub tokens: Vec<u32>,
    /// Sum of the log-probabilities of the sampled tokens, end-of-text included.
    pub sum_logprob: f64,
    /// `sum_logprob / (tokens + 1)`, as openai/whisper reports it.
    pub avg_logprob: f64,
    /// Probability of the no-speech token at the start-of-transcript position.
    pub no_speech_prob: f64,
    /// Whether decoding ended on end-of-text (not on a length limit).
    pub finished: bool,
    /// Decoder forward passes made.
    pub forward_passes: usize,
}

/// Greedy decoding of one window by the target alone.
pub fn decode_greedy(task: &WindowTask<'_>) -> Result<WindowDecode> {
    let mut unused = Sampler::new(0);
    decode_target(task, 0.0, &mut unused)
}

/// The target's pass over a window's whole prompt: its cache, the no-speech probability (at
/// the start-of-transcript row) and the logits of the last row; only those two rows go through
/// the vocabulary projection.
pub(super) fn prompt_pass(task: &WindowTask<'_>) -> Result<(KvCache, f64, Vec<f32>)> {
    let mut cache = task.decoder.new_cache();
    let rows = [task.sot_index, task.initial.len() - 1];
    let logits = task
        .decoder
        .forward_rows(task.initial, &mut cache, task.cross, Some(&rows))?;
    let no_speech_prob =
        no_speech_prob(&logits.i(0)?.to_vec1::<f32>()?, task.specials).map_or(0.0, f64::from);
    Ok((cache, no_speech_prob, logits.i(1)?.to_vec1::<f32>()?))
}

/// Target-only decoding of one window: greedy at temperature 0, otherwise sampling from
/// softmax(filtered logits / temperature) with `sampler` (openai's `DecodingTask` at that
/// temperature, best_of 1). Log-probabilities are of the untempered filtered logits, as openai
/// reports them.
pub fn decode_target(
    task: &WindowTask<'_>,
    temperature: f32,
    sampler: &mut Sampler,
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
    let (mut cache, no_speech_prob, mut row) = prompt_pass(task)?;
    let mut tokens = initial.to_vec();
    let mut probs = Vec::new();
    let mut sum_logprob = 0.0f64;
    let mut finished = false;
    let mut forward_passes = 1;

    for _ in 0..sample_len {
        filters.apply(&tokens, &mut row);
        let next = if temperature > 0.0 {
            tempered_probs(&row, temperature, &mut probs);
            sampler.sample_at(tokens.len(), &probs)
        } else {
            argmax(&row) as u32
        };
        sum_logprob += f64::from(token_logprob(&row, next as usize));
        if next == specials.eot {
            finished = true;
            break;
        }
        tokens.push(next);
        if tokens.len() > decoder.max_positions() {
            break;
        }
        row = decoder
            .forward(&[next], &mut cache, cross)?
            .i(0)?
            .to_vec1::<f32>()?;
        forward_passes += 1;
    }

    let sampled = tokens.split_off(initial.len());
    let avg_logprob = sum_logprob / (sampled.len() + 1) as f64;
    Ok(WindowDecode {
        tokens: sampled,
        sum_logprob,
        avg_logprob,
        no_speech_prob,
        finished,
        forward_passes,
    })
}
