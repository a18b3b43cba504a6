//! Whisper's text decoder with a rollback-able self-attention cache.
//!
//! `forward(tokens, cache, cross)` scores any number of new tokens in one pass: they attend
//! causally to each other and to everything cached, and the logits of every new position come
//! back. One token at a time, a block at once, or a block after `cache.truncate(n)` all give the
//! same logits: this is what lets a speculative decoder verify a draft in one target pass.
//!
//! The decoder loads on its own (no encoder weights needed: a distil draft ships only these) and
//! from any subset of its layers (a layer-skipping self-draft).
//!
//! [`TextDecoder::quantize`] makes a quantized copy for a speculative self-draft: every
//! per-step projection (self-attention, cross-attention query/output, MLP, and the tied
//! vocabulary projection) gets 8- or 4-bit weights, which cuts the bytes read per step to a
//! quarter or less; token lookup, positions, norms and the cross-attention key/value
//! projections stay the target's own f32 tensors (shared, not copied), so the copy accepts the
//! target's [`CrossKv`] and keeps every guarantee above.

use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Result, Tensor};
use candle_nn::{LayerNorm, Linear, Module, VarBuilder};

use super::attention::{Attention, LayerCrossKv, causal_mask};
use super::config::WhisperConfig;
use super::kv_cache::{KvCache, LayerCache};
use super::linear::{Projection, QuantKind};
use super::token_tree::{TreeKv, TreeLayout, TreeNode};
use crate::kernels::gelu::gelu;
use crate::kernels::release_freed_heap;

/// One pre-norm decoder block: causal self-attention, cross-attention, MLP.
#[derive(Debug, Clone)]
pub(crate) struct DecoderBlock {
    pub(crate) attn_ln: LayerNorm,
    pub(crate) attn: Attention,
    pub(crate) cross_ln: LayerNorm,
    pub(crate) cross: Attention,
    pub(crate) mlp_ln: LayerNorm,
    pub(crate) fc1: Projection,
    pub(crate) fc2: Projection,
}

impl DecoderBlock {
    fn load(vb: VarBuilder, cfg: &WhisperConfig) -> Result<Self> {
        let d = cfg.d_model;
        let heads = cfg.decoder_attention_heads;
        Ok(DecoderBlock {
            attn_ln: candle_nn::layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            attn: Attention::load_self(vb.pp("self_attn"), d, heads)?,
            cross_ln: candle_nn::layer_norm(d, 1e-5, vb.pp("encoder_attn_layer_norm"))?,
            cross: Attention::load(vb.pp("encoder_attn"), d, heads)?,
            mlp_ln: candle_nn::layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
            fc1: Projection::load(d, cfg.decoder_ffn_dim, vb.pp("fc1"))?,
            fc2: Projection::load(cfg.decoder_ffn_dim, d, vb.pp("fc2"))?,
        })
    }

    /// The block with its per-step projections quantized; norms and the cross-attention
    /// key/value projections are shared with `self`.
    fn quantize(&self, dtype: GgmlDType) -> Result<Self> {
        Ok(DecoderBlock {
            attn_ln: self.attn_ln.clone(),
            attn: self.attn.quantize(dtype, true)?,
            cross_ln: self.cross_ln.clone(),
            cross: self.cross.quantize(dtype, false)?,
            mlp_ln: self.mlp_ln.clone(),
            fc1: self.fc1.quantize(dtype)?,
            fc2: self.fc2.quantize(dtype)?,
        })
    }

    /// The rest of the block after self-attention (`x` with its residual added):
    /// cross-attention over `cross`, then the MLP, each with its residual.
    fn cross_and_mlp(&self, x: Tensor, cross: &LayerCrossKv) -> Result<Tensor> {
        let h = self
            .cross
            .cross_attention(&self.cross_ln.forward(&x)?, cross)?;
        let x = (x + h)?;
        let h = gelu(&self.fc1.forward(&self.mlp_ln.forward(&x)?)?)?;
        &x + self.fc2.forward(&h)?
    }

    /// The block with its per-token projections packed in the CPU kernel's reading order
    /// ([`Projection::packed`]; the same results).
    fn packed(self) -> Result<Self> {
        Ok(DecoderBlock {
            attn: self.attn.packed()?,
            cross: self.cross.packed()?,
            fc1: self.fc1.packed()?,
            fc2: self.fc2.packed()?,
            ..self
        })
    }

    /// The block with its cross-attention key/value projections in 8 bits (CPU).
    fn with_int8_cross_kv(self) -> Result<Self> {
        Ok(DecoderBlock {
            cross: self.cross.with_int8_keys_values()?,
            ..self
        })
    }
}

/// Cross-attention keys and values of every decoder layer for one encoded window. Computed
/// once per window and shared by every decoding step (and by a draft with the same weights).
#[derive(Debug, Clone)]
pub struct CrossKv {
    layers: Vec<LayerCrossKv>,
}

impl CrossKv {
    /// Layer `i`'s keys and values.
    pub(crate) fn layer(&self, i: usize) -> &LayerCrossKv {
        &self.layers[i]
    }

    /// Number of layers covered.
    pub fn layers(&self) -> usize {
        self.layers.len()
    }
}

/// Alignment heads `(layer, head)` and a slot per head for its cross-attention scores.
type Probe<'a> = (&'a [[usize; 2]], &'a mut [Option<Tensor>]);

/// The text decoder (`model.decoder.*`, output projection tied to the token embedding).
///
/// Either dense f32 (as loaded) or a quantized copy made by [`TextDecoder::quantize`]; both
/// have the same interface and the same cache/roll-back behaviour.
#[derive(Debug, Clone)]
pub struct TextDecoder {
    /// The `[vocab, d]` token table tokens are looked up in ([`Projection::rows`]): the
    /// tied head as loaded (row-major or packed, shared with `head`), or the quantized head of
    /// a [`load_quantized`](Self::load_quantized) decoder. A quantized copy made by
    /// [`quantize`](Self::quantize) shares its source's, so it looks up the same rows.
    token_table: Projection,
    positions: Tensor,
    blocks: Vec<DecoderBlock>,
    ln: LayerNorm,
    /// The logits projection: the token embedding as a bias-free `Linear` (the same tensor,
    /// so exactly `x @ embed_tokens^T`; packed on CPUs that read it so), or its quantized
    /// copy.
    head: Projection,
    /// The weight type of a quantized copy; `None` for the f32 decoder.
    quant: Option<GgmlDType>,
    /// Indices of the source model's layers this decoder kept.
    layer_ids: Vec<usize>,
    vocab_size: usize,
    max_positions: usize,
    device: Device,
}

impl TextDecoder {
    /// Loads every layer from `vb` positioned at `model.decoder`.
    pub fn load(vb: VarBuilder, cfg: &WhisperConfig) -> Result<Self> {
        let all: Vec<usize> = (0..cfg.decoder_layers).collect();
        Self::load_layers(vb, cfg, &all)
    }

    /// Loads only the given layers (in the given order), e.g. `[0, 1, 5]` for a layer-skipping
    /// draft; embeddings and the final norm are shared by all.
    pub fn load_layers(vb: VarBuilder, cfg: &WhisperConfig, layers: &[usize]) -> Result<Self> {
        if layers.is_empty() {
            candle_core::bail!("a decoder needs at least one layer");
        }
        if let Some(&bad) = layers.iter().find(|&&l| l >= cfg.decoder_layers) {
            candle_core::bail!(
                "decoder layer {bad} does not exist (the model has {})",
                cfg.decoder_layers
            );
        }
        let d = cfg.d_model;
        let embed_tokens = vb.get((cfg.vocab_size, d), "embed_tokens.weight")?;
        // On the CPU the per-token weights are kept in the order its kernel reads them (where
        // that differs from row-major), each packed as it loads.
        let cpu = vb.device().is_cpu();
        let pack = |p: Projection| if cpu { p.packed() } else { Ok(p) };
        let head = pack(Projection::from_linear(Linear::new(embed_tokens, None)))?;
        let blocks = layers
            .iter()
            .map(|i| {
                let block = DecoderBlock::load(vb.pp(format!("layers.{i}")), cfg)?;
                if cpu { block.packed() } else { Ok(block) }
            })
            .collect::<Result<_>>()?;
        if cpu {
            release_freed_heap();
        }
        Ok(TextDecoder {
            token_table: head.clone(),
            head,
            quant: None,
            positions: vb.get((cfg.max_target_positions, d), "embed_positions.weight")?,
            blocks,
            ln: candle_nn::layer_norm(d, 1e-5, vb.pp("layer_norm"))?,
            layer_ids: layers.to_vec(),
            vocab_size: cfg.vocab_size,
            max_positions: cfg.max_target_positions,
            device: vb.device().clone(),
        })
    }

    /// Loads every layer from `vb` (at `model.decoder`) straight into the quantized form of
    /// [`quantize`](Self::quantize), one layer at a time, so the f32 weights of the whole
    /// decoder never sit in memory at once. This is the
    /// `--quantize` *target*, not a draft, so it goes further than `quantize`:
    /// - tokens are looked up in the quantized vocabulary projection (the same tied matrix),
    ///   so no f32 token table is kept;
    /// - on the CPU, the cross-attention key/value projections compute in 8 bits
    ///   ([`Projection::to_int8`]): they run once per window over all 1500 encoder frames,
    ///   compute-bound like the encoder.
    pub fn load_quantized(vb: VarBuilder, cfg: &WhisperConfig, kind: QuantKind) -> Result<Self> {
        let _span = tracing::debug_span!("load_quantized_decoder", ?kind).entered();
        let dtype = kind.ggml_dtype();
        let d = cfg.d_model;
        let cpu = vb.device().is_cpu();
        // Read as f16 (what the imported models store; the 8- or 4-bit rounding that follows
        // dwarfs f16's own), quantized a chunk of rows at a time.
        let embed = vb.get_with_hints_dtype(
            (cfg.vocab_size, d),
            "embed_tokens.weight",
            Default::default(),
            DType::F16,
        )?;
        let head = Projection::from_linear(Linear::new(embed, None)).quantize(dtype)?;
        let blocks = (0..cfg.decoder_layers)
            .map(|i| {
                let b = DecoderBlock::load(vb.pp(format!("layers.{i}")), cfg)?.quantize(dtype)?;
                if cpu { b.with_int8_cross_kv() } else { Ok(b) }
            })
            .collect::<Result<_>>()?;
        Ok(TextDecoder {
            token_table: head.clone(),
            positions: vb.get((cfg.max_target_positions, d), "embed_positions.weight")?,
            blocks,
            ln: candle_nn::layer_norm(d, 1e-5, vb.pp("layer_norm"))?,
            head,
            quant: Some(dtype),
            layer_ids: (0..cfg.decoder_layers).collect(),
            vocab_size: cfg.vocab_size,
            max_positions: cfg.max_target_positions,
            device: vb.device().clone(),
        })
    }

    /// Vocabulary size (columns of the logits).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// Most positions (prompt + generated) the decoder can attend over (448).
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// The blocks, token table (`[vocab, d]`, the tied head as loaded), position embedding and
    /// final norm, for building the fused draft.
    pub(crate) fn parts(&self) -> Result<(&[DecoderBlock], &Projection, &Tensor, &LayerNorm)> {
        if self.token_table.ggml_dtype().is_some() {
            candle_core::bail!("this decoder's token table is quantized (--quantize)");
        }
        Ok((&self.blocks, &self.token_table, &self.positions, &self.ln))
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The source layers this decoder holds.
    pub fn layer_ids(&self) -> &[usize] {
        &self.layer_ids
    }

    /// A quantized copy of this decoder for a speculative self-draft: same layers, same
    /// configuration, same interface; independent of `self` (its f32 tensors are shared
    /// read-only, the quantized weights are its own).
    ///
    /// Quantized: self-attention q/k/v/out, cross-attention q/out, fc1, fc2 and the tied
    /// vocabulary projection (zero-padded where that reaches candle's fast kernels, see
    /// [`Projection::quantize`]; the logits keep `vocab_size` columns). Kept f32: token and
    /// position embeddings, layer norms, and the cross-attention key/value projections, so
    /// `cross_kv` of the copy equals the target's and the target's [`CrossKv`] can be passed to
    /// the copy's `forward` (that also saves the draft a pass over the encoder output).
    /// Activations stay f32 between layers (the kernels round each row to 8 bits inside).
    ///
    /// [`quant_kind`](Self::quant_kind) names the GGML type used ([`QuantKind::ggml_dtype`]).
    ///
    /// Block-vs-step consistency is looser than the f32 decoder's: roll-back + one-token
    /// re-feed and forks reproduce one-token steps bit for bit, but a block of tokens can differ
    /// from the same tokens one at a time by about the quantization error itself (a last-bit
    /// f32 difference in attention can move an 8-bit rounding). That never affects exactness
    /// of speculative decoding: the draft only proposes, the f32 target verifies.
    pub fn quantize(&self, kind: QuantKind) -> Result<TextDecoder> {
        let _span = tracing::debug_span!("quantize_decoder", ?kind).entered();
        let dtype = kind.ggml_dtype();
        Ok(TextDecoder {
            token_table: self.token_table.clone(),
            positions: self.positions.clone(),
            blocks: self
                .blocks
                .iter()
                .map(|b| b.quantize(dtype))
                .collect::<Result<_>>()?,
            ln: self.ln.clone(),
            head: self.head.quantize(dtype)?,
            quant: Some(dtype),
            layer_ids: self.layer_ids.clone(),
            vocab_size: self.vocab_size,
            max_positions: self.max_positions,
            device: self.device.clone(),
        })
    }

    /// The weight type of a quantized copy (`Q8_0`, `Q4K` or `Q4_0`); `None` for f32.
    pub fn quant_kind(&self) -> Option<GgmlDType> {
        self.quant
    }

    /// A fresh, empty self-attention cache sized for this decoder.
    pub fn new_cache(&self) -> KvCache {
        KvCache::new(self.blocks.len(), self.max_positions)
    }

    /// Cross-attention keys and values for an encoder output `[1, frames, d]`.
    pub fn cross_kv(&self, audio_features: &Tensor) -> Result<CrossKv> {
        let _span = tracing::debug_span!("cross_kv").entered();
        Ok(CrossKv {
            layers: self
                .blocks
                .iter()
                .map(|b| b.cross.cross_kv(audio_features))
                .collect::<Result<_>>()?,
        })
    }

    /// One pass over `tokens` from an empty cache returning the logits of every position and,
    /// for each `(layer, head)` of `heads`, the scaled cross-attention scores `[tokens,
    /// frames]` (before the softmax): what word-level timestamps align with.
    pub fn alignment_pass(
        &self,
        tokens: &[u32],
        cross: &CrossKv,
        heads: &[[usize; 2]],
    ) -> Result<(Tensor, Vec<Tensor>)> {
        let mut scores = vec![None; heads.len()];
        let x = self.hidden(
            tokens,
            &mut self.new_cache(),
            cross,
            Some((heads, &mut scores)),
        )?;
        let scores = scores
            .into_iter()
            .zip(heads)
            .map(|(s, [l, h])| {
                s.ok_or_else(|| {
                    candle_core::Error::Msg(format!("alignment head ({l}, {h}): no such layer"))
                })
            })
            .collect::<Result<_>>()?;
        Ok((self.head.forward(&x)?, scores))
    }

    /// Scores `tokens` (new positions after what `cache` holds) and appends them to the cache.
    /// Returns logits `[tokens.len(), vocab]` (f32), one row per new position.
    pub fn forward(&self, tokens: &[u32], cache: &mut KvCache, cross: &CrossKv) -> Result<Tensor> {
        self.forward_rows(tokens, cache, cross, None)
    }

    /// As [`forward`](Self::forward), but the vocabulary projection only for the new positions
    /// listed in `rows` (indices into `tokens`; `None` = all): returns `[rows.len(), vocab]`.
    /// A prompt pass needs one or two rows of logits, and its 224 rows through the 51865-wide
    /// projection were most of its cost. Each returned row is the same as in `forward`.
    pub fn forward_rows(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        cross: &CrossKv,
        rows: Option<&[usize]>,
    ) -> Result<Tensor> {
        let x = self.hidden(tokens, cache, cross, None)?;
        let n = tokens.len();
        let x = match rows {
            None => x,
            Some(rows) => {
                if let Some(&bad) = rows.iter().find(|&&r| r >= n) {
                    candle_core::bail!("row {bad} asked of a {n}-token forward pass");
                }
                let ids: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
                x.index_select(&Tensor::new(ids.as_slice(), &self.device)?, 0)?
            }
        };
        let _span = tracing::trace_span!("logits", rows = x.dim(0)?).entered();
        self.head.forward(&x)
    }

    /// One step of several sequences at once (the live beams of a beam search): `tokens[b]` is
    /// the next token of the sequence whose self-attention cache is `caches[b]`; all caches hold
    /// the same number of positions, and each gets its token appended. Returns logits
    /// `[beams, vocab]`. The weights are read once for all beams, and row `b` is bit for bit
    /// what [`forward`](Self::forward) of `tokens[b]` on `caches[b]` alone returns: every
    /// projection, norm and attention computes each row on its own.
    pub fn forward_beams(
        &self,
        tokens: &[u32],
        caches: &mut [&mut KvCache],
        cross: &CrossKv,
    ) -> Result<Tensor> {
        let _span = tracing::trace_span!("decoder_beams", beams = tokens.len()).entered();
        let Some(past) = caches.first().map(|c| c.len()) else {
            candle_core::bail!("a beam step with no beams");
        };
        if tokens.len() != caches.len() {
            candle_core::bail!("{} tokens for {} beams", tokens.len(), caches.len());
        }
        if caches
            .iter()
            .any(|c| c.len() != past || c.layers() != self.blocks.len())
        {
            candle_core::bail!("beam caches of different lengths or layer counts");
        }
        if cross.layers.len() != self.blocks.len() {
            candle_core::bail!("cross-attention does not match this decoder's layers");
        }
        if past + 1 > self.max_positions {
            candle_core::bail!(
                "{past} cached + 1 new token exceed the decoder's {} positions",
                self.max_positions
            );
        }
        let x = self.embed(tokens)?;
        let mut x = x
            .broadcast_add(&self.positions.narrow(0, past, 1)?)?
            .unsqueeze(0)?;
        for (i, block) in self.blocks.iter().enumerate() {
            let mut layer: Vec<&mut LayerCache> =
                caches.iter_mut().map(|c| c.layer_mut(i)).collect();
            let h = block
                .attn
                .beam_self_attention(&block.attn_ln.forward(&x)?, &mut layer)?;
            x = block.cross_and_mlp((x + h)?, &cross.layers[i])?;
        }
        self.head.forward(&self.ln.forward(&x)?.squeeze(0)?)
    }

    /// Scores a token tree in one pass (see [`super::token_tree`]): node `n` is
    /// `nodes[n].token` after its parent node, or after everything `roots[nodes[n].root]`
    /// holds. Returns the logits `[nodes, vocab]` and every node's keys and values; the root
    /// caches are left as they were. Row `n` is bit for bit what a plain decode gives after the
    /// root's tokens and the tokens of `n`'s path; the weights are read once for the whole
    /// tree.
    pub fn forward_tree(
        &self,
        nodes: &[TreeNode],
        roots: &mut [&mut KvCache],
        cross: &CrossKv,
    ) -> Result<(Tensor, TreeKv)> {
        let _span = tracing::trace_span!("decoder_tree", nodes = nodes.len()).entered();
        if roots.iter().any(|c| c.layers() != self.blocks.len())
            || cross.layers.len() != self.blocks.len()
        {
            candle_core::bail!("cache or cross-attention does not match this decoder's layers");
        }
        let lens: Vec<usize> = roots.iter().map(|c| c.len()).collect();
        let layout = TreeLayout::new(nodes, &lens, self.max_positions)?;
        let tokens: Vec<u32> = nodes.iter().map(|n| n.token).collect();
        let positions: Vec<u32> = layout.positions.iter().map(|&p| p as u32).collect();
        let positions = self
            .positions
            .index_select(&Tensor::new(positions.as_slice(), &self.device)?, 0)?;
        let mut x = (self.embed(&tokens)? + positions)?.unsqueeze(0)?;
        let mut kv = Vec::with_capacity(self.blocks.len());
        for (i, block) in self.blocks.iter().enumerate() {
            let mut layer: Vec<&mut LayerCache> =
                roots.iter_mut().map(|c| c.layer_mut(i)).collect();
            let (h, k, v) =
                block
                    .attn
                    .tree_self_attention(&block.attn_ln.forward(&x)?, &layout, &mut layer)?;
            kv.push((k, v));
            x = block.cross_and_mlp((x + h)?, &cross.layers[i])?;
        }
        let logits = self.head.forward(&self.ln.forward(&x)?.squeeze(0)?)?;
        Ok((logits, TreeKv { layers: kv }))
    }

    /// Token rows `[tokens.len(), d]` (f32) of the embedding table.
    fn embed(&self, tokens: &[u32]) -> Result<Tensor> {
        // A table kept in half precision gives its rows widened (exact).
        self.token_table.rows(&Tensor::new(tokens, &self.device)?)
    }

    /// The final-normalised hidden states `[tokens.len(), d]` of `tokens` after what `cache`
    /// holds (appended to it). With `probe`, the scaled cross-attention scores of each listed
    /// `(layer, head)` are stored in the matching slot on the way.
    fn hidden(
        &self,
        tokens: &[u32],
        cache: &mut KvCache,
        cross: &CrossKv,
        mut probe: Option<Probe<'_>>,
    ) -> Result<Tensor> {
        let _span = tracing::trace_span!("decoder", n = tokens.len()).entered();
        let n = tokens.len();
        let past = cache.len();
        if n == 0 {
            candle_core::bail!("decoder forward with no tokens");
        }
        if cross.layers.len() != self.blocks.len() || cache.layers() != self.blocks.len() {
            candle_core::bail!("cache or cross-attention does not match this decoder's layers");
        }
        if past + n > self.max_positions {
            candle_core::bail!(
                "{past} cached + {n} new tokens exceed the decoder's {} positions",
                self.max_positions
            );
        }
        let x = self.embed(tokens)?;
        let mut x = (x + self.positions.narrow(0, past, n)?)?.unsqueeze(0)?;
        let mask = if n > 1 {
            Some(causal_mask(n, past, &self.device)?)
        } else {
            None
        };
        for (i, block) in self.blocks.iter().enumerate() {
            let _layer = tracing::trace_span!("decoder_layer", layer = i).entered();
            let h = block.attn.cached_self_attention(
                &block.attn_ln.forward(&x)?,
                cache.layer_mut(i),
                mask.as_ref(),
            )?;
            x = (x + h)?;
            let normed = block.cross_ln.forward(&x)?;
            if let Some((heads, scores)) = probe.as_mut() {
                for (slot, &[layer, head]) in scores.iter_mut().zip(heads.iter()) {
                    if layer == self.layer_ids[i] {
                        *slot = Some(block.cross.cross_scores(&normed, &cross.layers[i], head)?);
                    }
                }
            }
            let h = block.cross.cross_attention(&normed, &cross.layers[i])?;
            x = (x + h)?;
            let h = gelu(&block.fc1.forward(&block.mlp_ln.forward(&x)?)?)?;
            x = (&x + block.fc2.forward(&h)?)?;
        }
        self.ln.forward(&x)?.squeeze(0)
    }
}
