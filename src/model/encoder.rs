//! Whisper's audio encoder: two convolutions (the second halves the frame rate), sinusoidal
//! positions, pre-norm transformer blocks, a final layer norm. 3000 mel frames (30 s) in,
//! 1500 states out.

use candle_core::{Result, Tensor};
use candle_nn::{LayerNorm, Module, VarBuilder};

use super::attention::Attention;
use super::config::WhisperConfig;
use super::conv::Conv3;
use super::linear::Projection;
use crate::kernels::gelu::gelu;

/// One pre-norm block: self-attention, then the MLP, each with a residual.
#[derive(Debug, Clone)]
struct EncoderBlock {
    attn_ln: LayerNorm,
    attn: Attention,
    mlp_ln: LayerNorm,
    fc1: Projection,
    fc2: Projection,
}

impl EncoderBlock {
    fn load(vb: VarBuilder, cfg: &WhisperConfig) -> Result<Self> {
        let d = cfg.d_model;
        Ok(EncoderBlock {
            attn_ln: candle_nn::layer_norm(d, 1e-5, vb.pp("self_attn_layer_norm"))?,
            attn: Attention::load_self(vb.pp("self_attn"), d, cfg.encoder_attention_heads)?,
            mlp_ln: candle_nn::layer_norm(d, 1e-5, vb.pp("final_layer_norm"))?,
            fc1: Projection::load(d, cfg.encoder_ffn_dim, vb.pp("fc1"))?,
            fc2: Projection::load(cfg.encoder_ffn_dim, d, vb.pp("fc2"))?,
        })
    }

    fn to_int8(&self) -> Result<Self> {
        Ok(EncoderBlock {
            attn: self.attn.to_int8()?,
            fc1: self.fc1.to_int8()?,
            fc2: self.fc2.to_int8()?,
            ..self.clone()
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let _span = tracing::trace_span!("encoder_block").entered();
        let attention = tracing::trace_span!("encoder_attention").entered();
        let x = (x + self.attn.self_attention(&self.attn_ln.forward(x)?)?)?;
        drop(attention);
        let _mlp = tracing::trace_span!("encoder_mlp").entered();
        let h = gelu(&self.fc1.forward(&self.mlp_ln.forward(&x)?)?)?;
        x + self.fc2.forward(&h)?
    }
}

/// The audio encoder (`model.encoder.*`).
#[derive(Debug, Clone)]
pub struct AudioEncoder {
    conv1: Conv3,
    conv2: Conv3,
    positions: Tensor,
    blocks: Vec<EncoderBlock>,
    ln_post: LayerNorm,
    n_mels: usize,
}

impl AudioEncoder {
    /// Loads the encoder from `vb` positioned at `model.encoder`.
    pub fn load(vb: VarBuilder, cfg: &WhisperConfig) -> Result<Self> {
        Self::load_with(vb, cfg, Ok)
    }

    /// Loads the encoder with every block in 8 bits ([`to_int8`](Self::to_int8)), converting
    /// each block as it is read so the f32 weights of the whole encoder never sit in memory.
    pub fn load_int8(vb: VarBuilder, cfg: &WhisperConfig) -> Result<Self> {
        let _span = tracing::debug_span!("load_int8_encoder").entered();
        Self::load_with(vb, cfg, |b| b.to_int8())
    }

    fn load_with(
        vb: VarBuilder,
        cfg: &WhisperConfig,
        convert: impl Fn(EncoderBlock) -> Result<EncoderBlock>,
    ) -> Result<Self> {
        let d = cfg.d_model;
        Ok(AudioEncoder {
            conv1: Conv3::load(cfg.num_mel_bins, d, 1, vb.pp("conv1"))?,
            conv2: Conv3::load(d, d, 2, vb.pp("conv2"))?,
            positions: vb.get((cfg.max_source_positions, d), "embed_positions.weight")?,
            blocks: (0..cfg.encoder_layers)
                .map(|i| convert(EncoderBlock::load(vb.pp(format!("layers.{i}")), cfg)?))
                .collect::<Result<_>>()?,
            ln_post: candle_nn::layer_norm(d, 1e-5, vb.pp("layer_norm"))?,
            n_mels: cfg.num_mel_bins,
        })
    }

    /// A copy for `--quantize` whose blocks' projections (attention and MLP) compute in 8-bit
    /// integers, and whose self-attention takes bf16 products with f32 sums where the CPU has
    /// AVX-512 BF16 ([`bf16_attention`](crate::kernels::bf16_attention)). The encoder is compute-bound,
    /// and these do four and two times the multiply-adds per instruction of f32. The
    /// convolutions and norms stay f32. Its output differs from the f32 encoder's by the
    /// rounding, so the text can too (WER measured in the README). CPU only.
    pub fn to_int8(&self) -> Result<Self> {
        let _span = tracing::debug_span!("quantize_encoder").entered();
        Ok(AudioEncoder {
            conv1: self.conv1.clone(),
            conv2: self.conv2.clone(),
            positions: self.positions.clone(),
            blocks: self
                .blocks
                .iter()
                .map(EncoderBlock::to_int8)
                .collect::<Result<_>>()?,
            ln_post: self.ln_post.clone(),
            n_mels: self.n_mels,
        })
    }

    /// Mel bins the encoder expects.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// Encodes a mel window `[1, n_mels, frames]` (3000 frames for 30 s) into
    /// `[1, frames / 2, d_model]`.
    pub fn forward(&self, mel: &Tensor) -> Result<Tensor> {
        let _span = tracing::debug_span!("encoder").entered();
        // Time-major from here on: `[1, frames, channels]`.
        let x = mel.transpose(1, 2)?.contiguous()?;
        let conv = tracing::trace_span!("encoder_conv").entered();
        let x = gelu(&self.conv1.forward_time_major(&x)?)?;
        let x = gelu(&self.conv2.forward_time_major(&x)?)?;
        drop(conv);
        let frames = x.dim(1)?;
        if frames > self.positions.dim(0)? {
            candle_core::bail!(
                "{frames} encoder positions, the model has {}",
                self.positions.dim(0)?
            );
        }
        let mut x = x.broadcast_add(&self.positions.narrow(0, 0, frames)?)?;
        for block in &self.blocks {
            x = block.forward(&x)?;
        }
        self.ln_post.forward(&x)
    }
}
