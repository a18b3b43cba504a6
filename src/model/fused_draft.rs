//! The fused 8-bit self-draft: the target's own decoder with 8-bit weights, 8-bit activations
//! and 8-bit cross-attention keys/values, run as one CPU pass over plain buffers.
//!
//! Why a separate implementation: a speculative draft pays off only when a draft step costs a
//! small fraction of a target step. Built from candle tensors with `Q8_0` weights, a draft step
//! spends its time in the quantized products, in reading the f32 cross-attention keys and
//! values (as many bytes as the weights), and in per-operation overhead (about 150 tensor
//! operations and their allocations; docs/MEASUREMENTS.md). Here every product is an integer dot
//! product over bytes ([`Int8Matrix`]), the cross-attention reads 8-bit keys and values
//! ([`Int8CrossLayer`]), and norms, GELU and residuals run in place on reused buffers.
//!
//! The draft only proposes tokens; the f32 target verifies every one, so none of this rounding
//! can change a transcript, only how many proposals stand.
//!
//! Built from a dense f32 [`TextDecoder`] on the CPU (weights rounded once); it reads the
//! target's cross-attention keys/values for each window ([`FusedDraft::cross`]), since its
//! weights are the target's.

use candle_core::{DType, Tensor};
use candle_nn::LayerNorm;

use super::decoder::{CrossKv, TextDecoder};
use super::linear::Projection;
use crate::kernels::int4_matmul::Int4Matrix;
use crate::kernels::int8_cross_attention::Int8CrossLayer;
use crate::kernels::int8_matmul::{Int8Matrix, Int8Rows};
use crate::kernels::small_attention::{self, Attend};
use crate::kernels::{WeightElement, with_cpu_slice, with_f32_slice};

fn to_vec(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.flatten_all()?.to_vec1::<f32>()
}

/// A layer norm's gain and bias (epsilon 1e-5, as Whisper's).
#[derive(Debug, Clone)]
struct Norm {
    gain: Vec<f32>,
    bias: Vec<f32>,
    eps: f32,
}

impl Norm {
    fn from(ln: &LayerNorm) -> candle_core::Result<Self> {
        let gain = to_vec(ln.weight())?;
        let bias = match ln.bias() {
            Some(b) => to_vec(b)?,
            None => vec![0.0; gain.len()],
        };
        Ok(Norm {
            gain,
            bias,
            eps: ln.eps() as f32,
        })
    }

    /// `out[i] = norm(x[i])` for each row of width `gain.len()`.
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        let d = self.gain.len();
        for (row, o) in x.chunks_exact(d).zip(out.chunks_exact_mut(d)) {
            let mean = row.iter().sum::<f32>() / d as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / d as f32;
            let inv = 1.0 / (var + self.eps).sqrt();
            for (((o, &v), &g), &b) in o.iter_mut().zip(row).zip(&self.gain).zip(&self.bias) {
                *o = (v - mean) * inv * g + b;
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Layer {
    attn_ln: Norm,
    /// `[3d, d]`: queries, keys, values.
    qkv: Int8Matrix,
    attn_out: Int8Matrix,
    cross_ln: Norm,
    cross_q: Int8Matrix,
    cross_out: Int8Matrix,
    mlp_ln: Norm,
    fc1: Int8Matrix,
    fc2: Int8Matrix,
}

/// The fused 8-bit decoder (see the module notes).
#[derive(Debug, Clone)]
pub struct FusedDraft {
    d: usize,
    heads: usize,
    head_dim: usize,
    ffn: usize,
    scale: f32,
    max_positions: usize,
    /// `[vocab, d]`, the target's own token table (shared, f32 or half precision, row-major
    /// or packed): token lookup and the exact rescoring of the best tokens.
    table: Projection,
    positions: Vec<f32>,
    layers: Vec<Layer>,
    ln: Norm,
    /// The tied vocabulary projection.
    head: VocabularyHead,
}

/// How the draft scores the vocabulary.
#[derive(Debug, Clone)]
enum VocabularyHead {
    /// Every token in 4 bits, then the best rescored against the token table itself (its rows
    /// as published, widened to f32): no second rounded copy of the table is kept (26 MB for
    /// base, 66 MB for large-v3).
    Coarse(Int4Matrix),
    /// Every token in 8 bits, where the width is not a multiple of 8 (no 4-bit table).
    Int8(Int8Matrix),
}

/// Tokens whose 4-bit score is within this of the best are rescored exactly (at most
/// [`MAX_RESCORED`] of them, the margin halved until they fit).
const RESCORE_MARGIN: f32 = 5.0;
const MAX_RESCORED: usize = 256;

/// The 8-bit cross-attention keys and values of one window, for every layer.
#[derive(Debug, Clone)]
pub struct FusedDraftCrossKv {
    layers: Vec<Int8CrossLayer>,
}

/// A draft's self-attention cache and working buffers for one window.
#[derive(Debug, Clone)]
pub struct FusedDraftState {
    len: usize,
    /// Per layer, keys transposed `[heads, head_dim, max_positions]`.
    kt: Vec<Vec<f32>>,
    /// Per layer, values `[heads, max_positions, head_dim]`.
    v: Vec<Vec<f32>>,
    x: Vec<f32>,
    h: Vec<f32>,
    wide: Vec<f32>,
    attn: Vec<f32>,
    rows: Int8Rows,
    candidates: Vec<u32>,
}

impl FusedDraftState {
    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets every position from `n` on.
    pub fn truncate(&mut self, n: usize) {
        self.len = self.len.min(n);
    }
}

/// The token table `w` (`[vocab, d]`) rounded for the draft's logits: 4-bit where `d` allows
/// it, else 8-bit.
fn round_table<W: WeightElement>(w: &[W], vocab: usize, d: usize) -> VocabularyHead {
    if d.is_multiple_of(8) {
        VocabularyHead::Coarse(Int4Matrix::quantize(w, vocab, d))
    } else {
        VocabularyHead::Int8(Int8Matrix::quantize(w, vocab, d, None))
    }
}

impl FusedDraft {
    /// Rounds the dense f32 `decoder` (CPU) to the fused 8-bit draft.
    pub fn from_decoder(decoder: &TextDecoder) -> candle_core::Result<Self> {
        let _span = tracing::debug_span!("int8_draft").entered();
        let (blocks, table, positions, ln) = decoder.parts()?;
        if !decoder.device().is_cpu() {
            candle_core::bail!("the 8-bit draft runs on the CPU only");
        }
        let (vocab, d) = table.dims()?;
        let first = blocks
            .first()
            .ok_or_else(|| candle_core::Error::Msg("no layers".into()))?;
        let heads = first.attn.heads();
        let layers = blocks
            .iter()
            .map(|b| {
                let (qkv, attn_out) = b.attn.input_and_output();
                let (cross_q, cross_out) = b.cross.input_and_output();
                if qkv.dims()?.0 != 3 * d {
                    candle_core::bail!("the 8-bit draft needs fused self-attention projections");
                }
                Ok(Layer {
                    attn_ln: Norm::from(&b.attn_ln)?,
                    qkv: qkv.int8_matrix()?,
                    attn_out: attn_out.int8_matrix()?,
                    cross_ln: Norm::from(&b.cross_ln)?,
                    cross_q: cross_q.int8_matrix()?,
                    cross_out: cross_out.int8_matrix()?,
                    mlp_ln: Norm::from(&b.mlp_ln)?,
                    fc1: b.fc1.int8_matrix()?,
                    fc2: b.fc2.int8_matrix()?,
                })
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        // The token table may be kept in half precision: it is rounded a row at a time, and
        // lookups widen the rows they read. A packed table is unpacked for the rounding only.
        let Some((embed, _)) = table.dense_parts()? else {
            candle_core::bail!("the 8-bit draft needs a dense token table");
        };
        let embed = embed.contiguous()?;
        let head = match embed.dtype() {
            DType::F16 => with_cpu_slice::<half::f16, _>(&embed, |w| round_table(w, vocab, d))?,
            DType::BF16 => with_cpu_slice::<half::bf16, _>(&embed, |w| round_table(w, vocab, d))?,
            _ => with_f32_slice(&embed, |w| round_table(w, vocab, d))?,
        };
        Ok(FusedDraft {
            d,
            heads,
            head_dim: d / heads,
            ffn: layers[0].fc1.rows(),
            scale: first.attn.scale() as f32,
            max_positions: decoder.max_positions(),
            table: table.clone(),
            positions: to_vec(positions)?,
            layers,
            ln: Norm::from(ln)?,
            head,
        })
    }

    /// Vocabulary size (length of the logits).
    pub fn vocab_size(&self) -> usize {
        match &self.head {
            VocabularyHead::Coarse(m) => m.rows(),
            VocabularyHead::Int8(m) => m.rows(),
        }
    }

    /// The target's cross-attention keys/values for a window, rounded to 8 bits.
    pub fn cross(&self, cross: &CrossKv) -> candle_core::Result<FusedDraftCrossKv> {
        let _span = tracing::debug_span!("int8_cross_attention").entered();
        if cross.layers() != self.layers.len() {
            candle_core::bail!("cross-attention does not match the draft's layers");
        }
        let convert = |i: usize| -> candle_core::Result<Int8CrossLayer> {
            let (kt, v) = cross.layer(i).tensors();
            let (_, heads, hd, frames) = kt.dims4()?;
            let v = v.contiguous()?;
            with_f32_slice(&kt.contiguous()?, |kt| {
                with_f32_slice(&v, |v| {
                    Int8CrossLayer::from_f32(kt, frames, v, heads, hd, frames)
                })
            })?
        };
        // Layers convert independently: one per thread at a time.
        let done = std::sync::Mutex::new((0..self.layers.len()).map(|_| None).collect::<Vec<_>>());
        candle_core::utils::barrier_pool().execute_chunked(self.layers.len(), |range| {
            for i in range {
                let layer = convert(i);
                done.lock().expect("no panics while held")[i] = Some(layer);
            }
        });
        let layers = done
            .into_inner()
            .expect("no panics while held")
            .into_iter()
            .map(|l| l.expect("every layer converted"))
            .collect::<candle_core::Result<_>>()?;
        Ok(FusedDraftCrossKv { layers })
    }

    /// An empty cache.
    pub fn new_state(&self) -> FusedDraftState {
        let per_layer = self.heads * self.head_dim * self.max_positions;
        FusedDraftState {
            len: 0,
            kt: vec![vec![0.0; per_layer]; self.layers.len()],
            v: vec![vec![0.0; per_layer]; self.layers.len()],
            x: Vec::new(),
            h: Vec::new(),
            wide: Vec::new(),
            attn: Vec::new(),
            rows: Int8Rows::new(),
            candidates: Vec::new(),
        }
    }

    /// Scores `tokens` after what `state` holds, appends them to it, and writes the logits of
    /// the last of them into `logits` (resized to the vocabulary).
    pub fn forward_last(
        &self,
        tokens: &[u32],
        state: &mut FusedDraftState,
        cross: &FusedDraftCrossKv,
        logits: &mut Vec<f32>,
    ) -> candle_core::Result<()> {
        let _span = tracing::trace_span!("int8_draft", n = tokens.len()).entered();
        let (n, d, past) = (tokens.len(), self.d, state.len);
        if n == 0 {
            candle_core::bail!("draft forward with no tokens");
        }
        if past + n > self.max_positions {
            candle_core::bail!(
                "{past} cached + {n} new tokens exceed the decoder's {} positions",
                self.max_positions
            );
        }
        if cross.layers.len() != self.layers.len() {
            candle_core::bail!("cross-attention does not match the draft's layers");
        }
        let vocab = self.vocab_size();
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= vocab) {
            candle_core::bail!("token {bad} is outside the vocabulary");
        }
        let FusedDraftState {
            kt,
            v,
            x,
            h,
            wide,
            attn,
            rows,
            ..
        } = state;
        x.resize(n * d, 0.0);
        h.resize(n * d, 0.0);
        attn.resize(n * d, 0.0);
        wide.resize(n * (3 * d).max(self.ffn), 0.0);
        let ids = candle_core::Tensor::new(tokens, &candle_core::Device::Cpu)?;
        let looked_up = self.table.rows(&ids)?;
        with_f32_slice(&looked_up, |e| {
            for i in 0..tokens.len() {
                let row = &e[i * d..][..d];
                let pos = &self.positions[(past + i) * d..][..d];
                for ((o, a), b) in x[i * d..(i + 1) * d].iter_mut().zip(row).zip(pos) {
                    *o = a + b;
                }
            }
        })?;
        let (hd, cap) = (self.head_dim, self.max_positions);
        for (l, layer) in self.layers.iter().enumerate() {
            // Self-attention.
            layer.attn_ln.apply(x, h);
            rows.set(h, n, d);
            layer.qkv.forward(rows, wide);
            for i in 0..n {
                let row = &wide[i * 3 * d..(i + 1) * 3 * d];
                let t = past + i;
                for hh in 0..self.heads {
                    for e in 0..hd {
                        kt[l][(hh * hd + e) * cap + t] = row[d + hh * hd + e];
                    }
                    let at = (hh * cap + t) * hd;
                    v[l][at..at + hd].copy_from_slice(&row[2 * d + hh * hd..][..hd]);
                }
                h[i * d..(i + 1) * d].copy_from_slice(&row[..d]);
            }
            small_attention::attend(
                &Attend {
                    q: h,
                    rows: n,
                    heads: self.heads,
                    head_dim: hd,
                    kt: &kt[l],
                    kt_head: hd * cap,
                    kt_row: cap,
                    v: &v[l],
                    v_head: cap * hd,
                    keys: past + n,
                    causal: true,
                    scale: self.scale,
                },
                attn,
            );
            rows.set(attn, n, d);
            layer.attn_out.forward(rows, h);
            add(x, h);
            // Cross-attention.
            layer.cross_ln.apply(x, h);
            rows.set(h, n, d);
            layer.cross_q.forward(rows, attn);
            cross.layers[l].attend(attn, n, self.scale, h);
            rows.set(h, n, d);
            layer.cross_out.forward(rows, attn);
            add(x, attn);
            // MLP.
            layer.mlp_ln.apply(x, h);
            rows.set(h, n, d);
            let f = &mut wide[..n * self.ffn];
            layer.fc1.forward(rows, f);
            crate::kernels::math::gelu_in_place(f);
            rows.set(f, n, self.ffn);
            layer.fc2.forward(rows, h);
            add(x, h);
        }
        state.len = past + n;
        let last = &state.x[(n - 1) * d..n * d];
        let normed = &mut state.h[..d];
        self.ln.apply(last, normed);
        state.rows.set(normed, 1, d);
        logits.resize(vocab, 0.0);
        match &self.head {
            VocabularyHead::Int8(head) => head.forward(&state.rows, logits),
            VocabularyHead::Coarse(coarse) => {
                coarse.forward(&state.rows, logits);
                self.rescore(&state.h[..d], logits, &mut state.candidates)?;
            }
        }
        Ok(())
    }

    /// Replaces the 4-bit scores of the best tokens by their scores against the token table
    /// itself. Which token wins is then the table's choice unless it scored more than the
    /// margin below the best 4-bit score. The draft only proposes, so a rare miss costs a
    /// rejected proposal.
    fn rescore(
        &self,
        x: &[f32],
        logits: &mut [f32],
        candidates: &mut Vec<u32>,
    ) -> candle_core::Result<()> {
        let best = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut margin = RESCORE_MARGIN;
        candidates.clear();
        for (j, &v) in logits.iter().enumerate() {
            if v >= best - margin {
                candidates.push(j as u32);
            }
        }
        while candidates.len() > MAX_RESCORED && margin > 1e-3 {
            margin /= 2.0;
            candidates.retain(|&j| logits[j as usize] >= best - margin);
        }
        // Ties beyond the cap (degenerate logits) keep their 4-bit scores.
        candidates.truncate(MAX_RESCORED);
        self.table.row_scores(x, candidates, logits)
    }
}

fn add(x: &mut [f32], y: &[f32]) {
    for (a, b) in x.iter_mut().zip(y) {
        *a += b;
    }
}
