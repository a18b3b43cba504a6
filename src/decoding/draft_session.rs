//! What the speculative loop needs from a draft over one window: feed tokens, get the logits
//! of the last one, roll back. Two implementations: any [`TextDecoder`] (f32, candle-quantized,
//! layer-skipping, another model's) with its cache, and the fused [`FusedDraft`].

use candle_core::{IndexOp, Result};

use super::task::WindowTask;
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
pub struct FusedDraftSession<'a> {
    decoder: &'a FusedDraft,
    cross: &'a FusedDraftCrossKv,
    state: FusedDraftState,
}

impl<'a> FusedDraftSession<'a> {
    /// `decoder` over the window whose 8-bit cross-attention is `cross`, with an empty cache.
    pub fn new(decoder: &'a FusedDraft, cross: &'a FusedDraftCrossKv) -> Self {
        FusedDraftSession {
            decoder,
            cross,
            state: decoder.new_state(),
        }
    }
}

impl DraftSession for FusedDraftSession<'_> {
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

/// A draft session seen through the window's token positions. The draft may read only the tail
/// of the previous-text prompt (`SpecConfig::draft_prompt_tokens`), so its cache position `i`
/// is not the window's token `i`: with the start-of-previous token kept, position 0 is token 0
/// and position `i > 0` is token `skip + i - 1`; otherwise position `i` is token `skip + i`.
/// This adapter holds that mapping, so the speculative loop speaks only in window positions.
pub struct PromptWindowedDraft<'d> {
    session: &'d mut dyn DraftSession,
    /// Window tokens the draft never sees (the head of the previous-text prompt).
    skip: usize,
    /// Whether the start-of-previous token stays in front of the prompt's kept tail.
    keep_prev: bool,
}

impl<'d> PromptWindowedDraft<'d> {
    /// `session` over `task`'s window, reading the last `prompt_tokens` of its previous-text
    /// prompt (`None`: all of it, as the target; `Some(0)`: none, not even start-of-previous).
    pub fn new(
        session: &'d mut dyn DraftSession,
        task: &WindowTask<'_>,
        prompt_tokens: Option<usize>,
    ) -> Self {
        let skip = match prompt_tokens {
            None => 0,
            Some(n) => task.sot_index.min(task.initial.len() - 1).saturating_sub(n),
        };
        let keep_prev = skip > 0
            && prompt_tokens != Some(0)
            && task.initial.first() == Some(&task.specials.prev);
        PromptWindowedDraft {
            session,
            skip,
            keep_prev,
        }
    }

    /// Feeds the draft the window's `tokens` it has not seen yet; the logits of the last one
    /// go to `logits`.
    pub fn catch_up(&mut self, tokens: &[u32], logits: &mut Vec<f32>) -> Result<()> {
        let cached = self.session.len();
        if self.keep_prev && cached == 0 {
            let mut feed = vec![tokens[0]];
            feed.extend_from_slice(&tokens[self.skip..]);
            self.session.feed(&feed, logits)
        } else {
            let kept = usize::from(self.keep_prev).min(cached);
            self.session
                .feed(&tokens[self.skip + cached - kept..], logits)
        }
    }

    /// Feeds one more token (a proposal) after what is cached.
    pub fn feed(&mut self, token: u32, logits: &mut Vec<f32>) -> Result<()> {
        self.session.feed(&[token], logits)
    }

    /// Keeps at most the draft's positions of the window's first `tokens` tokens.
    pub fn roll_back(&mut self, tokens: usize) {
        let positions = tokens - self.skip + usize::from(self.keep_prev);
        let keep = self.session.len().min(positions);
        self.session.truncate(keep);
    }
}
