//! What decoding one window needs, whatever the strategy (greedy, sampling, beam search,
//! speculative): the target decoder with this window's cross-attention, the prompt, the logit
//! filters and the limits. One value travels through every decoder instead of seven arguments.

use super::filters::LogitFilters;
use crate::model::{CrossKv, TextDecoder};
use crate::text::SpecialTokens;

/// One window's decoding problem. The strategies read it; none changes it.
#[derive(Debug, Clone, Copy)]
pub struct WindowTask<'a> {
    /// The target decoder.
    pub decoder: &'a TextDecoder,
    /// The window's cross-attention keys/values for `decoder`.
    pub cross: &'a CrossKv,
    /// The whole prompt: previous text (after start-of-previous), the start-of-transcript
    /// sequence, and any forced prefix.
    pub initial: &'a [u32],
    /// Position of start-of-transcript in `initial` (its row gives the no-speech probability).
    pub sot_index: usize,
    /// openai/whisper's logit filters for this prompt.
    pub filters: &'a LogitFilters,
    /// The tokenizer's special tokens.
    pub specials: &'a SpecialTokens,
    /// Most tokens to sample (openai: `sample_len`, 224 by default).
    pub sample_len: usize,
}
