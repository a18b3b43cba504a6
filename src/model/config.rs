//! Model configuration in Hugging Face's layout: `config.json` ([`WhisperConfig`]) and
//! `generation_config.json` ([`GenerationConfig`]). Field names are transformers' so that a model
//! downloaded from the hub and one imported from CTranslate2 read the same way; each field notes
//! openai/whisper's name for it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Architecture of a Whisper model (`config.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhisperConfig {
    /// Always "whisper".
    #[serde(default = "whisper_type")]
    pub model_type: String,
    /// Vocabulary size (openai: n_vocab). 51864 English-only, 51865 multilingual, 51866 large-v3.
    pub vocab_size: usize,
    /// Mel bins of the input (openai: n_mels): 80, or 128 for large-v3.
    pub num_mel_bins: usize,
    /// Width of every layer (openai: n_audio_state = n_text_state).
    pub d_model: usize,
    /// Encoder blocks (openai: n_audio_layer).
    pub encoder_layers: usize,
    /// Encoder heads (openai: n_audio_head).
    pub encoder_attention_heads: usize,
    /// Decoder blocks (openai: n_text_layer); distil models have few.
    pub decoder_layers: usize,
    /// Decoder heads (openai: n_text_head).
    pub decoder_attention_heads: usize,
    /// Encoder MLP width (4 * d_model).
    pub encoder_ffn_dim: usize,
    /// Decoder MLP width (4 * d_model).
    pub decoder_ffn_dim: usize,
    /// Encoder positions (openai: n_audio_ctx), 1500 = 30 s.
    #[serde(default = "default_source_positions")]
    pub max_source_positions: usize,
    /// Decoder positions (openai: n_text_ctx), 448.
    #[serde(default = "default_target_positions")]
    pub max_target_positions: usize,
    /// Activation of the MLPs; Whisper uses the erf form of GELU.
    #[serde(default = "default_activation")]
    pub activation_function: String,
    /// Whisper does not scale token embeddings.
    #[serde(default)]
    pub scale_embedding: bool,
    /// The output projection is the token embedding (openai: logits = x @ token_embedding.T).
    #[serde(default = "default_true")]
    pub tie_word_embeddings: bool,
    /// `<|endoftext|>`.
    pub eos_token_id: u32,
    /// `<|endoftext|>` as well in Whisper.
    #[serde(default)]
    pub bos_token_id: Option<u32>,
    /// `<|endoftext|>` as well in Whisper.
    #[serde(default)]
    pub pad_token_id: Option<u32>,
    /// `<|startoftranscript|>`.
    pub decoder_start_token_id: u32,
    /// Tokens suppressed at the first sampled position (openai: SuppressBlank).
    #[serde(default)]
    pub begin_suppress_tokens: Option<Vec<u32>>,
    /// Tokens always suppressed (openai: the "-1" suppress_tokens set).
    #[serde(default)]
    pub suppress_tokens: Option<Vec<u32>>,
    /// Storage dtype of the weights ("float16", "float32"), informative.
    #[serde(default)]
    pub torch_dtype: Option<String>,
    /// Everything else transformers writes; kept so a round trip loses nothing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

fn whisper_type() -> String {
    "whisper".into()
}
fn default_source_positions() -> usize {
    1500
}
fn default_target_positions() -> usize {
    448
}
fn default_activation() -> String {
    "gelu".into()
}
fn default_true() -> bool {
    true
}

impl WhisperConfig {
    /// openai/whisper's rule: a model is multilingual when its vocabulary has the language
    /// tokens (n_vocab >= 51865).
    pub fn is_multilingual(&self) -> bool {
        self.vocab_size >= 51865
    }

    /// Every tensor a complete model of this shape has, with its shape, in Hugging Face names.
    /// The output projection is tied to `model.decoder.embed_tokens.weight` and not listed.
    pub fn expected_tensors(&self) -> Vec<(String, Vec<usize>)> {
        let d = self.d_model;
        let mut out = vec![
            (
                "model.encoder.conv1.weight".into(),
                vec![d, self.num_mel_bins, 3],
            ),
            ("model.encoder.conv1.bias".into(), vec![d]),
            ("model.encoder.conv2.weight".into(), vec![d, d, 3]),
            ("model.encoder.conv2.bias".into(), vec![d]),
            (
                "model.encoder.embed_positions.weight".into(),
                vec![self.max_source_positions, d],
            ),
            ("model.encoder.layer_norm.weight".into(), vec![d]),
            ("model.encoder.layer_norm.bias".into(), vec![d]),
            (
                "model.decoder.embed_tokens.weight".into(),
                vec![self.vocab_size, d],
            ),
            (
                "model.decoder.embed_positions.weight".into(),
                vec![self.max_target_positions, d],
            ),
            ("model.decoder.layer_norm.weight".into(), vec![d]),
            ("model.decoder.layer_norm.bias".into(), vec![d]),
        ];
        for i in 0..self.encoder_layers {
            let p = format!("model.encoder.layers.{i}");
            push_attention(&mut out, &format!("{p}.self_attn"), d);
            push_block_rest(
                &mut out,
                &p,
                "self_attn_layer_norm",
                d,
                self.encoder_ffn_dim,
            );
        }
        for i in 0..self.decoder_layers {
            let p = format!("model.decoder.layers.{i}");
            push_attention(&mut out, &format!("{p}.self_attn"), d);
            push_attention(&mut out, &format!("{p}.encoder_attn"), d);
            out.push((format!("{p}.encoder_attn_layer_norm.weight"), vec![d]));
            out.push((format!("{p}.encoder_attn_layer_norm.bias"), vec![d]));
            push_block_rest(
                &mut out,
                &p,
                "self_attn_layer_norm",
                d,
                self.decoder_ffn_dim,
            );
        }
        out
    }
}

/// q, k, v, out projections of one attention (k has no bias in Whisper).
fn push_attention(out: &mut Vec<(String, Vec<usize>)>, p: &str, d: usize) {
    for proj in ["q_proj", "k_proj", "v_proj", "out_proj"] {
        out.push((format!("{p}.{proj}.weight"), vec![d, d]));
        if proj != "k_proj" {
            out.push((format!("{p}.{proj}.bias"), vec![d]));
        }
    }
}

/// The self-attention layer norm, the MLP and its layer norm of one block.
fn push_block_rest(out: &mut Vec<(String, Vec<usize>)>, p: &str, ln: &str, d: usize, ffn: usize) {
    out.push((format!("{p}.{ln}.weight"), vec![d]));
    out.push((format!("{p}.{ln}.bias"), vec![d]));
    out.push((format!("{p}.fc1.weight"), vec![ffn, d]));
    out.push((format!("{p}.fc1.bias"), vec![ffn]));
    out.push((format!("{p}.fc2.weight"), vec![d, ffn]));
    out.push((format!("{p}.fc2.bias"), vec![d]));
    out.push((format!("{p}.final_layer_norm.weight"), vec![d]));
    out.push((format!("{p}.final_layer_norm.bias"), vec![d]));
}

/// Decoding settings that ship with a model (`generation_config.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// (layer, head) pairs whose cross-attention follows the audio; used for word timestamps.
    #[serde(default)]
    pub alignment_heads: Vec<[usize; 2]>,
    /// Tokens suppressed at the first sampled position.
    #[serde(default)]
    pub begin_suppress_tokens: Vec<u32>,
    /// Tokens always suppressed.
    #[serde(default)]
    pub suppress_tokens: Vec<u32>,
    /// Whether the model has language and task tokens.
    #[serde(default)]
    pub is_multilingual: bool,
    /// Language token ("<|en|>") -> id, for multilingual models.
    #[serde(default)]
    pub lang_to_id: BTreeMap<String, u32>,
    /// Task ("transcribe", "translate") -> token id, for multilingual models.
    #[serde(default)]
    pub task_to_id: BTreeMap<String, u32>,
    /// `<|notimestamps|>`.
    #[serde(default)]
    pub no_timestamps_token_id: Option<u32>,
    /// `<|startofprev|>`.
    #[serde(default)]
    pub prev_sot_token_id: Option<u32>,
    /// `<|startoftranscript|>`.
    #[serde(default)]
    pub decoder_start_token_id: Option<u32>,
    /// `<|endoftext|>`.
    #[serde(default)]
    pub eos_token_id: Option<u32>,
    /// Maximum decoder length (448).
    #[serde(default)]
    pub max_length: Option<usize>,
    /// Latest timestamp index allowed first (openai: max_initial_timestamp 1.0 s = 50).
    #[serde(default)]
    pub max_initial_timestamp_index: Option<usize>,
    /// Everything else; kept so a round trip loses nothing.
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}
