//! A loaded Whisper model: encoder + decoder on a candle device.

use candle_core::{Device, Tensor};

use super::config::{GenerationConfig, WhisperConfig};
use super::decoder::TextDecoder;
use super::encoder::AudioEncoder;

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

impl Whisper {
    /// Puts a loaded encoder and decoder together (loading from a model directory is the
    /// store's: `Whisper::load` in `crate::store`).
    pub fn new(
        encoder: AudioEncoder,
        decoder: TextDecoder,
        config: WhisperConfig,
        generation: GenerationConfig,
        device: Device,
    ) -> Self {
        Whisper {
            encoder,
            decoder,
            config,
            generation,
            device,
        }
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
