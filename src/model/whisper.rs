//! A loaded Whisper model: encoder + decoder on a candle device, from a Hugging Face layout dir.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::ModelError;
use super::config::{GenerationConfig, WhisperConfig};
use super::decoder::TextDecoder;
use super::encoder::AudioEncoder;
use super::layout::ModelDir;

/// Encoder and decoder of one model, with its configuration.
#[derive(Debug, Clone)]
pub struct Whisper {
    /// The audio encoder.
    pub encoder: AudioEncoder,
    /// The text decoder.
    pub decoder: TextDecoder,
    /// Architecture.
    pub config: WhisperConfig,
    /// Decoding settings shipped with the model.
    pub generation: GenerationConfig,
    device: Device,
}

/// Memory-maps a model's safetensors for loading in `dtype` on `device`.
pub fn var_builder(
    model: &ModelDir,
    dtype: DType,
    device: &Device,
) -> Result<VarBuilder<'static>, ModelError> {
    let path = model.weights();
    // SAFETY: the weights file is mapped read-only and not modified while the model loads;
    // tensors are copied (converted to `dtype`) out of the mapping.
    unsafe { VarBuilder::from_mmaped_safetensors(&[&path], dtype, device) }
        .map_err(|e| ModelError::invalid(&path, format!("cannot map weights: {e}")))
}

impl Whisper {
    /// Loads encoder and decoder (f32 compute; stored f16 weights are converted on load).
    pub fn load(model: &ModelDir, device: &Device) -> Result<Self, ModelError> {
        let _span = tracing::info_span!("load_model").entered();
        let vb = var_builder(model, DType::F32, device)?;
        let path = model.weights();
        let bad = |e: candle_core::Error| ModelError::invalid(&path, format!("cannot load: {e}"));
        let encoder = AudioEncoder::load(vb.pp("model.encoder"), &model.config).map_err(bad)?;
        let decoder = TextDecoder::load(vb.pp("model.decoder"), &model.config).map_err(bad)?;
        Ok(Whisper {
            encoder,
            decoder,
            config: model.config.clone(),
            generation: model.generation.clone(),
            device: device.clone(),
        })
    }

    /// The device the weights live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Encodes one mel window given as row-major `[n_mels, frames]` samples.
    pub fn encode(&self, mel: &[f32], frames: usize) -> candle_core::Result<Tensor> {
        let n_mels = self.config.num_mel_bins;
        let input = Tensor::from_slice(mel, (1, n_mels, frames), &self.device)?;
        self.encoder.forward(&input)
    }
}
