//! Projections that are either dense f32 or quantized, behind one `forward`.
//!
//! A speculative *self-draft* is the target's own decoder with quantized weights: the draft's
//! cost is memory traffic (one weight read per step), so 8- or 4-bit weights make it several
//! times cheaper while its argmax still agrees with the target's almost everywhere. The dense
//! variant wraps `candle_nn::Linear` unchanged, so a model that is never quantized computes
//! exactly what it did before this type existed.
//!
//! Quantized weights are built once from the f32 ones (`QTensor::quantize`); activations stay
//! f32 between layers (candle's kernels quantize each input row internally for the dot
//! products, so outputs of a row do not depend on the other rows of the batch).

use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{Module, Result, Tensor};
use candle_nn::{Linear, VarBuilder};

/// The quantization a self-draft asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuantKind {
    /// 8-bit weights in blocks of 32 (GGML `Q8_0`): close to f32 (teacher-forced agreement
    /// with the target above 99 % on real speech), about 0.27x the f32 bytes.
    Q8_0,
    /// 4-bit weights: `Q4K` (super-blocks of 256) when every inner dimension allows it,
    /// otherwise `Q4_0` (blocks of 32). About 0.15x the f32 bytes, agreement around 95 %.
    Q4,
}

impl QuantKind {
    /// The GGML type used for weights whose inner (input) dimensions are all of `ks`.
    ///
    /// `Q4` picks `Q4K` only when every K is a multiple of 256: one model-wide type keeps the
    /// draft uniform and `Q4K` cannot hold a row that is not whole super-blocks (tiny's
    /// d_model 384 is not), so such a model falls back to `Q4_0`.
    pub fn ggml_dtype(self, ks: &[usize]) -> GgmlDType {
        match self {
            QuantKind::Q8_0 => GgmlDType::Q8_0,
            QuantKind::Q4 if ks.iter().all(|k| k.is_multiple_of(256)) => GgmlDType::Q4K,
            QuantKind::Q4 => GgmlDType::Q4_0,
        }
    }
}

/// `y = x W^T + b` over the last dimension of `x`, with `W` dense f32 or quantized.
#[derive(Debug, Clone)]
pub enum Projection {
    /// The f32 weights, computed by `candle_nn::Linear` as always.
    Dense(Linear),
    /// Quantized weights (possibly with zero rows appended, see [`Projection::quantize_padded`])
    /// and the f32 bias.
    Quantized {
        /// `[rows, in]` quantized weight; `rows >= out`.
        weight: QMatMul,
        /// f32 bias of the `out` real outputs.
        bias: Option<Tensor>,
        /// Output columns kept (rows beyond this are padding).
        out: usize,
        /// The GGML type of `weight`.
        dtype: GgmlDType,
    },
}

impl Projection {
    /// Loads a dense projection with a bias (`weight` `[out, in]`, `bias` `[out]`) under `vb`.
    pub fn load(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Projection::Dense(candle_nn::linear(in_dim, out_dim, vb)?))
    }

    /// Loads a dense projection without a bias under `vb`.
    pub fn load_no_bias(in_dim: usize, out_dim: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Projection::Dense(candle_nn::linear_no_bias(
            in_dim, out_dim, vb,
        )?))
    }

    /// A quantized copy with the same outputs (up to quantization error).
    pub fn quantize(&self, dtype: GgmlDType) -> Result<Self> {
        self.quantize_padded(dtype, 1)
    }

    /// A quantized copy whose weight gets zero rows up to a multiple of `multiple` outputs;
    /// `forward` cuts them off again, so callers see the original width.
    ///
    /// Why: candle's repacked AVX-512 VNNI kernels (several times faster for more than one
    /// input row) need the output count to be a multiple of 16 and K a multiple of 256;
    /// Whisper's vocabularies (51864, 51865) are not, so the logits projection pads.
    /// A quantized projection is quantized again from its dequantized weights.
    pub fn quantize_padded(&self, dtype: GgmlDType, multiple: usize) -> Result<Self> {
        let (w, bias, out) = match self {
            Projection::Dense(l) => (l.weight().clone(), l.bias().cloned(), l.weight().dim(0)?),
            Projection::Quantized {
                weight, bias, out, ..
            } => {
                let w = match weight {
                    QMatMul::QTensor(q) => q.dequantize(&q.device())?,
                    QMatMul::Tensor(w) => w.clone(),
                    QMatMul::TensorF16(w) => w.to_dtype(candle_core::DType::F32)?,
                };
                (w.narrow(0, 0, *out)?, bias.clone(), *out)
            }
        };
        let (rows, k) = w.dims2()?;
        let padded = rows.div_ceil(multiple.max(1)) * multiple.max(1);
        let w = if padded > rows {
            let zeros = Tensor::zeros((padded - rows, k), w.dtype(), w.device())?;
            Tensor::cat(&[&w, &zeros], 0)?
        } else {
            w
        };
        let qt = QTensor::quantize(&w, dtype).map_err(|e| {
            candle_core::Error::Msg(format!(
                "cannot quantize a [{rows}, {k}] weight to {dtype:?}: {e}"
            ))
        })?;
        let weight = QMatMul::from_qtensor(qt)?;
        if w.device().is_cpu() {
            // The first call packs the weight into kernel tiles (lazily, inside candle); doing
            // it here keeps that one-off cost out of the first decoding step.
            weight.forward(&Tensor::zeros((1, k), candle_core::DType::F32, w.device())?)?;
        }
        Ok(Projection::Quantized {
            weight,
            bias,
            out,
            dtype,
        })
    }

    /// The GGML type of a quantized projection; `None` when dense.
    pub fn ggml_dtype(&self) -> Option<GgmlDType> {
        match self {
            Projection::Dense(_) => None,
            Projection::Quantized { dtype, .. } => Some(*dtype),
        }
    }

    /// Applies the projection to the last dimension of `x` (any rank >= 2).
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match self {
            Projection::Dense(l) => l.forward(x),
            Projection::Quantized {
                weight, bias, out, ..
            } => {
                // candle's quantized kernel reads its input as one contiguous slice.
                let mut y = weight.forward(&x.contiguous()?)?;
                let last = y.rank() - 1;
                if y.dim(last)? != *out {
                    y = y.narrow(last, 0, *out)?.contiguous()?;
                }
                match bias {
                    Some(b) => y.broadcast_add(b),
                    None => Ok(y),
                }
            }
        }
    }
}

impl Module for Projection {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Projection::forward(self, x)
    }
}
