//! Multi-head attention of Whisper's blocks: self-attention (encoder, and decoder with a
//! [`LayerCache`]) and cross-attention over the encoder output, whose keys and values are
//! computed once per 30 s window ([`CrossKv`]).
//!
//! The projections are [`Projection`]s: dense f32 as loaded, or quantized in a self-draft
//! (see [`Attention::quantize`]); the attention arithmetic itself always stays f32.
//!
//! [`CrossKv`]: super::decoder::CrossKv

use candle_core::quantized::GgmlDType;
use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;

use super::kv_cache::LayerCache;
use super::linear::Projection;

/// q, k, v and output projections of one attention layer (Hugging Face names `q_proj`,
/// `k_proj` (no bias), `v_proj`, `out_proj`).
#[derive(Debug, Clone)]
pub struct Attention {
    q: Projection,
    k: Projection,
    v: Projection,
    out: Projection,
    heads: usize,
    scale: f64,
}

/// Keys (stored transposed, ready for `q @ k^T`) and values of one cross-attention layer.
#[derive(Debug, Clone)]
pub struct LayerCrossKv {
    /// `[1, heads, head_dim, frames]`.
    kt: Tensor,
    /// `[1, heads, frames, head_dim]`.
    v: Tensor,
}

impl Attention {
    /// Loads the projections under `vb` (e.g. `model.decoder.layers.0.self_attn`).
    pub fn load(vb: VarBuilder, d_model: usize, heads: usize) -> Result<Self> {
        if heads == 0 || !d_model.is_multiple_of(heads) {
            candle_core::bail!("{heads} heads do not divide d_model {d_model}");
        }
        Ok(Attention {
            q: Projection::load(d_model, d_model, vb.pp("q_proj"))?,
            k: Projection::load_no_bias(d_model, d_model, vb.pp("k_proj"))?,
            v: Projection::load(d_model, d_model, vb.pp("v_proj"))?,
            out: Projection::load(d_model, d_model, vb.pp("out_proj"))?,
            heads,
            scale: ((d_model / heads) as f64).powf(-0.5),
        })
    }

    /// A copy with the query and output projections quantized to `dtype`, and the key and
    /// value projections too when `keys_values` is set.
    ///
    /// A self-draft's cross-attention keeps its key/value projections dense
    /// (`keys_values = false`): they only run once per window, on the encoder output, and a
    /// dense copy (shared with the target, no extra memory) makes the draft's
    /// [`cross_kv`](Self::cross_kv) identical to the target's, so the target's
    /// [`CrossKv`](super::decoder::CrossKv) can be reused as is.
    pub fn quantize(&self, dtype: GgmlDType, keys_values: bool) -> Result<Self> {
        let kv = |p: &Projection| {
            if keys_values {
                p.quantize(dtype)
            } else {
                Ok(p.clone())
            }
        };
        Ok(Attention {
            q: self.q.quantize(dtype)?,
            k: kv(&self.k)?,
            v: kv(&self.v)?,
            out: self.out.quantize(dtype)?,
            heads: self.heads,
            scale: self.scale,
        })
    }

    /// `[1, n, d]` -> `[1, heads, n, head_dim]`.
    fn split_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, n, d) = x.dims3()?;
        x.reshape((b, n, self.heads, d / self.heads))?
            .transpose(1, 2)?
            .contiguous()
    }

    /// `[1, heads, n, head_dim]` -> `[1, n, d]`, then the output projection.
    fn merge_heads(&self, x: &Tensor) -> Result<Tensor> {
        let (b, h, n, hd) = x.dims4()?;
        self.out
            .forward(&x.transpose(1, 2)?.reshape((b, n, h * hd))?)
    }

    /// Softmax(q k^T * scale + mask) v, with `kt` already transposed.
    fn attend(&self, q: &Tensor, kt: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Result<Tensor> {
        let mut scores = (q.matmul(kt)? * self.scale)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        weights.matmul(v)
    }

    /// Full self-attention over `x` (`[1, n, d]`), as in the encoder.
    pub fn self_attention(&self, x: &Tensor) -> Result<Tensor> {
        let q = self.split_heads(&self.q.forward(x)?)?;
        let k = self.split_heads(&self.k.forward(x)?)?;
        let v = self.split_heads(&self.v.forward(x)?)?;
        let out = self.attend(&q, &k.transpose(2, 3)?, &v, None)?;
        self.merge_heads(&out)
    }

    /// Causal self-attention of `n` new positions (`x`: `[1, n, d]`) against the cache plus
    /// themselves; appends their keys and values to `cache`. `mask` is `[n, past + n]` (None
    /// when `n == 1`, which sees everything).
    pub fn cached_self_attention(
        &self,
        x: &Tensor,
        cache: &mut LayerCache,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let q = self.split_heads(&self.q.forward(x)?)?;
        let k = self.split_heads(&self.k.forward(x)?)?;
        let v = self.split_heads(&self.v.forward(x)?)?;
        let (k_all, v_all) = cache.append(&k, &v)?;
        let kt = k_all.transpose(2, 3)?.contiguous()?;
        let out = self.attend(&q, &kt, &v_all.contiguous()?, mask)?;
        self.merge_heads(&out)
    }

    /// Keys and values of the encoder output `xa` (`[1, frames, d]`) for this cross-attention.
    pub fn cross_kv(&self, xa: &Tensor) -> Result<LayerCrossKv> {
        let k = self.split_heads(&self.k.forward(xa)?)?;
        let v = self.split_heads(&self.v.forward(xa)?)?;
        Ok(LayerCrossKv {
            kt: k.transpose(2, 3)?.contiguous()?,
            v,
        })
    }

    /// Cross-attention of `x` (`[1, n, d]`) over precomputed encoder keys and values.
    pub fn cross_attention(&self, x: &Tensor, kv: &LayerCrossKv) -> Result<Tensor> {
        let q = self.split_heads(&self.q.forward(x)?)?;
        let out = self.attend(&q, &kv.kt, &kv.v, None)?;
        self.merge_heads(&out)
    }
}

/// The causal mask for `n` new positions after `past` cached ones: `[n, past + n]`, 0 where
/// position `past + i` may see key `j` (j <= past + i), -inf elsewhere.
pub fn causal_mask(n: usize, past: usize, device: &candle_core::Device) -> Result<Tensor> {
    let total = past + n;
    let data: Vec<f32> = (0..n)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j <= past + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Tensor::from_vec(data, (n, total), device)
}
