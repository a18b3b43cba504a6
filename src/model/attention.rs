//! Multi-head attention of Whisper's blocks: self-attention (encoder, and decoder with a
//! [`LayerCache`]) and cross-attention over the encoder output, whose keys and values are
//! computed once per 30 s window ([`CrossKv`]).
//!
//! The projections are [`Projection`]s: dense f32 as loaded, or quantized in a self-draft
//! (see [`Attention::quantize`]); the attention arithmetic itself always stays f32.
//!
//! [`CrossKv`]: super::decoder::CrossKv

use candle_core::quantized::GgmlDType;
use candle_core::{DType, Result, Storage, Tensor};
use candle_nn::VarBuilder;

use super::kv_cache::LayerCache;
use super::linear::Projection;
use super::token_tree::TreeLayout;
use crate::kernels::bf16_attention;
use crate::kernels::small_attention;
use crate::kernels::with_f32_slice;

/// q, k, v and output projections of one attention layer (Hugging Face names `q_proj`,
/// `k_proj` (no bias), `v_proj`, `out_proj`).
#[derive(Debug, Clone)]
pub struct Attention {
    inputs: Inputs,
    out: Projection,
    heads: usize,
    scale: f64,
    /// Full self-attention in bf16 products ([`bf16_attention`]) where the CPU has them: set
    /// by [`to_int8`](Self::to_int8), the `--quantize` encoder's conversion.
    bf16: bool,
    /// Cross-attention keys and values kept in bf16 ([`cross_kv`](Self::cross_kv)): set by
    /// [`with_int8_keys_values`](Self::with_int8_keys_values), the `--quantize` decoder's.
    bf16_keys_values: bool,
}

/// How the query, key and value projections are held.
#[derive(Debug, Clone)]
enum Inputs {
    /// Three projections: cross-attention, whose queries and keys/values see different inputs.
    Separate {
        q: Projection,
        k: Projection,
        v: Projection,
    },
    /// Self-attention: one `[3d, d]` projection (k's bias zero), one pass over the weights
    /// and one dispatch instead of three. Each output is its own dot product (and 8-bit
    /// weights are quantized per row), so the numbers are those of the three projections.
    Fused { qkv: Projection, d: usize },
}

/// Keys (stored transposed, ready for `q @ k^T`) and values of one cross-attention layer.
#[derive(Debug, Clone)]
pub struct LayerCrossKv {
    /// `[1, heads, head_dim, frames]`.
    kt: Tensor,
    /// `[1, heads, frames, head_dim]`.
    v: Tensor,
}

impl LayerCrossKv {
    /// Keys (`[1, heads, head_dim, frames]`) and values (`[1, heads, frames, head_dim]`).
    pub(crate) fn tensors(&self) -> (&Tensor, &Tensor) {
        (&self.kt, &self.v)
    }
}

/// `[1, heads, n, head_dim]` -> `[1, n, d]`.
fn join_heads(x: &Tensor) -> Result<Tensor> {
    let (b, h, n, hd) = x.dims4()?;
    x.transpose(1, 2)?.reshape((b, n, h * hd))
}

impl Attention {
    /// Loads the projections under `vb` (e.g. `model.decoder.layers.0.encoder_attn`), as three
    /// separate projections (for cross-attention).
    pub fn load(vb: VarBuilder, d_model: usize, heads: usize) -> Result<Self> {
        check_heads(d_model, heads)?;
        Ok(Attention {
            inputs: Inputs::Separate {
                q: Projection::load(d_model, d_model, vb.pp("q_proj"))?,
                k: Projection::load_no_bias(d_model, d_model, vb.pp("k_proj"))?,
                v: Projection::load(d_model, d_model, vb.pp("v_proj"))?,
            },
            out: Projection::load(d_model, d_model, vb.pp("out_proj"))?,
            heads,
            scale: ((d_model / heads) as f64).powf(-0.5),
            bf16: false,
            bf16_keys_values: false,
        })
    }

    /// Loads a self-attention layer under `vb` (e.g. `model.decoder.layers.0.self_attn`) with
    /// its query, key and value projections fused into one.
    pub fn load_self(vb: VarBuilder, d_model: usize, heads: usize) -> Result<Self> {
        check_heads(d_model, heads)?;
        let d = d_model;
        let w = Tensor::cat(
            &[
                vb.get((d, d), "q_proj.weight")?,
                vb.get((d, d), "k_proj.weight")?,
                vb.get((d, d), "v_proj.weight")?,
            ],
            0,
        )?;
        let b = Tensor::cat(
            &[
                vb.get(d, "q_proj.bias")?,
                Tensor::zeros(d, DType::F32, w.device())?,
                vb.get(d, "v_proj.bias")?,
            ],
            0,
        )?;
        Ok(Attention {
            inputs: Inputs::Fused {
                qkv: Projection::from_linear(candle_nn::Linear::new(w, Some(b))),
                d,
            },
            out: Projection::load(d_model, d_model, vb.pp("out_proj"))?,
            heads,
            scale: ((d_model / heads) as f64).powf(-0.5),
            bf16: false,
            bf16_keys_values: false,
        })
    }

    /// A copy with the query and output projections quantized to `dtype`, and the key and
    /// value projections too when `keys_values` is set (always, for a fused self-attention).
    ///
    /// A self-draft's cross-attention keeps its key/value projections dense
    /// (`keys_values = false`): they only run once per window, on the encoder output, and a
    /// dense copy (shared with the target, no extra memory) makes the draft's
    /// [`cross_kv`](Self::cross_kv) identical to the target's, so the target's
    /// [`CrossKv`](super::decoder::CrossKv) can be reused as is.
    pub fn quantize(&self, dtype: GgmlDType, keys_values: bool) -> Result<Self> {
        let inputs = match &self.inputs {
            Inputs::Fused { qkv, d } => Inputs::Fused {
                qkv: qkv.quantize(dtype)?,
                d: *d,
            },
            Inputs::Separate { q, k, v } => {
                let kv = |p: &Projection| {
                    if keys_values {
                        p.quantize(dtype)
                    } else {
                        Ok(p.clone())
                    }
                };
                Inputs::Separate {
                    q: q.quantize(dtype)?,
                    k: kv(k)?,
                    v: kv(v)?,
                }
            }
        };
        Ok(Attention {
            inputs,
            out: self.out.quantize(dtype)?,
            heads: self.heads,
            scale: self.scale,
            bf16: self.bf16,
            bf16_keys_values: self.bf16_keys_values,
        })
    }

    /// A copy whose every projection computes in 8-bit integers ([`Projection::to_int8`]),
    /// and whose full self-attention (the encoder's) takes bf16 products with f32 sums where
    /// the CPU has AVX-512 BF16 ([`bf16_attention`]).
    pub fn to_int8(&self) -> Result<Self> {
        let inputs = match &self.inputs {
            Inputs::Fused { qkv, d } => Inputs::Fused {
                qkv: qkv.to_int8()?,
                d: *d,
            },
            Inputs::Separate { q, k, v } => Inputs::Separate {
                q: q.to_int8()?,
                k: k.to_int8()?,
                v: v.to_int8()?,
            },
        };
        Ok(Attention {
            inputs,
            out: self.out.to_int8()?,
            heads: self.heads,
            scale: self.scale,
            bf16: true,
            bf16_keys_values: self.bf16_keys_values,
        })
    }

    /// A copy whose per-token projections (query and output; key and value too when fused,
    /// as in self-attention) keep their weights packed in the CPU kernel's reading order
    /// ([`Projection::packed`]): the same results bit for bit. A cross-attention's key and
    /// value projections, run once per window over the encoder's frames, stay as they are.
    pub fn packed(&self) -> Result<Self> {
        let inputs = match &self.inputs {
            Inputs::Fused { qkv, d } => Inputs::Fused {
                qkv: qkv.packed()?,
                d: *d,
            },
            Inputs::Separate { q, k, v } => Inputs::Separate {
                q: q.packed()?,
                k: k.clone(),
                v: v.clone(),
            },
        };
        Ok(Attention {
            inputs,
            out: self.out.packed()?,
            ..self.clone()
        })
    }

    /// A copy whose key and value projections compute in 8 bits and whose keys and values
    /// are kept in bf16 (the others unchanged): the `--quantize` decoder's cross-attention,
    /// projected once per window over 1500 frames (compute-bound) and read whole at every
    /// step, where bf16 halves the bytes at about the precision the 8-bit products have. A
    /// fused self-attention is returned as is.
    pub fn with_int8_keys_values(&self) -> Result<Self> {
        let mut out = self.clone();
        if let Inputs::Separate { k, v, .. } = &mut out.inputs {
            *k = k.to_int8()?;
            *v = v.to_int8()?;
            out.bf16_keys_values = true;
        }
        Ok(out)
    }

    /// The dense `[3d, d]` query/key/value projection of a fused self-attention, or the
    /// query projection of a cross-attention, and the output projection (for the fused draft).
    pub(crate) fn input_and_output(&self) -> (&Projection, &Projection) {
        match &self.inputs {
            Inputs::Fused { qkv, .. } => (qkv, &self.out),
            Inputs::Separate { q, .. } => (q, &self.out),
        }
    }

    /// Number of heads.
    pub fn heads(&self) -> usize {
        self.heads
    }

    /// The factor scores are multiplied by (`head_dim^-0.5`).
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Queries, keys and values of `x` (`[1, n, d]` each).
    fn project_qkv(&self, x: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        match &self.inputs {
            Inputs::Separate { q, k, v } => Ok((q.forward(x)?, k.forward(x)?, v.forward(x)?)),
            Inputs::Fused { qkv, d } => {
                let y = qkv.forward(x)?;
                let part = |i: usize| y.narrow(2, i * d, *d)?.contiguous();
                Ok((part(0)?, part(1)?, part(2)?))
            }
        }
    }

    /// Queries of `x` alone.
    fn project_q(&self, x: &Tensor) -> Result<Tensor> {
        match &self.inputs {
            Inputs::Separate { q, .. } => q.forward(x),
            Inputs::Fused { .. } => Ok(self.project_qkv(x)?.0),
        }
    }

    /// Keys and values of `x` alone.
    fn project_kv(&self, x: &Tensor) -> Result<(Tensor, Tensor)> {
        match &self.inputs {
            Inputs::Separate { k, v, .. } => Ok((k.forward(x)?, v.forward(x)?)),
            Inputs::Fused { .. } => {
                let (_, k, v) = self.project_qkv(x)?;
                Ok((k, v))
            }
        }
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
        self.out.forward(&join_heads(x)?)
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
    ///
    /// On the CPU through [`small_attention`], whose vectorised softmax made the base encoder
    /// twice as fast as candle's batched GEMMs plus a libm `expf` per score.
    pub fn self_attention(&self, x: &Tensor) -> Result<Tensor> {
        let (q, k, v) = self.project_qkv(x)?;
        if self.bf16
            && let Some(out) = self.attend_bf16(&q, &k, &v)?
        {
            return self.out.forward(&out);
        }
        let kt = self.split_heads(&k)?.transpose(2, 3)?.contiguous()?;
        let v = self.split_heads(&v)?;
        if x.device().is_cpu() {
            let frames = v.dim(2)?;
            if let Some(out) = self.attend_rows(&q, &kt, &v, frames, false)? {
                return self.out.forward(&out);
            }
        }
        let q = self.split_heads(&q)?;
        let out = self.attend(&q, &kt, &v, None)?;
        self.merge_heads(&out)
    }

    /// Causal self-attention of `n` new positions (`x`: `[1, n, d]`) against the cache plus
    /// themselves; appends their keys and values to `cache`. `mask` is `[n, past + n]` (None
    /// when `n == 1`, which sees everything); the CPU kernel applies the same rule itself.
    pub fn cached_self_attention(
        &self,
        x: &Tensor,
        cache: &mut LayerCache,
        mask: Option<&Tensor>,
    ) -> Result<Tensor> {
        let (q, k, v) = self.project_qkv(x)?;
        let (k, v) = (self.split_heads(&k)?, self.split_heads(&v)?);
        cache.append(&k, &v)?;
        if let Some((kt, v_all)) = cache.buffers()
            && let Some(out) = self.attend_rows(&q, kt, v_all, cache.len(), true)?
        {
            return self.out.forward(&out);
        }
        let (kt, v_all) = cache.valid()?;
        let q = self.split_heads(&q)?;
        let out = self.attend(&q, &kt.contiguous()?, &v_all.contiguous()?, mask)?;
        self.merge_heads(&out)
    }

    /// Self-attention of one new position in each of several sequences of the same length (the
    /// live beams of a beam search): row `b` of `x` (`[1, beams, d]`) attends to `caches[b]`
    /// plus itself, and its key and value are appended to `caches[b]`. The projections run once
    /// for all rows; each row's result is bit for bit that of
    /// [`cached_self_attention`](Self::cached_self_attention) on that row and cache alone (the
    /// kernels compute every row on its own).
    pub fn beam_self_attention(
        &self,
        x: &Tensor,
        caches: &mut [&mut LayerCache],
    ) -> Result<Tensor> {
        let beams = x.dim(1)?;
        if beams != caches.len() {
            candle_core::bail!("{beams} rows for {} caches", caches.len());
        }
        let (q, k, v) = self.project_qkv(x)?;
        let (k, v) = (self.split_heads(&k)?, self.split_heads(&v)?);
        let mut rows = Vec::with_capacity(beams);
        for (b, cache) in caches.iter_mut().enumerate() {
            cache.append(&k.narrow(2, b, 1)?, &v.narrow(2, b, 1)?)?;
            let q = q.narrow(1, b, 1)?;
            let fast = match cache.buffers() {
                Some((kt, v_all)) => self.attend_rows(&q, kt, v_all, cache.len(), true)?,
                None => None,
            };
            let row = match fast {
                Some(row) => row,
                None => {
                    // Off the CPU kernel: candle's attention of this row, as the one-row pass
                    // computes it, before the output projection.
                    let (kt, v_all) = cache.valid()?;
                    let q = self.split_heads(&q)?;
                    join_heads(&self.attend(&q, &kt.contiguous()?, &v_all.contiguous()?, None)?)?
                }
            };
            rows.push(row);
        }
        self.out.forward(&Tensor::cat(&rows, 1)?)
    }

    /// Keys and values of the encoder output `xa` (`[1, frames, d]`) for this cross-attention.
    /// Self-attention of a token tree's nodes (`x`: `[1, nodes, d]`, one row per node), each
    /// over its root's cached positions and its own ancestors, laid out by `layout` (see
    /// [`super::token_tree`]). Returns the output `[1, nodes, d]` and the nodes' keys and
    /// values (`[1, heads, nodes, head_dim]`); the caches are left as they were. Each row is
    /// bit for bit the one-token step of its node after a plain decode of its prefix.
    pub(crate) fn tree_self_attention(
        &self,
        x: &Tensor,
        layout: &TreeLayout,
        roots: &mut [&mut LayerCache],
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let nodes = x.dim(1)?;
        let (q, k, v) = self.project_qkv(x)?;
        let (k, v) = (self.split_heads(&k)?, self.split_heads(&v)?);
        let mut rows: Vec<Option<Tensor>> = vec![None; nodes];
        for run in &layout.runs {
            let cache = &mut *roots[run.root];
            let cached = cache.len();
            let ids = |nodes: &[usize]| -> Result<Tensor> {
                let ids: Vec<u32> = nodes.iter().map(|&n| n as u32).collect();
                Tensor::new(ids.as_slice(), x.device())
            };
            let path = ids(&run.path)?;
            cache.append(&k.index_select(&path, 2)?, &v.index_select(&path, 2)?)?;
            let new = &run.path[run.first_new..];
            let q_new = q.index_select(&ids(new)?, 1)?;
            let fast = match cache.buffers() {
                Some((kt, v_all)) => self.attend_rows(&q_new, kt, v_all, cache.len(), true)?,
                None => None,
            };
            let out = match fast {
                Some(out) => out,
                None => {
                    // Off the CPU kernel: candle's causal attention of the new rows, as a
                    // multi-token pass over the path computes it.
                    let (kt, v_all) = cache.valid()?;
                    let mask = causal_mask(new.len(), cached + run.first_new, x.device())?;
                    let q_new = self.split_heads(&q_new)?;
                    let out =
                        self.attend(&q_new, &kt.contiguous()?, &v_all.contiguous()?, Some(&mask))?;
                    join_heads(&out)?
                }
            };
            cache.truncate(cached);
            for (j, &n) in new.iter().enumerate() {
                rows[n] = Some(out.narrow(1, j, 1)?);
            }
        }
        let rows: Vec<Tensor> = rows
            .into_iter()
            .map(|r| r.ok_or_else(|| candle_core::Error::Msg("tree node left unscored".into())))
            .collect::<Result<_>>()?;
        Ok((self.out.forward(&Tensor::cat(&rows, 1)?)?, k, v))
    }

    pub fn cross_kv(&self, xa: &Tensor) -> Result<LayerCrossKv> {
        let (k, v) = self.project_kv(xa)?;
        let (k, v) = (self.split_heads(&k)?, self.split_heads(&v)?);
        let kt = k.transpose(2, 3)?.contiguous()?;
        if self.bf16_keys_values {
            return Ok(LayerCrossKv {
                kt: kt.to_dtype(DType::BF16)?,
                v: v.to_dtype(DType::BF16)?.contiguous()?,
            });
        }
        Ok(LayerCrossKv { kt, v })
    }

    /// Scaled attention scores (before the softmax) of the queries of `x` (`[1, n, d]`, already
    /// normalised) against the encoder keys, for one `head`: `[n, frames]`. Word timestamps
    /// align tokens to audio with these (openai/whisper `timing.py` reads the same `q k^T`).
    pub fn cross_scores(&self, x: &Tensor, kv: &LayerCrossKv, head: usize) -> Result<Tensor> {
        if head >= self.heads {
            candle_core::bail!("head {head} of {}", self.heads);
        }
        let q = self.split_heads(&self.project_q(x)?)?; // [1, h, n, hd]
        let q = q.narrow(1, head, 1)?.squeeze(1)?.squeeze(0)?.contiguous()?; // [n, hd]
        let kt = kv.kt.narrow(1, head, 1)?.squeeze(1)?.squeeze(0)?; // [hd, frames]
        q.matmul(&kt.to_dtype(q.dtype())?.contiguous()?)? * self.scale
    }

    /// Cross-attention of `x` (`[1, n, d]`) over precomputed encoder keys and values.
    pub fn cross_attention(&self, x: &Tensor, kv: &LayerCrossKv) -> Result<Tensor> {
        let q = self.project_q(x)?;
        let frames = kv.v.dim(2)?;
        if let Some(out) = self.attend_rows(&q, &kv.kt, &kv.v, frames, false)? {
            return self.out.forward(&out);
        }
        let q = self.split_heads(&q)?;
        let (kt, v) = (kv.kt.to_dtype(q.dtype())?, kv.v.to_dtype(q.dtype())?);
        let out = self.attend(&q, &kt, &v, None)?;
        self.merge_heads(&out)
    }

    /// Full self-attention of `q`, `k`, `v` (`[1, n, d]` each, CPU f32) with bf16 products;
    /// `None` where [`bf16_attention`] does not apply.
    fn attend_bf16(&self, q: &Tensor, k: &Tensor, v: &Tensor) -> Result<Option<Tensor>> {
        let cpu_f32 = |t: &Tensor| t.device().is_cpu() && t.dtype() == DType::F32;
        if !(cpu_f32(q) && cpu_f32(k) && cpu_f32(v) && bf16_attention::available()) {
            return Ok(None);
        }
        let (_, n, d) = q.dims3()?;
        let (q, k, v) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
        let mut out = vec![0f32; n * d];
        let done = with_f32_slice(&q, |q| {
            with_f32_slice(&k, |k| {
                with_f32_slice(&v, |v| {
                    bf16_attention::attend(
                        &bf16_attention::SelfAttention {
                            q,
                            k,
                            v,
                            frames: n,
                            heads: self.heads,
                            head_dim: d / self.heads,
                            scale: self.scale as f32,
                        },
                        &mut out,
                    )
                })
            })
        })???;
        if !done {
            return Ok(None);
        }
        Tensor::from_vec(out, (1, n, d), q.device()).map(Some)
    }

    /// Attention of the query rows `q` (`[1, n, d]`, before splitting heads) over the first
    /// `keys` positions of `kt` (`[1, heads, head_dim, stride]`) and `v` (`[1, heads, stride,
    /// head_dim]`) with the CPU kernel ([`small_attention`]); returns `[1, n, d]`, or `None`
    /// where the kernel does not apply (not CPU f32, unusual layouts), for candle to do it.
    fn attend_rows(
        &self,
        q: &Tensor,
        kt: &Tensor,
        v: &Tensor,
        keys: usize,
        causal: bool,
    ) -> Result<Option<Tensor>> {
        let cpu = |t: &Tensor| t.device().is_cpu();
        let stored = kt.dtype();
        let usable = cpu(q) && cpu(kt) && cpu(v) && kt.is_contiguous() && v.is_contiguous();
        let usable = usable && q.dtype() == DType::F32 && v.dtype() == stored;
        if !(usable && matches!(stored, DType::F32 | DType::BF16)) {
            return Ok(None);
        }
        let (_, n, d) = q.dims3()?;
        let (_, heads, hd, stride) = kt.dims4()?;
        if heads != self.heads || hd * heads != d || hd > small_attention::MAX_HEAD_DIM {
            return Ok(None);
        }
        if v.dims4()? != (1, heads, stride, hd) || keys > stride || (causal && n > keys) {
            return Ok(None);
        }
        let q = q.contiguous()?;
        let mut out = vec![0f32; n * d];
        {
            let (qs, ql) = q.storage_and_layout();
            let (ks, kl) = kt.storage_and_layout();
            let (vs, vl) = v.storage_and_layout();
            let (Storage::Cpu(qs), Storage::Cpu(ks), Storage::Cpu(vs)) = (&*qs, &*ks, &*vs) else {
                return Ok(None);
            };
            let q = &qs.as_slice::<f32>()?[ql.start_offset()..][..n * d];
            let (k0, v0, len) = (kl.start_offset(), vl.start_offset(), heads * hd * stride);
            let shape = RowsShape {
                rows: n,
                heads,
                head_dim: hd,
                stride,
                keys,
                causal,
                scale: self.scale as f32,
            };
            if stored == DType::BF16 {
                let kt = &ks.as_slice::<half::bf16>()?[k0..][..len];
                let v = &vs.as_slice::<half::bf16>()?[v0..][..len];
                shape.attend(q, kt, v, &mut out);
            } else {
                let kt = &ks.as_slice::<f32>()?[k0..][..len];
                let v = &vs.as_slice::<f32>()?[v0..][..len];
                shape.attend(q, kt, v, &mut out);
            }
        }
        Tensor::from_vec(out, (1, n, d), q.device()).map(Some)
    }
}

/// The shape of one [`small_attention`] call over a cache of `stride` positions per head.
struct RowsShape {
    rows: usize,
    heads: usize,
    head_dim: usize,
    stride: usize,
    keys: usize,
    causal: bool,
    scale: f32,
}

impl RowsShape {
    fn attend<E: small_attention::CacheElement>(
        &self,
        q: &[f32],
        kt: &[E],
        v: &[E],
        out: &mut [f32],
    ) {
        let (hd, stride) = (self.head_dim, self.stride);
        small_attention::attend(
            &small_attention::Attend {
                q,
                rows: self.rows,
                heads: self.heads,
                head_dim: hd,
                kt,
                kt_head: hd * stride,
                kt_row: stride,
                v,
                v_head: stride * hd,
                keys: self.keys,
                causal: self.causal,
                scale: self.scale,
            },
            out,
        );
    }
}

fn check_heads(d_model: usize, heads: usize) -> Result<()> {
    if heads == 0 || !d_model.is_multiple_of(heads) {
        candle_core::bail!("{heads} heads do not divide d_model {d_model}");
    }
    Ok(())
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
