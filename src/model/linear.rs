//! Projections that are either dense f32 or quantized, behind one `forward`.
//!
//! A speculative *self-draft* is the target's own decoder with quantized weights: the draft's
//! cost is memory traffic (one weight read per step), so 8- or 4-bit weights make it several
//! times cheaper while its argmax still agrees with the target's almost everywhere. The dense
//! variant wraps `candle_nn::Linear` unchanged, so a model that is never quantized computes
//! exactly what it did before this type existed.
//!
//! Quantized weights are built once from the f32 ones (`QTensor::quantize`). Activations stay
//! f32 between layers, and the kernels round each input row to 8 bits internally for the
//! integer dot products (each row on its own, so a row's output does not depend on the other
//! rows of the batch).
//!
//! `Q8_0` on the CPU runs our own kernel ([`Q8Matrix`]), which holds the blocks once in its
//! layout (candle's fast kernel keeps a repacked copy beside them). The 4-bit kinds stay
//! candle's, where layout matters more than bits on x86: candle 0.11.1 has "repacked" kernels
//! for `Q4K` that are several times faster than its generic quantized kernels, but only for
//! K % 256 == 0 and N % 16 == 0 (docs/MEASUREMENTS.md). So [`Projection::quantize`] pads the
//! weight with zero columns (K) and rows (N) where that unlocks those kernels, pads the input
//! to match and cuts the output back: zeros add nothing to the dot products.

use candle_core::quantized::{GgmlDType, QMatMul, QStorage, QTensor};
use candle_core::{D, DType, Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};
use std::sync::Arc;

use crate::kernels::int8_matmul::{Int8Matrix, Int8Rows};
use crate::kernels::packed_weight::PackedMatrix;
use crate::kernels::q8_0_matmul::{Q8Matrix, Q8Rows};
use crate::kernels::{with_cpu_slice, with_f32_slice};

/// The quantization a self-draft asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantKind {
    /// 8-bit weights in blocks of 32 (GGML `Q8_0`): close to f32 (teacher-forced agreement
    /// with the target above 99 % on real speech), about a quarter of the f32 bytes.
    Q8_0,
    /// 4-bit k-quants (GGML `Q4K`, super-blocks of 256 with 6-bit sub-block scales; inner
    /// dimensions that are not whole super-blocks, like tiny's 384, are zero-padded). About a
    /// seventh of the f32 bytes (more where padded); more accurate and, on x86 with AVX2, much
    /// faster than `Q4_0`.
    Q4,
    /// 4-bit weights in blocks of 32 (GGML `Q4_0`), the plain GGML 4-bit rule. Kept for
    /// comparison only: candle has no fast x86 kernel for it, so a decoder step is barely
    /// faster than f32, and it is less accurate than `Q4`.
    Q4_0,
}

impl QuantKind {
    /// The kind whose weights are `dtype`; `None` for a type no kind uses.
    pub fn from_ggml(dtype: GgmlDType) -> Option<Self> {
        [QuantKind::Q8_0, QuantKind::Q4, QuantKind::Q4_0]
            .into_iter()
            .find(|k| k.ggml_dtype() == dtype)
    }

    /// The name `--quantize` gives it (`q8_0`, `q4k`, `q4_0`).
    pub fn label(self) -> &'static str {
        match self {
            QuantKind::Q8_0 => "q8_0",
            QuantKind::Q4 => "q4k",
            QuantKind::Q4_0 => "q4_0",
        }
    }

    /// The GGML weight type this kind uses.
    pub fn ggml_dtype(self) -> GgmlDType {
        match self {
            QuantKind::Q8_0 => GgmlDType::Q8_0,
            QuantKind::Q4 => GgmlDType::Q4K,
            QuantKind::Q4_0 => GgmlDType::Q4_0,
        }
    }
}

/// Whether candle (0.11.1) has a repacked x86 kernel for `dtype` on this CPU. Mirrors the
/// private `repack_x86::select` (Q4K from AVX2 + FMA up; its Q8_0 one, AVX-512 VNNI or
/// AVX-VNNI, is not used: `Q8_0` runs [`Q8Matrix`] on the CPU); re-check it when upgrading
/// candle. Only decides padding: a wrong answer costs speed, never correctness.
fn has_repacked_kernel(dtype: GgmlDType) -> bool {
    let cpu = crate::kernels::CpuFeatures::get();
    dtype == GgmlDType::Q4K && (cpu.avx2 || cpu.any_vnni)
}

/// `y = x W^T + b` over the last dimension of `x`, with `W` dense f32 or quantized.
#[derive(Debug, Clone)]
pub struct Projection {
    inner: Inner,
}

#[derive(Debug, Clone)]
enum Inner {
    /// The f32 weights, computed by `candle_nn::Linear` as always.
    Dense(Linear),
    Quantized(QuantizedWeight),
    /// 8-bit weights *and* 8-bit input rows (see [`Projection::to_int8`]).
    Int8(Arc<Int8Matrix>),
    /// `Q8_0` weights on the CPU, in our own kernel's layout (see [`Projection::quantize`]).
    Q8(Arc<Q8Matrix>),
    /// The dense weight stored in the order the CPU kernel reads it (see
    /// [`Projection::packed`]): the same products, one stream of memory.
    Packed(Arc<PackedDense>),
}

/// A dense weight in [`PackedMatrix`] order and its f32 bias.
#[derive(Debug)]
struct PackedDense {
    weight: PackedMatrix,
    bias: Option<Vec<f32>>,
}

/// A quantized weight, possibly zero-padded (see [`Projection::quantize`]), and the f32 bias.
#[derive(Debug, Clone)]
struct QuantizedWeight {
    /// `[padded_out, padded_in]`.
    weight: QMatMul,
    /// f32 bias of the `out` real outputs.
    bias: Option<Tensor>,
    /// Input width callers pass, and the weight's (zero columns beyond `in_dim`).
    in_dim: usize,
    padded_in: usize,
    /// Output columns returned (the weight may have more, zero, rows).
    out: usize,
    dtype: GgmlDType,
}

impl Projection {
    /// A dense projection computing exactly what `linear.forward` does.
    pub fn from_linear(linear: Linear) -> Self {
        Projection {
            inner: Inner::Dense(linear),
        }
    }

    /// Loads a dense projection with a bias (`weight` `[out, in]`, `bias` `[out]`) under `vb`.
    pub fn load(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self::from_linear(candle_nn::linear(in_dim, out_dim, vb)?))
    }

    /// Loads a dense projection without a bias under `vb`.
    pub fn load_no_bias(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self::from_linear(candle_nn::linear_no_bias(
            in_dim, out_dim, vb,
        )?))
    }

    /// A quantized copy with the same outputs up to quantization error: `Q8_0` on the CPU in
    /// our kernel's layout; otherwise laid out for the fastest kernel candle has for `dtype`
    /// here: where a repacked kernel exists (CPU), K is padded to a multiple of 256 and N to a
    /// multiple of 16; otherwise K only to whole blocks of `dtype` (so any width can be
    /// quantized).
    pub fn quantize(&self, dtype: GgmlDType) -> Result<Self> {
        if dtype == GgmlDType::Q8_0 && self.device().is_cpu() {
            return self.to_q8_0();
        }
        let (k_multiple, n_multiple) = if self.device().is_cpu() && has_repacked_kernel(dtype) {
            (256, 16)
        } else {
            (dtype.block_size(), 1)
        };
        self.quantize_padded(dtype, k_multiple, n_multiple)
    }

    /// The same projection with its weight stored in the order the CPU kernel reads it
    /// ([`PackedMatrix`]), where that changes the layout (a dense CPU weight over more inputs
    /// than one span, on a CPU with AVX-512); otherwise a clone. Same results bit for bit;
    /// the row-major weight is dropped once no one else holds it.
    pub fn packed(&self) -> Result<Self> {
        let Inner::Dense(l) = &self.inner else {
            return Ok(self.clone());
        };
        let Some(weight) = PackedMatrix::from_tensor(l.weight())? else {
            return Ok(self.clone());
        };
        let bias = l
            .bias()
            .map(|b| b.to_dtype(DType::F32)?.to_vec1::<f32>())
            .transpose()?;
        Ok(Projection {
            inner: Inner::Packed(Arc::new(PackedDense { weight, bias })),
        })
    }

    /// Whether the weight is stored packed ([`packed`](Self::packed)).
    pub fn is_packed(&self) -> bool {
        matches!(self.inner, Inner::Packed(_))
    }

    /// The `Q8_0` copy for the CPU: GGML's blocks (quantized by candle) packed for
    /// [`Q8Matrix`], the only copy kept.
    fn to_q8_0(&self) -> Result<Self> {
        let (w, bias) = match &self.inner {
            Inner::Dense(_) | Inner::Packed(_) => self
                .dense_parts()?
                .expect("a dense or packed projection has dense parts"),
            Inner::Q8(_) => return Ok(self.clone()),
            Inner::Quantized(_) | Inner::Int8(_) => {
                candle_core::bail!("only a dense projection is quantized to Q8_0 here")
            }
        };
        let (out, in_dim) = w.dims2()?;
        let cols = in_dim.div_ceil(GgmlDType::Q8_0.block_size()) * GgmlDType::Q8_0.block_size();
        let bias = bias
            .map(|b| b.to_dtype(DType::F32)?.to_vec1::<f32>())
            .transpose()?;
        // A chunk of rows at a time, each packed as soon as candle has quantized it: neither
        // the f32 weight nor candle's blocks are ever whole in memory (the allocator keeps
        // what it once held, so a transient copy of a vocabulary would stay resident).
        use rayon::prelude::*;
        fn poisoned<T>(_: T) -> candle_core::Error {
            candle_core::Error::Msg("a quantizing thread panicked".into())
        }
        let packed = std::sync::Mutex::new(Q8Matrix::zeros(out, in_dim, bias.as_deref()));
        (0..out)
            .step_by(QUANTIZE_ROWS)
            .collect::<Vec<_>>()
            .par_iter()
            .try_for_each(|&start| -> Result<()> {
                let n = QUANTIZE_ROWS.min(out - start);
                let blocks = quantize_rows(&w.narrow(0, start, n)?, GgmlDType::Q8_0, n, cols)?;
                let bytes = blocks.data()?;
                packed.lock().map_err(poisoned)?.set_rows(start, &bytes);
                Ok(())
            })?;
        let m = packed.into_inner().map_err(poisoned)?;
        Ok(Projection {
            inner: Inner::Q8(Arc::new(m)),
        })
    }

    /// A quantized copy whose weight gets zero columns up to a multiple of `k_multiple` inputs
    /// and zero rows up to a multiple of `n_multiple` outputs; `forward` pads its input and
    /// cuts its output to match, so callers see the original widths. Fails when the padded
    /// K is not whole blocks of `dtype`. A quantized projection is quantized again from its
    /// dequantized weights.
    pub fn quantize_padded(
        &self,
        dtype: GgmlDType,
        k_multiple: usize,
        n_multiple: usize,
    ) -> Result<Self> {
        let (w, bias, in_dim, out) = match &self.inner {
            Inner::Dense(_) | Inner::Packed(_) => {
                let (w, b) = self
                    .dense_parts()?
                    .expect("a dense or packed projection has dense parts");
                let (out, in_dim) = w.dims2()?;
                (w, b, in_dim, out)
            }
            Inner::Int8(_) => candle_core::bail!("an int8 projection cannot be re-quantized"),
            Inner::Q8(m) => {
                let rows: Vec<f32> = (0..m.rows()).flat_map(|r| m.row(r)).collect();
                let w = Tensor::from_vec(rows, (m.rows(), m.cols()), &candle_core::Device::Cpu)?;
                let bias = Some(Tensor::new(m.bias(), &candle_core::Device::Cpu)?);
                (w, bias, m.cols(), m.rows())
            }
            Inner::Quantized(q) => {
                let w = match &q.weight {
                    QMatMul::QTensor(t) => t.dequantize(&t.device())?,
                    QMatMul::Tensor(w) => w.clone(),
                    QMatMul::TensorF16(w) => w.to_dtype(DType::F32)?,
                };
                let w = w.narrow(0, 0, q.out)?.narrow(1, 0, q.in_dim)?;
                (w, q.bias.clone(), q.in_dim, q.out)
            }
        };
        let round_up = |x: usize, m: usize| x.div_ceil(m.max(1)) * m.max(1);
        let (rows, cols) = (round_up(out, n_multiple), round_up(in_dim, k_multiple));
        let qt = quantize_rows(&w, dtype, rows, cols).map_err(|e| {
            candle_core::Error::Msg(format!(
                "cannot quantize a [{out}, {in_dim}] weight (padded to [{rows}, {cols}]) to \
                 {dtype:?}: {e}"
            ))
        })?;
        let device = w.device().clone();
        let weight = QMatMul::from_qtensor(qt)?;
        if device.is_cpu() {
            // The first call packs the weight into kernel tiles (lazily, inside candle); doing
            // it here keeps that one-off cost out of the first decoding step.
            weight.forward(&Tensor::zeros((1, cols), DType::F32, w.device())?)?;
        }
        Ok(Projection {
            inner: Inner::Quantized(QuantizedWeight {
                weight,
                bias,
                in_dim,
                padded_in: cols,
                out,
                dtype,
            }),
        })
    }

    /// A copy computed in 8-bit integers (CPU only): the weight rounded per output row, and
    /// each input row rounded to 8 bits with its own scale just before the product (the
    /// arithmetic of CTranslate2's `int8`), so the inner loop is `vpdpbusd` on CPUs with
    /// AVX-512 VNNI. For the compute-bound encoder, where a 1500-row window makes rounding
    /// the inputs cheap next to the product.
    /// Fails on a projection that is already quantized.
    pub fn to_int8(&self) -> Result<Self> {
        if !self.device().is_cpu() {
            candle_core::bail!("int8 projections run on the CPU only");
        }
        Ok(Projection {
            inner: Inner::Int8(Arc::new(self.int8_matrix()?)),
        })
    }

    /// The dense weight rounded to 8 bits per output row, with the bias kept f32: the matrix
    /// of [`to_int8`](Self::to_int8) and of the fused 8-bit draft's layers. Fails on a
    /// projection that is already quantized.
    pub fn int8_matrix(&self) -> Result<Int8Matrix> {
        let Some((w, b)) = self.dense_parts()? else {
            candle_core::bail!("only a dense f32 projection can be rounded to int8");
        };
        let (rows, cols) = w.dims2()?;
        let bias = b
            .map(|b| b.to_dtype(DType::F32)?.to_vec1::<f32>())
            .transpose()?;
        with_f32_slice(&w.to_dtype(DType::F32)?.contiguous()?, |w| {
            Int8Matrix::quantize(w, rows, cols, bias.as_deref())
        })
    }

    /// Rows `ids` of the weight (`[ids, in]`, f32): a token lookup through the tied vocabulary
    /// projection. A quantized weight gives its rounded rows (the `--quantize` decoder keeps
    /// no other copy of its token table).
    pub fn rows(&self, ids: &Tensor) -> Result<Tensor> {
        match &self.inner {
            Inner::Dense(l) => l.weight().index_select(ids, 0)?.to_dtype(DType::F32),
            Inner::Packed(p) => {
                let ids = ids.to_vec1::<u32>()?;
                let (rows, cols) = p.weight.dims();
                let Some(found) = p.weight.rows_f32(&ids) else {
                    candle_core::bail!("a row in {ids:?} of a [{rows}, {cols}] weight")
                };
                Tensor::from_vec(found, (ids.len(), cols), &candle_core::Device::Cpu)
            }
            Inner::Quantized(QuantizedWeight {
                weight: QMatMul::QTensor(t),
                in_dim,
                ..
            }) => t.embedding(ids)?.narrow(1, 0, *in_dim)?.contiguous(),
            Inner::Q8(m) => {
                let ids = ids.to_vec1::<u32>()?;
                let mut rows = Vec::with_capacity(ids.len() * m.cols());
                for &id in &ids {
                    if id as usize >= m.rows() {
                        candle_core::bail!("row {id} of a [{}, {}] weight", m.rows(), m.cols());
                    }
                    rows.extend(m.row(id as usize));
                }
                Tensor::from_vec(rows, (ids.len(), m.cols()), &candle_core::Device::Cpu)
            }
            _ => candle_core::bail!("this projection has no row lookup"),
        }
    }

    /// `out[j] = x . W[j]` for each output `j` in `rows` (`x` one input row, bias left out):
    /// the bits the CPU kernel gives output `j` (a packed weight too), from the weights as
    /// stored. A draft's exact rescoring of its best tokens against the token table.
    pub fn row_scores(&self, x: &[f32], rows: &[u32], out: &mut [f32]) -> Result<()> {
        use crate::kernels::small_matmul::matmul_nt;
        fn scores<W: crate::kernels::WeightElement>(
            w: &[W],
            x: &[f32],
            rows: &[u32],
            out: &mut [f32],
        ) {
            let d = x.len();
            for &j in rows {
                let row = &w[j as usize * d..(j as usize + 1) * d];
                matmul_nt(x, 1, d, row, 1, None, &mut out[j as usize..=j as usize]);
            }
        }
        let (n, k) = self.dims()?;
        if x.len() != k || rows.iter().any(|&j| j as usize >= n.min(out.len())) {
            candle_core::bail!("scores of rows {rows:?} of a [{n}, {k}] weight");
        }
        match &self.inner {
            Inner::Packed(p) => p.weight.row_scores(x, rows, out),
            Inner::Dense(l) => {
                let w = l.weight().contiguous()?;
                match w.dtype() {
                    DType::F16 => with_cpu_slice::<half::f16, _>(&w, |w| scores(w, x, rows, out))?,
                    DType::BF16 => {
                        with_cpu_slice::<half::bf16, _>(&w, |w| scores(w, x, rows, out))?
                    }
                    _ => with_f32_slice(&w, |w| scores(w, x, rows, out))?,
                }
            }
            _ => candle_core::bail!("only a dense weight scores its rows exactly"),
        }
        Ok(())
    }

    /// The weight (`[out, in]`, as stored: f32 or half precision) and bias of a dense
    /// projection, row-major (a packed weight is unpacked into a new tensor); `None` when
    /// quantized.
    pub fn dense_parts(&self) -> Result<Option<(Tensor, Option<Tensor>)>> {
        Ok(match &self.inner {
            Inner::Dense(l) => Some((l.weight().clone(), l.bias().cloned())),
            Inner::Packed(p) => {
                let bias = p
                    .bias
                    .as_ref()
                    .map(|b| Tensor::new(b.as_slice(), &candle_core::Device::Cpu))
                    .transpose()?;
                Some((p.weight.unpack()?, bias))
            }
            Inner::Quantized(_) | Inner::Int8(_) | Inner::Q8(_) => None,
        })
    }

    /// The GGML type of a quantized projection; `None` when dense.
    pub fn ggml_dtype(&self) -> Option<GgmlDType> {
        match &self.inner {
            Inner::Dense(_) | Inner::Packed(_) => None,
            Inner::Quantized(q) => Some(q.dtype),
            Inner::Q8(_) => Some(GgmlDType::Q8_0),
            Inner::Int8(_) => None,
        }
    }

    /// The `(out, in)` widths callers see (padding excluded).
    pub fn dims(&self) -> Result<(usize, usize)> {
        match &self.inner {
            Inner::Dense(l) => l.weight().dims2(),
            Inner::Quantized(q) => Ok((q.out, q.in_dim)),
            Inner::Int8(m) => Ok((m.rows(), m.cols())),
            Inner::Q8(m) => Ok((m.rows(), m.cols())),
            Inner::Packed(p) => Ok(p.weight.dims()),
        }
    }

    fn device(&self) -> candle_core::Device {
        match &self.inner {
            Inner::Dense(l) => l.weight().device().clone(),
            Inner::Quantized(q) => match &q.weight {
                QMatMul::QTensor(t) => t.device(),
                QMatMul::Tensor(w) | QMatMul::TensorF16(w) => w.device().clone(),
            },
            Inner::Int8(_) | Inner::Q8(_) | Inner::Packed(_) => candle_core::Device::Cpu,
        }
    }

    /// Applies the projection to the last dimension of `x` (any rank >= 2).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let q = match &self.inner {
            Inner::Dense(l) => {
                // On the CPU: the weight-streaming kernel (row-independent bits, faster than GEMM here).
                if let Some(y) = crate::kernels::small_matmul::try_forward(x, l.weight(), l.bias())?
                {
                    return Ok(y);
                }
                if l.weight().dtype() != x.dtype() {
                    // A half-precision weight under an input the kernel does not take: widen
                    // this one matrix for the call.
                    let w = l.weight().to_dtype(x.dtype())?;
                    return Linear::new(w, l.bias().cloned()).forward(x);
                }
                return l.forward(x);
            }
            Inner::Quantized(q) => q,
            Inner::Int8(m) => return int8_forward(m, x),
            Inner::Q8(m) => return q8_forward(m, x),
            Inner::Packed(p) => return packed_forward(p, x),
        };
        let given = x.dim(D::Minus1)?;
        if given != q.in_dim {
            candle_core::bail!("projection expects {} inputs, got {given}", q.in_dim);
        }
        // Zero inputs for the padded weight columns; candle's quantized kernel also needs its
        // input as one contiguous slice.
        let x = if q.padded_in > given {
            x.pad_with_zeros(D::Minus1, 0, q.padded_in - given)?
        } else {
            x.contiguous()?
        };
        let mut y = q.weight.forward(&x)?;
        if y.dim(D::Minus1)? != q.out {
            y = y.narrow(D::Minus1, 0, q.out)?.contiguous()?;
        }
        match &q.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// Rows of the quantized weights made at a time: every row is whole blocks, so chunks of rows
/// quantize independently, in parallel, and with one chunk of f32 (not the whole padded
/// weight: 212 MB for base's vocabulary) in memory at a time.
const QUANTIZE_ROWS: usize = 1024;

/// `w` (`[out, in]`, any float dtype, any device) quantized to `dtype` as a `[rows, cols]`
/// weight: zero columns beyond `in`, zero rows beyond `out`.
fn quantize_rows(w: &Tensor, dtype: GgmlDType, rows: usize, cols: usize) -> Result<QTensor> {
    use rayon::prelude::*;
    let (out, in_dim) = w.dims2()?;
    let chunks: Vec<usize> = (0..rows).step_by(QUANTIZE_ROWS).collect();
    let parts = chunks
        .par_iter()
        .map(|&start| -> Result<Vec<u8>> {
            let n = QUANTIZE_ROWS.min(rows - start);
            let real = n.min(out.saturating_sub(start));
            let chunk = if real > 0 {
                w.narrow(0, start, real)?
                    .to_device(&candle_core::Device::Cpu)?
                    .to_dtype(DType::F32)?
                    .pad_with_zeros(1, 0, cols - in_dim)?
                    .pad_with_zeros(0, 0, n - real)?
                    // A buffer of its own: candle 0.11.1's `QTensor::quantize` reads its
                    // source's storage from the start, ignoring the offset of a row slice.
                    .force_contiguous()?
            } else {
                Tensor::zeros((n, cols), DType::F32, &candle_core::Device::Cpu)?
            };
            Ok(QTensor::quantize(&chunk, dtype)?.data()?.into_owned())
        })
        .collect::<Result<Vec<_>>>()?;
    let storage = QStorage::from_data(std::borrow::Cow::Owned(parts.concat()), w.device(), dtype)?;
    QTensor::new(storage, (rows, cols))
}

/// `x W^T + b` through the 8-bit kernel, over the last dimension of `x`.
fn packed_forward(p: &PackedDense, x: &Tensor) -> Result<Tensor> {
    let (n, k) = p.weight.dims();
    let dims = x.dims();
    let Some((&given, lead)) = dims.split_last() else {
        candle_core::bail!("a projection needs an input of rank >= 1");
    };
    if given != k {
        candle_core::bail!("projection expects {k} inputs, got {given}");
    }
    let m: usize = lead.iter().product();
    let mut y = vec![0f32; m * n];
    with_f32_slice(&x.to_dtype(DType::F32)?.contiguous()?, |x| {
        p.weight.matmul(x, m, p.bias.as_deref(), &mut y)
    })?;
    let mut shape = dims.to_vec();
    *shape.last_mut().expect("rank >= 1") = n;
    Tensor::from_vec(y, shape, &candle_core::Device::Cpu)
}

fn int8_forward(m: &Int8Matrix, x: &Tensor) -> Result<Tensor> {
    rounded_forward(x, (m.rows(), m.cols()), Int8Rows::set, |q: &Int8Rows, y| {
        m.forward(q, y)
    })
}

/// `x W^T + b` through the `Q8_0` kernel, over the last dimension of `x`.
fn q8_forward(m: &Q8Matrix, x: &Tensor) -> Result<Tensor> {
    rounded_forward(x, (m.rows(), m.cols()), Q8Rows::set, |q: &Q8Rows, y| {
        m.forward(q, y)
    })
}

/// A `[out, cols]` product over the last dimension of `x` by a kernel that takes its input rows
/// rounded to 8 bits: `round` fills the buffer from the f32 rows, `multiply` writes the output.
fn rounded_forward<R: Default>(
    x: &Tensor,
    (out, cols): (usize, usize),
    round: impl FnOnce(&mut R, &[f32], usize, usize),
    multiply: impl FnOnce(&R, &mut [f32]),
) -> Result<Tensor> {
    let given = x.dim(D::Minus1)?;
    if given != cols {
        candle_core::bail!("projection expects {cols} inputs, got {given}");
    }
    let rows = x.elem_count() / given;
    let mut shape = x.dims().to_vec();
    *shape.last_mut().expect("x has a last dimension") = out;
    let mut q = R::default();
    with_f32_slice(&x.to_dtype(DType::F32)?.contiguous()?, |x| {
        round(&mut q, x, rows, given)
    })?;
    let mut y = vec![0f32; rows * out];
    multiply(&q, &mut y);
    Tensor::from_vec(y, shape, &candle_core::Device::Cpu)
}

impl Module for Projection {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Projection::forward(self, x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_data::uniform;
    use candle_core::Device;

    /// Several chunks of rows, the last one short and padded: the same bytes as candle
    /// quantizing the whole padded weight at once (a row slice's offset once made every chunk
    /// quantize the first rows again), and rows that look up what the product multiplies.
    #[test]
    fn chunked_quantization_is_the_whole_weight_quantized() {
        let (out, in_dim) = (2 * QUANTIZE_ROWS + 37, 96);
        let (rows, cols) = (out.div_ceil(16) * 16, 256);
        let w = Tensor::from_vec(uniform(out * in_dim, 11), (out, in_dim), &Device::Cpu).unwrap();
        for dtype in [GgmlDType::Q8_0, GgmlDType::Q4K] {
            let chunked = quantize_rows(&w, dtype, rows, cols).unwrap();
            let padded = w
                .pad_with_zeros(1, 0, cols - in_dim)
                .unwrap()
                .pad_with_zeros(0, 0, rows - out)
                .unwrap()
                .contiguous()
                .unwrap();
            let whole = QTensor::quantize(&padded, dtype).unwrap();
            assert_eq!(chunked.shape().dims(), &[rows, cols]);
            assert!(
                chunked.data().unwrap() == whole.data().unwrap(),
                "{dtype:?}"
            );
        }
        let dense = Projection::from_linear(Linear::new(w.clone(), None));
        let q = dense.quantize_padded(GgmlDType::Q8_0, 256, 16).unwrap();
        assert_eq!(q.dims().unwrap(), (out, in_dim));
        let ids = Tensor::new(&[0u32, 1500, out as u32 - 1], &Device::Cpu).unwrap();
        let (exact, looked_up) = (dense.rows(&ids).unwrap(), q.rows(&ids).unwrap());
        let err = (exact - looked_up)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        // Q8_0: half a step (a block's largest value / 127) after rounding, plus the f16
        // rounding of the step itself.
        let err = err.to_scalar::<f32>().unwrap();
        assert!(err <= 1.0 / 127.0, "{err}");
    }

    /// A packed projection (f16 weight over three spans of inputs, a partial last group) is
    /// the row-major one in every use: the forward bits for 1, 8 and 11 rows, looked-up rows,
    /// exact row scores, the weight handed back, and its `Q8_0` copy. Where this CPU does
    /// not read spans (no AVX-512) nothing is packed, which the test checks instead.
    #[test]
    fn packed_projection_is_the_row_major_one_in_every_use() {
        let (out, in_dim) = (61, 2100);
        let w = Tensor::from_vec(uniform(out * in_dim, 21), (out, in_dim), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::F16)
            .unwrap();
        let b = Tensor::from_vec(uniform(out, 22), out, &Device::Cpu).unwrap();
        let dense = Projection::from_linear(Linear::new(w.clone(), Some(b)));
        let packed = dense.packed().unwrap();
        let spans = crate::kernels::packed_weight::worth_packing(in_dim);
        assert_eq!(packed.is_packed(), spans);
        assert_eq!(packed.dims().unwrap(), (out, in_dim));
        let bits = |t: Tensor| {
            t.flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(f32::to_bits)
                .collect::<Vec<_>>()
        };
        for rows in [1, 8, 11] {
            let x = Tensor::from_vec(uniform(rows * in_dim, 23), (1, rows, in_dim), &Device::Cpu)
                .unwrap();
            let (want, got) = (dense.forward(&x).unwrap(), packed.forward(&x).unwrap());
            assert_eq!(got.dims(), &[1, rows, out]);
            assert_eq!(bits(got), bits(want), "{rows} rows");
        }
        let ids = Tensor::new(&[60u32, 0, 24, 48], &Device::Cpu).unwrap();
        assert_eq!(
            bits(packed.rows(&ids).unwrap()),
            bits(dense.rows(&ids).unwrap())
        );
        let x = uniform(in_dim, 24);
        let (mut want, mut got) = (vec![0f32; out], vec![0f32; out]);
        dense.row_scores(&x, &[3, 59, 25], &mut want).unwrap();
        packed.row_scores(&x, &[3, 59, 25], &mut got).unwrap();
        assert_eq!(got, want);
        assert!(want[3] != 0.0 && want[4] == 0.0);
        assert!(packed.row_scores(&x, &[61], &mut got).is_err());
        let (unpacked, _) = packed.dense_parts().unwrap().unwrap();
        assert_eq!(
            bits(unpacked.to_dtype(DType::F32).unwrap()),
            bits(w.to_dtype(DType::F32).unwrap())
        );
        let q = |p: &Projection| p.quantize(GgmlDType::Q8_0).unwrap().rows(&ids).unwrap();
        assert_eq!(bits(q(&packed)), bits(q(&dense)));
    }

    #[test]
    fn int8_projection_is_close_to_the_f32_product_for_any_leading_shape() {
        let (out, in_dim) = (70, 48);
        let w = Tensor::from_vec(uniform(out * in_dim, 3), (out, in_dim), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(uniform(out, 4), out, &Device::Cpu).unwrap();
        let dense = Projection::from_linear(Linear::new(w, Some(b)));
        let int8 = dense.to_int8().unwrap();
        assert_eq!(int8.dims().unwrap(), (out, in_dim));
        let x = Tensor::from_vec(uniform(2 * 5 * in_dim, 5), (2, 5, in_dim), &Device::Cpu).unwrap();
        let (exact, approx) = (dense.forward(&x).unwrap(), int8.forward(&x).unwrap());
        assert_eq!(approx.dims(), &[2, 5, out]);
        let err = (exact - approx).unwrap().abs().unwrap().max_all().unwrap();
        // Two 8-bit roundings of values in [-1, 1] over 48 products.
        assert!(err.to_scalar::<f32>().unwrap() < 0.02 * (in_dim as f32).sqrt());
        assert!(int8.to_int8().is_err() && int8.quantize(GgmlDType::Q8_0).is_err());
        let wrong = Tensor::zeros((1, in_dim + 1), DType::F32, &Device::Cpu).unwrap();
        assert!(int8.forward(&wrong).is_err());
    }
}
