//! Reading a model directory's weights into the network: tensors are read one at a time as the
//! layers ask for them, and (for `--quantize`) converted layer by layer as they arrive.

use candle_core::{DType, Device};
use candle_nn::VarBuilder;

use super::ModelError;
use super::layout::ModelDir;
use super::read_log::logged_var_builder;
use super::weights_file::WeightsFile;
use crate::kernels::release_freed_heap;
use crate::model::linear::QuantKind;
use crate::model::{AudioEncoder, TextDecoder, Whisper};

/// How a loaded model keeps its weight matrices in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum WeightStorage {
    /// As published: f16 and bf16 matrices stay half precision on the CPU and are widened to
    /// f32 in registers where they are read (exact, so the same logits as `f32`); f32 ones
    /// stay f32. On a GPU this is `f32`.
    #[default]
    Published,
    /// Every weight widened to f32 at load (twice the memory and the bytes read per decoder
    /// step of an f16 model): the reference the published storage is checked against.
    F32,
}

/// Opens a model's safetensors for loading in `dtype` on `device`, keeping half-precision
/// matrices as `storage` says: tensors are read one at a time as the model asks for them
/// ([`WeightsFile`]), never memory-mapped.
pub fn var_builder(
    model: &ModelDir,
    dtype: DType,
    device: &Device,
    storage: WeightStorage,
) -> Result<VarBuilder<'static>, ModelError> {
    let file = open_weights(model, device, storage)?;
    Ok(VarBuilder::from_backend(
        Box::new(file),
        dtype,
        device.clone(),
    ))
}

/// `model`'s weights file, handing out half-precision matrices as stored where `storage` and
/// `device` allow it.
pub(super) fn open_weights(
    model: &ModelDir,
    device: &Device,
    storage: WeightStorage,
) -> Result<WeightsFile, ModelError> {
    let path = model.weights();
    let file = WeightsFile::open(&path)
        .map_err(|e| ModelError::invalid(&path, format!("cannot read weights: {e}")))?;
    // The half-precision kernels are the CPU's; candle's GPU matmul wants one dtype.
    Ok(if storage == WeightStorage::Published && device.is_cpu() {
        file.keeping_half_matrices()
    } else {
        file
    })
}

impl Whisper {
    /// Loads encoder and decoder, f32 compute over weights kept as published
    /// ([`WeightStorage::Published`]).
    pub fn load(model: &ModelDir, device: &Device) -> Result<Self, ModelError> {
        Self::load_stored(model, device, WeightStorage::Published)
    }

    /// Loads encoder and decoder with the weights kept as `storage` says (the logits are the
    /// same bits either way).
    pub fn load_stored(
        model: &ModelDir,
        device: &Device,
        storage: WeightStorage,
    ) -> Result<Self, ModelError> {
        Self::load_as(model, device, None, storage)
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
        Self::load_as(model, device, Some(kind), WeightStorage::Published)
    }

    fn load_as(
        model: &ModelDir,
        device: &Device,
        kind: Option<QuantKind>,
        storage: WeightStorage,
    ) -> Result<Self, ModelError> {
        let _span = tracing::info_span!("load_model", ?kind, ?storage).entered();
        let (vb, used) = logged_var_builder(model, DType::F32, device, storage)?;
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
        if kind.is_some() {
            release_freed_heap();
        }
        Ok(Whisper::new(
            encoder,
            decoder,
            model.config.clone(),
            model.generation.clone(),
            device.clone(),
        ))
    }
}
