//! Small random Whisper models written as safetensors, for exactness tests that must not depend
//! on real weights (and that can use any vocabulary size).

use std::path::Path;

use safetensors::{Dtype, View};
use whisper_spec::model::WhisperConfig;
use whisper_spec::text::SpecialTokens;

use super::ct2_writer::Lcg;

/// A miniature config: `vocab` tokens, width `d`, the given layer counts.
pub fn config(vocab: usize, d: usize, enc_layers: usize, dec_layers: usize) -> WhisperConfig {
    serde_json::from_value(serde_json::json!({
        "vocab_size": vocab, "num_mel_bins": 80, "d_model": d,
        "encoder_layers": enc_layers, "encoder_attention_heads": 2,
        "decoder_layers": dec_layers, "decoder_attention_heads": 2,
        "encoder_ffn_dim": 4 * d, "decoder_ffn_dim": 4 * d,
        "eos_token_id": vocab as u32 - 2, "decoder_start_token_id": vocab as u32 - 1
    }))
    .unwrap()
}

struct F32Tensor {
    shape: Vec<usize>,
    data: Vec<u8>,
}

impl View for &F32Tensor {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Writes `model.safetensors` and `config.json` of a random model with `cfg`'s shape into
/// `dir`. Weights are uniform in +-scale/sqrt(fan_in) so activations stay in a sane range;
/// layer norms are near 1.
pub fn write_model(dir: &Path, cfg: &WhisperConfig, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut rng = Lcg(seed);
    let tensors: Vec<(String, F32Tensor)> = cfg
        .expected_tensors()
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let fan_in = shape.iter().skip(1).product::<usize>().max(1) as f32;
            let is_norm = name.contains("layer_norm");
            let data = (0..n)
                .flat_map(|_| {
                    let u = rng.uniform();
                    let v = if is_norm && name.ends_with("weight") {
                        1.0 + 0.1 * u
                    } else if is_norm {
                        0.1 * u
                    } else if name.contains("embed") {
                        0.5 * u
                    } else {
                        1.7 * u / fan_in.sqrt()
                    };
                    v.to_le_bytes()
                })
                .collect();
            (name, F32Tensor { shape, data })
        })
        .collect();
    safetensors::serialize_to_file(
        tensors.iter().map(|(n, t)| (n.as_str(), t)),
        None,
        &dir.join("model.safetensors"),
    )
    .unwrap();
    std::fs::write(
        dir.join("config.json"),
        serde_json::to_string_pretty(cfg).unwrap(),
    )
    .unwrap();
}

/// Writes a random model of `cfg`'s shape into `dir` and maps it for loading (f32, CPU).
pub fn build(dir: &Path, cfg: &WhisperConfig, seed: u64) -> candle_nn::VarBuilder<'static> {
    write_model(dir, cfg, seed);
    // SAFETY: the file was just written by this test and is not modified while mapped.
    unsafe {
        candle_nn::VarBuilder::from_mmaped_safetensors(
            &[dir.join("model.safetensors")],
            candle_core::DType::F32,
            &candle_core::Device::Cpu,
        )
    }
    .unwrap()
}

/// Vocabulary size of the exactness tests' random models.
pub const VOCAB: usize = 400;

/// The special tokens of the exactness tests' 400-token vocabulary: text is 0..300, then
/// end-of-text, the start-of-transcript sequence, and timestamps from 308 on.
pub fn specials() -> SpecialTokens {
    SpecialTokens {
        eot: 300,
        sot: 301,
        translate: 302,
        transcribe: 303,
        sot_lm: Some(304),
        prev: 305,
        no_speech: Some(306),
        no_timestamps: 307,
        timestamp_begin: 308,
        vocab_size: VOCAB,
    }
}

/// A prompt of `len` tokens in [`specials`]' vocabulary: start-of-previous, random text,
/// start-of-transcript and, without timestamps, no-timestamps. Returns it with the
/// start-of-transcript index.
pub fn long_prompt(len: usize, timestamps: bool, rng: &mut Lcg) -> (Vec<u32>, usize) {
    let sp = specials();
    let tail = if timestamps { 1 } else { 2 };
    let mut initial = vec![sp.prev];
    initial.extend((0..len - 1 - tail).map(|_| rng.next_u32() % sp.eot));
    initial.push(sp.sot);
    if !timestamps {
        initial.push(sp.no_timestamps);
    }
    assert_eq!(initial.len(), len);
    (initial, len - tail)
}
