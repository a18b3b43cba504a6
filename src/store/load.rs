//! Reading a model directory's weights into the network: tensors are read one at a time as the
//! layers ask for them, and (for `--quantize`) converted layer by layer as they arrive.

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use super::ModelError;
use super::layout::ModelDir;
use super::read_log::logged_var_builder;
use super::weights_file::WeightsFile;
use crate::model::linear::QuantKind;
use crate::model::{AudioEncoder, TextDecoder, Whisper};

/// Opens a model's safetensors for loading in `dtype` on `device`: tensors are read one at a
/// time as the model asks for them ([`WeightsFile`]), never memory-mapped.
pub fn var_builder(
    model: &ModelDir,
    dtype: DType,
    device: &Device,
) -> Result<VarBuilder<'static>, ModelError> {
    let path = model.weights();
    let file = WeightsFile::open(&path)
        .map_err(|e| ModelError::invalid(&path, format!("cannot read weights: {e}")))?;
    Ok(VarBuilder::from_backend(
        Box::new(file),
        dtype,
        device.clone(),
    ))
}

impl Whisper {
    /// Loads encoder and decoder (f32 compute; stored f16 weights are converted on load).
    pub fn load(model: &ModelDir, device: &Device) -> Result<Self, ModelError> {
        Self::load_as(model, device, None)
    }

    /// Loads the model for `--quantize`: the decoder's per-step weights in `kind`
    /// ([`TextDecoder::load_quantized`]) and, on the CPU, the encoder's projections in 8 bits
    /// ([`AudioEncoder::load_int8`]). Each layer is converted as it is read, so the f32 model
    /// is never whole in memory: base peaks near its quantized size, not its f32 size.
    pub fn load_quantized(
        model: &ModelDir,
        device: &Device,
        kind: QuantKind,
    ) -> Result<Self, ModelError> {
        Self::load_as(model, device, Some(kind))
    }

    fn load_as(
        model: &ModelDir,
        device: &Device,
        kind: Option<QuantKind>,
    ) -> Result<Self, ModelError> {
        let _span = tracing::info_span!("load_model", ?kind).entered();
        let (vb, used) = logged_var_builder(model, DType::F32, device)?;
        let path = model.weights();
        let bad = |e: candle_core::Error| ModelError::invalid(&path, format!("cannot load: {e}"));
        let (enc, dec, cfg) = (
            vb.pp("model.encoder"),
            vb.pp("model.decoder"),
            &model.config,
        );
        // Encoder first, then decoder: each converts layer by layer as it reads.
        let encoder = match kind {
            Some(_) if device.is_cpu() => AudioEncoder::load_int8(enc, cfg),
            _ => AudioEncoder::load(enc, cfg),
        }
        .map_err(bad)?;
        let decoder = match kind {
            Some(kind) => TextDecoder::load_quantized(dec, cfg, kind),
            None => TextDecoder::load(dec, cfg),
        }
        .map_err(bad)?;
        used.check_all_read(&path)?;
        Ok(Whisper::new(
            encoder,
            decoder,
            model.config.clone(),
            model.generation.clone(),
            device.clone(),
        ))
    }
}
