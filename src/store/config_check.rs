//! A model's config.json checked against the bounds of any Whisper before anything is built
//! from it: the loader sizes loops, tensor lists and buffers from these numbers, so a config
//! that says 2^60 layers or a model width of 0 must be refused here, naming the field,
//! rather than hang or abort later.

use std::path::Path;

use super::ModelError;
use crate::model::WhisperConfig;

/// Most layers in either stack (large-v3 has 32).
const MAX_LAYERS: usize = 256;
/// Widest model (large-v3 is 1280 wide).
const MAX_D_MODEL: usize = 16_384;
/// Widest feed-forward layer.
const MAX_FFN: usize = 4 * MAX_D_MODEL;
/// Largest vocabulary.
const MAX_VOCAB: usize = 1 << 20;
/// Most mel bins (Whisper uses 80 or 128).
const MAX_MELS: usize = 512;
/// Most positions of either stack (Whisper: 1500 audio frames, 448 tokens).
const MAX_POSITIONS: usize = 1 << 16;

/// Checks every size in `config` (read from `path`) against the bounds above, and that the
/// head counts divide the model width.
pub fn check(config: &WhisperConfig, path: &Path) -> Result<(), ModelError> {
    let sizes = [
        ("vocab_size", config.vocab_size, MAX_VOCAB),
        ("num_mel_bins", config.num_mel_bins, MAX_MELS),
        ("d_model", config.d_model, MAX_D_MODEL),
        ("encoder_layers", config.encoder_layers, MAX_LAYERS),
        ("decoder_layers", config.decoder_layers, MAX_LAYERS),
        (
            "encoder_attention_heads",
            config.encoder_attention_heads,
            MAX_D_MODEL,
        ),
        (
            "decoder_attention_heads",
            config.decoder_attention_heads,
            MAX_D_MODEL,
        ),
        ("encoder_ffn_dim", config.encoder_ffn_dim, MAX_FFN),
        ("decoder_ffn_dim", config.decoder_ffn_dim, MAX_FFN),
        (
            "max_source_positions",
            config.max_source_positions,
            MAX_POSITIONS,
        ),
        (
            "max_target_positions",
            config.max_target_positions,
            MAX_POSITIONS,
        ),
    ];
    for (field, value, max) in sizes {
        if !(1..=max).contains(&value) {
            return Err(ModelError::invalid(
                path,
                format!("{field} = {value} is outside 1..={max}"),
            ));
        }
    }
    for (field, heads) in [
        ("encoder_attention_heads", config.encoder_attention_heads),
        ("decoder_attention_heads", config.decoder_attention_heads),
    ] {
        if !config.d_model.is_multiple_of(heads) {
            return Err(ModelError::invalid(
                path,
                format!(
                    "{field} = {heads} does not divide d_model {}",
                    config.d_model
                ),
            ));
        }
    }
    Ok(())
}
