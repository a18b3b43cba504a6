//! CTranslate2 model dir -> Hugging Face layout (`model.safetensors` with transformers' names,
//! `config.json`, `generation_config.json`, `tokenizer.json`).
//!
//! Why convert instead of reading `model.bin` at run time: one weight format for everything
//! downstream (hub downloads are safetensors), memory-mapped loading, and a file any other
//! Whisper tool can open. Values are kept exactly as stored (float16 stays float16); int8/int16
//! weights are dequantized to float32 (`w = q / scale`) because Hugging Face names have no place
//! for CTranslate2's scales. CTranslate2 fuses q/k/v (and cross-attention k/v) row-wise: those are
//! split back into separate projections; the k bias, which Whisper does not have and CTranslate2
//! stores as zeros, is dropped (a non-zero one would be a constant per query that softmax
//! ignores; we warn if we see one). The output projection stays tied to the token embedding.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::{Dtype, View};
use serde::Deserialize;

use super::ModelError;
use super::ct2::{Ct2Dtype, Ct2Model, Ct2Variable};
use super::layout::read_json;
use super::layout::{self, ModelDir};
use super::staging;
use crate::model::config::{GenerationConfig, WhisperConfig};

/// The `config.json` that CTranslate2's converter writes beside `model.bin`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Ct2Config {
    /// (layer, head) pairs for word timestamps.
    #[serde(default)]
    pub alignment_heads: Vec<[usize; 2]>,
    /// Language token ids (meaningless in English-only files).
    #[serde(default)]
    pub lang_ids: Vec<u32>,
    /// Always-suppressed tokens.
    #[serde(default)]
    pub suppress_ids: Vec<u32>,
    /// Tokens suppressed at the first position.
    #[serde(default)]
    pub suppress_ids_begin: Vec<u32>,
}

/// What an import produced.
#[derive(Debug, Clone)]
pub struct ImportSummary {
    /// The Hugging Face layout dir that was written.
    pub dir: PathBuf,
    /// Architecture read from the weights.
    pub config: WhisperConfig,
    /// Number of tensors written.
    pub tensors: usize,
    /// Storage dtype of the source weights ("float16", "float32", "int8 (dequantized)", ...).
    pub source_dtype: String,
}

/// One tensor to write: shape, dtype and bytes (borrowed from the mapped model.bin when no
/// conversion is needed).
struct OutTensor<'a> {
    dtype: Dtype,
    shape: Vec<usize>,
    data: Cow<'a, [u8]>,
}

impl View for &OutTensor<'_> {
    fn dtype(&self) -> Dtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.data)
    }
    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Imports the CTranslate2 dir `src` into a Hugging Face layout dir at `dest`, atomically: the
/// files are written into a temporary sibling dir, verified to load, then renamed into place. An
/// existing `dest` is replaced only after the new one verified.
pub fn import_ct2(src: &Path, dest: &Path) -> Result<ImportSummary, ModelError> {
    let files = layout::ct2_files(src)?;
    let model = Ct2Model::open(&files.model_bin)?;
    let ct2_config: Ct2Config = read_json(&files.config)?;
    let tokenizer = tokenizers::Tokenizer::from_file(&files.tokenizer).map_err(|e| {
        ModelError::invalid(&files.tokenizer, format!("cannot load tokenizer: {e}"))
    })?;

    let config = whisper_config(&model, &ct2_config, &tokenizer, &files.tokenizer)?;
    super::ct2_usage::check(&model, &config)?;
    let generation = generation_config(&config, &ct2_config, &tokenizer, &files.config)?;
    let (tensors, source_dtype) = hf_tensors(&model, &config)?;

    let staging = staging::stage_beside(dest, ".import-")?;
    let stage = staging.path();

    let mut metadata = HashMap::new();
    metadata.insert("format".to_string(), "pt".to_string());
    metadata.insert("source".to_string(), "ctranslate2".to_string());
    let weights = stage.join(layout::WEIGHTS);
    safetensors::serialize_to_file(
        tensors.iter().map(|(name, t)| (name.as_str(), t)),
        Some(metadata),
        &weights,
    )
    .map_err(|e| ModelError::invalid(&weights, format!("cannot write safetensors: {e}")))?;
    write_json(&stage.join(layout::CONFIG), &config)?;
    write_json(&stage.join(layout::GENERATION_CONFIG), &generation)?;
    let tok_dest = stage.join(layout::TOKENIZER);
    std::fs::copy(&files.tokenizer, &tok_dest).map_err(|e| ModelError::io(&tok_dest, e))?;

    // The result must load before it may replace anything.
    ModelDir::open(stage)?.verify()?;

    staging::commit(staging, dest)?;

    Ok(ImportSummary {
        dir: dest.to_path_buf(),
        config,
        tensors: tensors.len(),
        source_dtype,
    })
}

/// Writes pretty JSON (a small file; the staging dir makes it atomic).
fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), ModelError> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| ModelError::invalid(path, e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| ModelError::io(path, e))
}

/// Looks a special token up by name; its absence is an error naming the tokenizer file.
pub(crate) fn special_token(
    tokenizer: &tokenizers::Tokenizer,
    names: &[&str],
    path: &Path,
) -> Result<u32, ModelError> {
    names
        .iter()
        .find_map(|n| tokenizer.token_to_id(n))
        .ok_or_else(|| {
            ModelError::invalid(path, format!("no special token {}", names.join(" or ")))
        })
}

/// The architecture, read from the weights themselves (shapes, head counts, layer scopes).
fn whisper_config(
    model: &Ct2Model,
    ct2: &Ct2Config,
    tokenizer: &tokenizers::Tokenizer,
    tokenizer_path: &Path,
) -> Result<WhisperConfig, ModelError> {
    let shape =
        |name: &str| -> Result<Vec<usize>, ModelError> { Ok(model.require(name)?.shape.clone()) };
    let conv1 = shape("encoder/conv1/weight")?;
    let embeddings = shape("decoder/embeddings/weight")?;
    let enc_pos = shape("encoder/position_encodings/encodings")?;
    let dec_pos = shape("decoder/position_encodings/encodings")?;
    if conv1.len() != 3 || embeddings.len() != 2 || enc_pos.len() != 2 || dec_pos.len() != 2 {
        return Err(ModelError::ct2(
            model.path(),
            "conv1, embeddings or position encodings have the wrong rank",
        ));
    }
    let d_model = conv1[0];
    let encoder_layers = model.layer_count("encoder");
    let decoder_layers = model.layer_count("decoder");
    if encoder_layers == 0 || decoder_layers == 0 {
        return Err(ModelError::ct2(
            model.path(),
            "no encoder or decoder layers",
        ));
    }
    let heads = |name: &str| -> Result<usize, ModelError> {
        let h = model.scalar_int(name)?;
        if h <= 0 || !d_model.is_multiple_of(h as usize) {
            return Err(ModelError::ct2(
                model.path(),
                format!("{name} = {h} does not divide d_model {d_model}"),
            ));
        }
        Ok(h as usize)
    };
    let eot = special_token(tokenizer, &["<|endoftext|>"], tokenizer_path)?;
    let sot = special_token(tokenizer, &["<|startoftranscript|>"], tokenizer_path)?;
    Ok(WhisperConfig {
        model_type: "whisper".into(),
        vocab_size: embeddings[0],
        num_mel_bins: conv1[1],
        d_model,
        encoder_layers,
        encoder_attention_heads: heads("encoder/num_heads")?,
        decoder_layers,
        decoder_attention_heads: heads("decoder/num_heads")?,
        encoder_ffn_dim: shape("encoder/layer_0/ffn/linear_0/weight")?[0],
        decoder_ffn_dim: shape("decoder/layer_0/ffn/linear_0/weight")?[0],
        max_source_positions: enc_pos[0],
        max_target_positions: dec_pos[0],
        activation_function: "gelu".into(),
        scale_embedding: false,
        tie_word_embeddings: true,
        eos_token_id: eot,
        bos_token_id: Some(eot),
        pad_token_id: Some(eot),
        decoder_start_token_id: sot,
        begin_suppress_tokens: Some(ct2.suppress_ids_begin.clone()),
        suppress_tokens: Some(ct2.suppress_ids.clone()),
        torch_dtype: Some(torch_dtype(model.require("decoder/embeddings/weight")?.dtype).into()),
        extra: BTreeMap::from([(
            "architectures".to_string(),
            serde_json::json!(["WhisperForConditionalGeneration"]),
        )]),
    })
}

fn torch_dtype(dtype: Ct2Dtype) -> &'static str {
    match dtype {
        Ct2Dtype::F16 => "float16",
        Ct2Dtype::BF16 => "bfloat16",
        _ => "float32",
    }
}

/// Decoding settings: suppress lists, alignment heads, special tokens, and for multilingual
/// models the language and task tokens (found by name in the tokenizer, cross-checked with the
/// converter's `lang_ids`).
fn generation_config(
    config: &WhisperConfig,
    ct2: &Ct2Config,
    tokenizer: &tokenizers::Tokenizer,
    ct2_config_path: &Path,
) -> Result<GenerationConfig, ModelError> {
    let tok = |names: &[&str]| special_token(tokenizer, names, ct2_config_path);
    let multilingual = config.is_multilingual();
    let mut lang_to_id = BTreeMap::new();
    let mut task_to_id = BTreeMap::new();
    if multilingual {
        for &id in &ct2.lang_ids {
            let token = tokenizer.id_to_token(id).filter(|t| {
                t.starts_with("<|")
                    && t.ends_with("|>")
                    && t.len() <= 9
                    && t[2..t.len() - 2].chars().all(|c| c.is_ascii_lowercase())
            });
            match token {
                Some(t) => {
                    lang_to_id.insert(t, id);
                }
                None => {
                    return Err(ModelError::invalid(
                        ct2_config_path,
                        format!("lang_ids lists {id}, which is not a language token"),
                    ));
                }
            }
        }
        task_to_id.insert("transcribe".into(), tok(&["<|transcribe|>"])?);
        task_to_id.insert("translate".into(), tok(&["<|translate|>"])?);
    }
    let max_heads = config.decoder_attention_heads;
    for &[layer, head] in &ct2.alignment_heads {
        if layer >= config.decoder_layers || head >= max_heads {
            return Err(ModelError::invalid(
                ct2_config_path,
                format!("alignment head ({layer}, {head}) is outside the decoder"),
            ));
        }
    }
    Ok(GenerationConfig {
        alignment_heads: ct2.alignment_heads.clone(),
        begin_suppress_tokens: ct2.suppress_ids_begin.clone(),
        suppress_tokens: ct2.suppress_ids.clone(),
        is_multilingual: multilingual,
        lang_to_id,
        task_to_id,
        no_timestamps_token_id: Some(tok(&["<|notimestamps|>"])?),
        prev_sot_token_id: Some(tok(&["<|startofprev|>"])?),
        decoder_start_token_id: Some(config.decoder_start_token_id),
        eos_token_id: Some(config.eos_token_id),
        max_length: Some(config.max_target_positions),
        max_initial_timestamp_index: Some(50),
        extra: BTreeMap::new(),
    })
}

/// How one Hugging Face tensor is cut from a CTranslate2 variable: the whole variable, or part
/// `index` of `parts` equal row blocks of a fused one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSource {
    /// The CTranslate2 variable.
    pub ct2_name: String,
    /// Which row block (0-based) of how many.
    pub part: Option<(usize, usize)>,
}

/// The complete name mapping for a model of this shape: Hugging Face name -> source.
/// Kept public so tests can check an import against `model.bin` tensor by tensor.
pub fn name_map(config: &WhisperConfig) -> Vec<(String, TensorSource)> {
    let whole = |c: &str| TensorSource {
        ct2_name: c.to_string(),
        part: None,
    };
    let part = |c: &str, i: usize, n: usize| TensorSource {
        ct2_name: c.to_string(),
        part: Some((i, n)),
    };
    let mut map: Vec<(String, TensorSource)> = Vec::new();
    let mut put = |hf: String, src: TensorSource| map.push((hf, src));

    for stack in ["encoder", "decoder"] {
        put(
            format!("model.{stack}.layer_norm.weight"),
            whole(&format!("{stack}/layer_norm/gamma")),
        );
        put(
            format!("model.{stack}.layer_norm.bias"),
            whole(&format!("{stack}/layer_norm/beta")),
        );
        put(
            format!("model.{stack}.embed_positions.weight"),
            whole(&format!("{stack}/position_encodings/encodings")),
        );
    }
    for conv in ["conv1", "conv2"] {
        for p in ["weight", "bias"] {
            put(
                format!("model.encoder.{conv}.{p}"),
                whole(&format!("encoder/{conv}/{p}")),
            );
        }
    }
    put(
        "model.decoder.embed_tokens.weight".into(),
        whole("decoder/embeddings/weight"),
    );

    let layers = [
        ("encoder", config.encoder_layers),
        ("decoder", config.decoder_layers),
    ];
    for (stack, count) in layers {
        for i in 0..count {
            let hf = format!("model.{stack}.layers.{i}");
            let c = format!("{stack}/layer_{i}");
            // Self-attention: fused q;k;v rows.
            let qkv = format!("{c}/self_attention/linear_0");
            for (j, proj) in ["q_proj", "k_proj", "v_proj"].iter().enumerate() {
                put(
                    format!("{hf}.self_attn.{proj}.weight"),
                    part(&format!("{qkv}/weight"), j, 3),
                );
                if *proj != "k_proj" {
                    put(
                        format!("{hf}.self_attn.{proj}.bias"),
                        part(&format!("{qkv}/bias"), j, 3),
                    );
                }
            }
            for p in ["weight", "bias"] {
                put(
                    format!("{hf}.self_attn.out_proj.{p}"),
                    whole(&format!("{c}/self_attention/linear_1/{p}")),
                );
                put(
                    format!("{hf}.fc1.{p}"),
                    whole(&format!("{c}/ffn/linear_0/{p}")),
                );
                put(
                    format!("{hf}.fc2.{p}"),
                    whole(&format!("{c}/ffn/linear_1/{p}")),
                );
            }
            for (ln, hf_ln) in [
                ("self_attention/layer_norm", "self_attn_layer_norm"),
                ("ffn/layer_norm", "final_layer_norm"),
            ] {
                put(
                    format!("{hf}.{hf_ln}.weight"),
                    whole(&format!("{c}/{ln}/gamma")),
                );
                put(
                    format!("{hf}.{hf_ln}.bias"),
                    whole(&format!("{c}/{ln}/beta")),
                );
            }
            if stack == "decoder" {
                // Cross-attention: q alone, fused k;v rows.
                let a = format!("{c}/attention");
                for p in ["weight", "bias"] {
                    put(
                        format!("{hf}.encoder_attn.q_proj.{p}"),
                        whole(&format!("{a}/linear_0/{p}")),
                    );
                    put(
                        format!("{hf}.encoder_attn.out_proj.{p}"),
                        whole(&format!("{a}/linear_2/{p}")),
                    );
                }
                put(
                    format!("{hf}.encoder_attn.k_proj.weight"),
                    part(&format!("{a}/linear_1/weight"), 0, 2),
                );
                put(
                    format!("{hf}.encoder_attn.v_proj.weight"),
                    part(&format!("{a}/linear_1/weight"), 1, 2),
                );
                put(
                    format!("{hf}.encoder_attn.v_proj.bias"),
                    part(&format!("{a}/linear_1/bias"), 1, 2),
                );
                put(
                    format!("{hf}.encoder_attn_layer_norm.weight"),
                    whole(&format!("{a}/layer_norm/gamma")),
                );
                put(
                    format!("{hf}.encoder_attn_layer_norm.bias"),
                    whole(&format!("{a}/layer_norm/beta")),
                );
            }
        }
    }
    map
}

/// The k-bias slices that the mapping drops: (fused bias variable, part index, parts).
fn dropped_k_biases(config: &WhisperConfig) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    for (stack, count) in [
        ("encoder", config.encoder_layers),
        ("decoder", config.decoder_layers),
    ] {
        for i in 0..count {
            out.push((
                format!("{stack}/layer_{i}/self_attention/linear_0/bias"),
                1,
                3,
            ));
            if stack == "decoder" {
                out.push((format!("{stack}/layer_{i}/attention/linear_1/bias"), 0, 2));
            }
        }
    }
    out
}

/// Row block `index` of `parts` of a row-major tensor's bytes.
pub fn row_block<'a>(
    bytes: &'a [u8],
    shape: &[usize],
    index: usize,
    parts: usize,
) -> Option<&'a [u8]> {
    let rows = *shape.first()?;
    if parts == 0 || !rows.is_multiple_of(parts) || !bytes.len().is_multiple_of(rows) {
        return None;
    }
    let block = bytes.len() / parts;
    Some(&bytes[index * block..(index + 1) * block])
}

/// Every Hugging Face tensor of the model, in its stored dtype (dequantized to f32 for int
/// weights), plus a description of the source dtype.
fn hf_tensors<'a>(
    model: &'a Ct2Model,
    config: &WhisperConfig,
) -> Result<(BTreeMap<String, OutTensor<'a>>, String), ModelError> {
    let mut dequantized: HashMap<String, Vec<u8>> = HashMap::new();
    let mut source_dtypes = std::collections::BTreeSet::new();
    let mut out = BTreeMap::new();

    for (hf_name, src) in name_map(config) {
        let var = model.require(&src.ct2_name)?;
        source_dtypes.insert(format!("{:?}", var.dtype));
        let (dtype, full): (Dtype, Cow<'a, [u8]>) = match var.dtype {
            Ct2Dtype::F32 => (Dtype::F32, Cow::Borrowed(model.bytes(var))),
            Ct2Dtype::F16 => (Dtype::F16, Cow::Borrowed(model.bytes(var))),
            Ct2Dtype::BF16 => (Dtype::BF16, Cow::Borrowed(model.bytes(var))),
            Ct2Dtype::I8 | Ct2Dtype::I16 => {
                if !dequantized.contains_key(&src.ct2_name) {
                    let values = dequantize(model, &src.ct2_name, var)?;
                    dequantized.insert(src.ct2_name.clone(), values);
                }
                (Dtype::F32, Cow::Owned(dequantized[&src.ct2_name].clone()))
            }
            Ct2Dtype::I32 => {
                return Err(ModelError::ct2(
                    model.path(),
                    format!("'{}' is int32, which a weight never is", src.ct2_name),
                ));
            }
        };
        let (shape, data) = match src.part {
            None => (var.shape.clone(), full),
            Some((index, parts)) => {
                let mut shape = var.shape.clone();
                let bad = || {
                    ModelError::ct2(
                        model.path(),
                        format!(
                            "'{}' of shape {:?} cannot be split into {parts} row blocks",
                            src.ct2_name, var.shape
                        ),
                    )
                };
                shape[0] /= parts;
                let data = match full {
                    Cow::Borrowed(b) => {
                        Cow::Borrowed(row_block(b, &var.shape, index, parts).ok_or_else(bad)?)
                    }
                    Cow::Owned(v) => Cow::Owned(
                        row_block(&v, &var.shape, index, parts)
                            .ok_or_else(bad)?
                            .to_vec(),
                    ),
                };
                (shape, data)
            }
        };
        out.insert(hf_name, OutTensor { dtype, shape, data });
    }

    for (bias, index, parts) in dropped_k_biases(config) {
        let var = model.require(&bias)?;
        let bytes = model.bytes(var);
        let nonzero = row_block(bytes, &var.shape, index, parts)
            .is_some_and(|block| !all_zero(block, var.dtype));
        if nonzero {
            tracing::warn!(
                "{}: '{bias}' has a non-zero k bias; Whisper has none and it is dropped \
                 (softmax ignores a constant per query)",
                model.path().display()
            );
        }
    }

    // Shapes must be what the architecture says, or the import is wrong.
    for (name, shape) in config.expected_tensors() {
        match out.get(&name) {
            Some(t) if t.shape == shape => {}
            Some(t) => {
                return Err(ModelError::ct2(
                    model.path(),
                    format!("{name} would have shape {:?}, expected {shape:?}", t.shape),
                ));
            }
            None => {
                return Err(ModelError::ct2(
                    model.path(),
                    format!("{name} is not produced"),
                ));
            }
        }
    }
    let source = source_dtypes.into_iter().collect::<Vec<_>>().join("+");
    Ok((out, source))
}

/// int8 or int16 weight -> little-endian f32 bytes, `w = q / scale`. int8 weights carry a scale
/// per output row (`weight_scale` of shape [rows]); int16 a single scalar scale.
fn dequantize(model: &Ct2Model, name: &str, var: &Ct2Variable) -> Result<Vec<u8>, ModelError> {
    let scale_name = format!("{name}_scale");
    let scale_var = model.require(&scale_name)?;
    if scale_var.dtype != Ct2Dtype::F32 {
        return Err(ModelError::ct2(
            model.path(),
            format!("'{scale_name}' is {:?}, expected f32", scale_var.dtype),
        ));
    }
    let scales: Vec<f32> = model
        .bytes(scale_var)
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    let rows = var.shape.first().copied().unwrap_or(1).max(1);
    let per_row = var.elements() / rows;
    let scale_for = |i: usize| -> f32 {
        if scales.len() == 1 {
            scales[0]
        } else {
            scales[i / per_row]
        }
    };
    if scales.len() != 1 && scales.len() != rows {
        return Err(ModelError::ct2(
            model.path(),
            format!(
                "'{scale_name}' has {} scales for {rows} rows of '{name}'",
                scales.len()
            ),
        ));
    }
    let bytes = model.bytes(var);
    let mut out = Vec::with_capacity(var.elements() * 4);
    match var.dtype {
        Ct2Dtype::I8 => {
            for (i, &q) in bytes.iter().enumerate() {
                out.extend_from_slice(&((q as i8 as f32) / scale_for(i)).to_le_bytes());
            }
        }
        _ => {
            for (i, c) in bytes.chunks_exact(2).enumerate() {
                let q = i16::from_le_bytes([c[0], c[1]]) as f32;
                out.extend_from_slice(&(q / scale_for(i)).to_le_bytes());
            }
        }
    }
    Ok(out)
}

/// Whether every element is zero (either sign); integer data counts bytes.
fn all_zero(bytes: &[u8], dtype: Ct2Dtype) -> bool {
    match dtype {
        Ct2Dtype::F32 => bytes
            .chunks_exact(4)
            .all(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]) == 0.0),
        // Half floats: only the sign bit may be set.
        Ct2Dtype::F16 | Ct2Dtype::BF16 => bytes
            .chunks_exact(2)
            .all(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7fff == 0),
        _ => bytes.iter().all(|&b| b == 0),
    }
}
