//! Synthetic models: random weights with the exact shapes of the published Whisper models,
//! written as the hub publishes them (`model.safetensors` in the repo's own precision,
//! `config.json`, `generation_config.json` with alignment heads, `tokenizer.json`), so that
//! load time, memory and per-step costs of the large models can be measured on machines that
//! cannot download their gigabytes.
//!
//! The tokenizer is a real one: base's vocabulary (multilingual, 51865 ids) or tiny.en's
//! (English-only, 51864); large-v3's 51866-id vocabulary is base's with `<|yue|>` added after
//! the 99 older languages and the later specials moved up by one, exactly as large-v3 shifted
//! them. The weights are uniform noise scaled by fan-in (layer norms near 1), so activations
//! stay in range through 32 layers; the text they produce is meaningless, the arithmetic per
//! token is the real model's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use safetensors::{Dtype, View};

use super::ModelError;
use super::layout::{CONFIG, GENERATION_CONFIG, TOKENIZER, WEIGHTS};
use crate::model::WhisperConfig;
use crate::text::languages::LANGUAGES;

/// The first id after `<|endoftext|>`'s language block in base's vocabulary: where large-v3
/// put `<|yue|>` (the 100th language), moving every later special up by one.
const YUE_ID: u64 = 50358;

/// The shape of one published model, and the precision its hub repo stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    /// Catalog name.
    pub name: &'static str,
    /// Width.
    pub d_model: usize,
    /// Attention heads (encoder and decoder).
    pub heads: usize,
    /// Encoder blocks.
    pub encoder_layers: usize,
    /// Decoder blocks.
    pub decoder_layers: usize,
    /// Mel bins the encoder reads.
    pub mel_bins: usize,
    /// Vocabulary size: 51864 English-only, 51865 multilingual, 51866 large-v3.
    pub vocab: usize,
    /// Whether the hub's `model.safetensors` holds f16 (else f32).
    pub published_f16: bool,
}

const fn shape(
    name: &'static str,
    d_model: usize,
    layers: (usize, usize),
    mel_bins: usize,
    vocab: usize,
    published_f16: bool,
) -> Shape {
    Shape {
        name,
        d_model,
        heads: d_model / 64,
        encoder_layers: layers.0,
        decoder_layers: layers.1,
        mel_bins,
        vocab,
        published_f16,
    }
}

/// Every catalog model's shape (openai's and distil-whisper's config.json files).
pub const SHAPES: &[Shape] = &[
    shape("tiny", 384, (4, 4), 80, 51865, false),
    shape("tiny.en", 384, (4, 4), 80, 51864, false),
    shape("base", 512, (6, 6), 80, 51865, false),
    shape("base.en", 512, (6, 6), 80, 51864, false),
    shape("small", 768, (12, 12), 80, 51865, false),
    shape("small.en", 768, (12, 12), 80, 51864, false),
    shape("medium", 1024, (24, 24), 80, 51865, false),
    shape("medium.en", 1024, (24, 24), 80, 51864, false),
    shape("large-v2", 1280, (32, 32), 80, 51865, false),
    shape("large-v3", 1280, (32, 32), 128, 51866, true),
    shape("large-v3-turbo", 1280, (32, 4), 128, 51866, true),
    shape("distil-small.en", 768, (12, 2), 80, 51864, true),
    shape("distil-medium.en", 1024, (24, 2), 80, 51864, true),
    shape("distil-large-v2", 1280, (32, 2), 80, 51865, true),
    shape("distil-large-v3", 1280, (32, 2), 128, 51866, true),
];

impl Shape {
    /// The shape of catalog model `name`.
    pub fn of(name: &str) -> Option<Shape> {
        SHAPES.iter().copied().find(|s| s.name == name)
    }

    /// The model whose tokenizer this vocabulary is built from: tiny.en for English-only,
    /// base otherwise (large-v3's is base's plus `<|yue|>`).
    pub fn tokenizer_source(&self) -> &'static str {
        if self.vocab < 51865 {
            "tiny.en"
        } else {
            "base"
        }
    }

    /// The model's `config.json` with these shapes and the special ids of `specials`.
    fn config(&self, specials: &Specials) -> serde_json::Value {
        serde_json::json!({
            "model_type": "whisper",
            "architectures": ["WhisperForConditionalGeneration"],
            "vocab_size": self.vocab,
            "num_mel_bins": self.mel_bins,
            "d_model": self.d_model,
            "encoder_layers": self.encoder_layers,
            "encoder_attention_heads": self.heads,
            "decoder_layers": self.decoder_layers,
            "decoder_attention_heads": self.heads,
            "encoder_ffn_dim": 4 * self.d_model,
            "decoder_ffn_dim": 4 * self.d_model,
            "max_source_positions": 1500,
            "max_target_positions": 448,
            "activation_function": "gelu",
            "scale_embedding": false,
            "tie_word_embeddings": true,
            "eos_token_id": specials.eot,
            "bos_token_id": specials.eot,
            "pad_token_id": specials.eot,
            "decoder_start_token_id": specials.sot,
            "begin_suppress_tokens": [220, specials.eot],
            "torch_dtype": if self.published_f16 { "float16" } else { "float32" },
            "synthetic": "random weights of this model's real shape (whisper-spec bench --synthetic)",
        })
    }

    /// Decoder (layer, head) pairs named as alignment heads: two heads per layer in the upper
    /// half of the decoder, where openai's real ones sit. They only need to exist for word
    /// timing to run; random weights align nothing.
    fn alignment_heads(&self) -> Vec<[usize; 2]> {
        (self.decoder_layers / 2..self.decoder_layers)
            .flat_map(|layer| [[layer, 0], [layer, self.heads / 2]])
            .take(10)
            .collect()
    }
}

/// The special ids of a vocabulary, read by name from its `tokenizer.json`.
struct Specials {
    eot: u64,
    sot: u64,
    ids: BTreeMap<String, u64>,
}

impl Specials {
    fn read(tokenizer: &serde_json::Value) -> Result<Specials, String> {
        let ids: BTreeMap<String, u64> = tokenizer["added_tokens"]
            .as_array()
            .ok_or("tokenizer.json has no added_tokens")?
            .iter()
            .filter_map(|t| Some((t["content"].as_str()?.to_string(), t["id"].as_u64()?)))
            .collect();
        let id = |name: &str| {
            ids.get(name)
                .copied()
                .ok_or_else(|| format!("tokenizer.json has no {name}"))
        };
        Ok(Specials {
            eot: id("<|endoftext|>")?,
            sot: id("<|startoftranscript|>")?,
            ids,
        })
    }

    fn id(&self, name: &str) -> Option<u64> {
        self.ids.get(name).copied()
    }
}

/// `base`'s tokenizer with large-v3's `<|yue|>` added: every added token from [`YUE_ID`] up
/// moves one id up, and `<|yue|>` takes its place.
fn add_cantonese(tokenizer: &mut serde_json::Value) -> Result<(), String> {
    let added = tokenizer["added_tokens"]
        .as_array_mut()
        .ok_or("tokenizer.json has no added_tokens")?;
    let at = added
        .iter()
        .position(|t| t["id"].as_u64() == Some(YUE_ID))
        .ok_or("tokenizer.json has no token at the id large-v3 gives <|yue|>")?;
    let mut yue = added[at].clone();
    for token in added.iter_mut() {
        if let Some(id) = token["id"].as_u64().filter(|&id| id >= YUE_ID) {
            token["id"] = serde_json::json!(id + 1);
        }
    }
    yue["content"] = serde_json::json!("<|yue|>");
    yue["id"] = serde_json::json!(YUE_ID);
    added.insert(at, yue);
    Ok(())
}

/// `generation_config.json` for the vocabulary `specials` describes.
fn generation_config(shape: &Shape, specials: &Specials, suppress: &[u64]) -> serde_json::Value {
    let lang_to_id: BTreeMap<String, u64> = LANGUAGES
        .iter()
        .filter_map(|(code, _)| {
            let token = format!("<|{code}|>");
            Some((token.clone(), specials.id(&token)?))
        })
        .collect();
    let multilingual = shape.vocab >= 51865;
    let mut config = serde_json::json!({
        "alignment_heads": shape.alignment_heads(),
        "begin_suppress_tokens": [220, specials.eot],
        "bos_token_id": specials.eot,
        "decoder_start_token_id": specials.sot,
        "eos_token_id": specials.eot,
        "pad_token_id": specials.eot,
        "is_multilingual": multilingual,
        "max_initial_timestamp_index": 50,
        "max_length": 448,
        "no_timestamps_token_id": specials.id("<|notimestamps|>"),
        "prev_sot_token_id": specials.id("<|startofprev|>"),
        // Text tokens only: the filters add the specials by name.
        "suppress_tokens": suppress.iter().filter(|&&id| id < specials.eot).collect::<Vec<_>>(),
        "return_timestamps": false,
    });
    if multilingual {
        config["lang_to_id"] = serde_json::json!(lang_to_id);
        config["task_to_id"] = serde_json::json!({
            "transcribe": specials.id("<|transcribe|>"),
            "translate": specials.id("<|translate|>"),
        });
    }
    config
}

/// Writes a synthetic copy of `shape`'s hub repo into `dir` (replacing what is there), with
/// the vocabulary of `tokenizer_dir` (a model dir of [`Shape::tokenizer_source`]) and weights
/// drawn from `seed`. The weights file is written tensor by tensor (one tensor in memory at
/// a time) and moved into place last, so an interrupted write leaves no complete-looking repo.
pub fn write_repo(
    shape: &Shape,
    tokenizer_dir: &Path,
    dir: &Path,
    seed: u64,
) -> Result<(), ModelError> {
    let io = |path: &Path, e: std::io::Error| ModelError::io(path, e);
    let invalid = |path: PathBuf, why: String| ModelError::invalid(path, why);
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let _ = std::fs::remove_file(dir.join(WEIGHTS));

    let source_tokenizer = tokenizer_dir.join(TOKENIZER);
    let text = std::fs::read_to_string(&source_tokenizer).map_err(|e| io(&source_tokenizer, e))?;
    let mut tokenizer: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| invalid(source_tokenizer.clone(), e.to_string()))?;
    if shape.vocab == 51866 {
        add_cantonese(&mut tokenizer).map_err(|e| invalid(source_tokenizer.clone(), e))?;
    }
    let specials = Specials::read(&tokenizer).map_err(|e| invalid(source_tokenizer.clone(), e))?;
    let source_generation = tokenizer_dir.join(GENERATION_CONFIG);
    let suppress: Vec<u64> = std::fs::read_to_string(&source_generation)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|g| {
            g["suppress_tokens"]
                .as_array()
                .map(|a| a.iter().filter_map(|v| v.as_u64()).collect())
        })
        .unwrap_or_default();

    let write_json = |name: &str, value: &serde_json::Value| {
        let path = dir.join(name);
        let text = serde_json::to_string_pretty(value).expect("JSON values serialize");
        std::fs::write(&path, text).map_err(|e| io(&path, e))
    };
    write_json(TOKENIZER, &tokenizer)?;
    let config = shape.config(&specials);
    write_json(CONFIG, &config)?;
    write_json(
        GENERATION_CONFIG,
        &generation_config(shape, &specials, &suppress),
    )?;

    let cfg: WhisperConfig = serde_json::from_value(config)
        .map_err(|e| invalid(dir.join(CONFIG), format!("synthetic config: {e}")))?;
    let tensors: Vec<(String, RandomTensor)> = cfg
        .expected_tensors()
        .into_iter()
        .map(|(name, shape_dims)| {
            let tensor = RandomTensor {
                kind: TensorKind::of(&name, &shape_dims),
                seed: seed ^ fnv1a(&name),
                shape: shape_dims,
                f16: shape.published_f16,
            };
            (name, tensor)
        })
        .collect();
    let partial = dir.join(format!("{WEIGHTS}.partial"));
    safetensors::serialize_to_file(tensors.iter().map(|(n, t)| (n.as_str(), t)), None, &partial)
        .map_err(|e| invalid(partial.clone(), format!("cannot write weights: {e}")))?;
    std::fs::rename(&partial, dir.join(WEIGHTS)).map_err(|e| io(&partial, e))
}

/// How a tensor's random values are scaled.
#[derive(Debug, Clone, Copy)]
enum TensorKind {
    /// A layer norm's gain: 1 ± 0.1.
    NormGain,
    /// A layer norm's bias: ± 0.1.
    NormBias,
    /// Token and position embeddings: ± 0.5.
    Embedding,
    /// A projection or bias: ± 1.7 / sqrt(fan-in), keeping activations' scale layer to layer.
    Projection { fan_in: usize },
}

impl TensorKind {
    fn of(name: &str, shape: &[usize]) -> TensorKind {
        if name.contains("layer_norm") {
            if name.ends_with("weight") {
                TensorKind::NormGain
            } else {
                TensorKind::NormBias
            }
        } else if name.contains("embed") {
            TensorKind::Embedding
        } else {
            TensorKind::Projection {
                fan_in: shape.iter().skip(1).product::<usize>().max(1),
            }
        }
    }

    fn value(self, uniform: f32) -> f32 {
        match self {
            TensorKind::NormGain => 1.0 + 0.1 * uniform,
            TensorKind::NormBias => 0.1 * uniform,
            TensorKind::Embedding => 0.5 * uniform,
            TensorKind::Projection { fan_in } => 1.7 * uniform / (fan_in as f32).sqrt(),
        }
    }
}

/// A tensor whose bytes are drawn when the writer asks for them.
struct RandomTensor {
    kind: TensorKind,
    seed: u64,
    shape: Vec<usize>,
    f16: bool,
}

/// Values drawn per parallel chunk (each chunk has its own stream, so the bytes do not depend
/// on the thread count).
const CHUNK: usize = 1 << 16;

impl View for &RandomTensor {
    fn dtype(&self) -> Dtype {
        if self.f16 { Dtype::F16 } else { Dtype::F32 }
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        let n: usize = self.shape.iter().product();
        let width = if self.f16 { 2 } else { 4 };
        let mut bytes = vec![0u8; n * width];
        bytes
            .par_chunks_mut(CHUNK * width)
            .enumerate()
            .for_each(|(chunk, out)| {
                let mut state = self.seed ^ (chunk as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                for value in out.chunks_exact_mut(width) {
                    let v = self.kind.value(uniform(&mut state));
                    if self.f16 {
                        value.copy_from_slice(&half::f16::from_f32(v).to_le_bytes());
                    } else {
                        value.copy_from_slice(&v.to_le_bytes());
                    }
                }
            });
        std::borrow::Cow::Owned(bytes)
    }

    fn data_len(&self) -> usize {
        self.shape.iter().product::<usize>() * if self.f16 { 2 } else { 4 }
    }
}

/// A uniform value in [-1, 1) from a SplitMix64 stream.
fn uniform(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    ((z >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
}

/// FNV-1a of a tensor name: each tensor's stream depends on its name only.
fn fnv1a(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_model_has_a_shape_and_every_shape_is_in_the_catalog() {
        for entry in super::super::CATALOG {
            assert!(Shape::of(entry.name).is_some(), "{}", entry.name);
        }
        for shape in SHAPES {
            let entry = super::super::catalog::lookup(shape.name).expect(shape.name);
            assert_eq!(entry.english_only, shape.vocab == 51864, "{}", shape.name);
        }
    }

    #[test]
    fn large_v3_parameter_count_is_the_published_one() {
        // openai/whisper-large-v3: 1,543,490,560 parameters (3.09 GB of f16; the output
        // projection is tied to the token embedding and not stored).
        let shape = Shape::of("large-v3").unwrap();
        let specials = Specials {
            eot: 50257,
            sot: 50258,
            ids: BTreeMap::new(),
        };
        let cfg: WhisperConfig = serde_json::from_value(shape.config(&specials)).unwrap();
        let params: usize = cfg
            .expected_tensors()
            .iter()
            .map(|(_, s)| s.iter().product::<usize>())
            .sum();
        assert_eq!(params, 1_543_490_560);
    }

    #[test]
    fn uniform_values_stay_in_range_and_vary() {
        let mut state = 7;
        let values: Vec<f32> = (0..10_000).map(|_| uniform(&mut state)).collect();
        assert!(values.iter().all(|v| (-1.0..1.0).contains(v)));
        let mean = values.iter().sum::<f32>() / values.len() as f32;
        assert!(mean.abs() < 0.05, "mean {mean}");
    }
}
