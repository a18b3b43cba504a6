//! What the speculative loop needs from a draft over one window: feed tokens, get the logits
//! of the last one, roll back. Two implementations: any [`TextDecoder`] (f32, candle-quantized,
//! layer-skipping, another model's) with its cache, and the fused [`FusedDraft`].

use candle_core::{IndexOp, Result};

use crate::model::{CrossKv, FusedDraft, FusedDraftCrossKv, FusedDraftState, KvCache, TextDecoder};

/// A draft decoder bound to one window's cross-attention, with its own self-attention cache.
pub trait DraftSession {
    /// Positions cached.
    fn len(&self) -> usize;

    /// Whether nothing is cached.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every position from `n` on.
    fn truncate(&mut self, n: usize);

    /// Scores `tokens` after what is cached, caches them, and writes the logits of the last one
    /// into `logits`.
    fn feed(&mut self, tokens: &[u32], logits: &mut Vec<f32>) -> Result<()>;
}

/// A [`TextDecoder`] as a draft.
pub struct DecoderDraft<'a> {
    decoder: &'a TextDecoder,
    cross: &'a CrossKv,
    cache: KvCache,
}

impl<'a> DecoderDraft<'a> {
    /// `decoder` over the window whose cross-attention is `cross`, with an empty cache.
    pub fn new(decoder: &'a TextDecoder, cross: &'a CrossKv) -> Self {
        DecoderDraft {
            decoder,
            cross,
            cache: decoder.new_cache(),
        }
    }
}

impl DraftSession for DecoderDraft<'_> {
    fn len(&self) -> usize {
        self.cache.len()
    }

    fn truncate(&mut self, n: usize) {
        self.cache.truncate(n);
    }

    fn feed(&mut self, tokens: &[u32], logits: &mut Vec<f32>) -> Result<()> {
        let last = [tokens.len().saturating_sub(1)];
        let out = self
            .decoder
            .forward_rows(tokens, &mut self.cache, self.cross, Some(&last))?;
        *logits = out.i(0)?.to_vec1::<f32>()?;
        Ok(())
    }
}

/// The fused 8-bit draft.
pub struct Int8Draft<'a> {
    decoder: &'a FusedDraft,
    cross: &'a FusedDraftCrossKv,
    state: FusedDraftState,
}

impl<'a> Int8Draft<'a> {
    /// `decoder` over the window whose 8-bit cross-attention is `cross`, with an empty cache.
    pub fn new(decoder: &'a FusedDraft, cross: &'a FusedDraftCrossKv) -> Self {
        Int8Draft {
            decoder,
            cross,
            state: decoder.new_state(),
        }
    }
}

impl DraftSession for Int8Draft<'_> {
    fn len(&self) -> usize {
        self.state.len()
    }

    fn truncate(&mut self, n: usize) {
        self.state.truncate(n);
    }

    fn feed(&mut self, tokens: &[u32], logits: &mut Vec<f32>) -> Result<()> {
        self.decoder
            .forward_last(tokens, &mut self.state, self.cross, logits)
    }
}
