//! Drafts for speculative decoding: what proposes tokens, and which audio features it reads.
//!
//! - **Self-int8** (`self-int8`, the default on CPUs with AVX-512 VNNI or AVX2): the target's own
//!   decoder with 8-bit weights, activations and cross-attention keys/values, run by the fused
//!   [`FusedDraft`] (no candle operations per step); it rounds the target's cross-attention
//!   keys/values of each window to 8 bits.
//! - **Self-quantized** (`self-q8`, `self-q4`): the target's own decoder with 8- or 4-bit
//!   weights (our `Q8_0` kernel, candle's k-quants for 4 bits). It shares the target's encoder output *and* its cross-attention keys/values (same
//!   weights), so a window costs one encoder pass and one cross-attention projection.
//! - **Self-layers** (`self-layers:N`): the target's first N-1 decoder layers plus its last
//!   (distil-whisper's initialisation, untrained): shares the encoder output.
//! - **Shared** (a distil model such as distil-large-v3 for large-v3): its own decoder on the
//!   target's encoder output (same width), decoder weights only; quantized as the target is
//!   when the target is (`--quantize`), since a draft only proposes and the smaller one is
//!   both faster and lighter.
//! - **Separate** (any other Whisper with the same vocabulary): its own encoder and decoder.
//!
//! A pair is refused, naming the mismatch, when vocabularies or special tokens differ, or when a
//! shared draft's width differs from the target encoder's.

use std::str::FromStr;

use candle_core::{DType, Device, Tensor};

use super::draft_session::{DecoderDraft, DraftSession, FusedDraftSession};
use crate::error::Result;
use crate::kernels::int8_matmul::IntKernels;
use crate::model::linear::QuantKind;
use crate::model::{CrossKv, FusedDraft, FusedDraftCrossKv, TextDecoder, Whisper};
use crate::store::{DraftPairing, ModelDir, ModelError, Store, catalog};
use crate::store::{WeightStorage, var_builder};
use crate::text::WhisperTokenizer;

/// What `--draft` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DraftSpec {
    /// No draft: the target decodes alone.
    None,
    /// The catalog's pairing for the target (self-q8 where no distil model exists).
    Auto,
    /// The target's decoder, quantized.
    SelfQuant(QuantKind),
    /// The target's decoder as the fused 8-bit draft.
    SelfInt8,
    /// The target's first N-1 decoder layers plus its last.
    SelfLayers(usize),
    /// Another model: catalog name, hub repo id or path.
    Model(String),
}

impl FromStr for DraftSpec {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Ok(match s.trim() {
            "none" | "off" => DraftSpec::None,
            "auto" => DraftSpec::Auto,
            "self-int8" => DraftSpec::SelfInt8,
            "self-q8" => DraftSpec::SelfQuant(QuantKind::Q8_0),
            "self-q4" => DraftSpec::SelfQuant(QuantKind::Q4),
            "self-q4_0" => DraftSpec::SelfQuant(QuantKind::Q4_0),
            other => match other.strip_prefix("self-layers:") {
                Some(n) => {
                    DraftSpec::SelfLayers(n.parse().ok().filter(|&n| n >= 1).ok_or_else(|| {
                        format!("self-layers:N needs a layer count >= 1, got '{n}'")
                    })?)
                }
                None if other.is_empty() => return Err("empty --draft".into()),
                None => DraftSpec::Model(other.to_string()),
            },
        })
    }
}

/// A draft's cross-attention for one window.
#[derive(Debug, Clone)]
pub enum DraftCross {
    /// For a [`TextDecoder`] draft.
    Dense(CrossKv),
    /// For the fused 8-bit draft.
    Int8(FusedDraftCrossKv),
}

/// The decoder that proposes.
#[derive(Debug, Clone)]
enum Proposer {
    Decoder(Box<TextDecoder>),
    Int8(Box<FusedDraft>),
}

/// Where a draft's cross-attention comes from.
#[derive(Debug, Clone)]
enum Source {
    /// The target's cross-attention keys/values, as they are (same weights).
    TargetCross,
    /// Its own cross-attention over the target's encoder output.
    TargetFeatures,
    /// Its own encoder over the same mel window.
    OwnEncoder(Box<Whisper>),
}

/// A ready draft.
#[derive(Debug, Clone)]
pub struct Draft {
    decoder: Proposer,
    source: Source,
    label: String,
}

impl Draft {
    /// Builds the draft `spec` asks for, for `target` (loaded from `target_dir`, named
    /// `target_name` on the command line). `Ok(None)` for [`DraftSpec::None`].
    pub fn build(
        spec: &DraftSpec,
        target: &Whisper,
        target_dir: &ModelDir,
        target_name: &str,
        store: &Store,
        device: &Device,
    ) -> Result<Option<Draft>> {
        let _span = tracing::info_span!("load_draft").entered();
        let spec = match spec {
            DraftSpec::Auto => match catalog::lookup(target_name).map(|e| e.draft) {
                Some(DraftPairing::Distil(name)) => DraftSpec::Model(name.to_string()),
                Some(DraftPairing::None) => DraftSpec::None,
                _ if device.is_cpu() && IntKernels::detect().is_simd() => DraftSpec::SelfInt8,
                _ => DraftSpec::SelfQuant(QuantKind::Q8_0),
            },
            other => other.clone(),
        };
        let draft = match spec {
            DraftSpec::None | DraftSpec::Auto => return Ok(None),
            DraftSpec::SelfInt8 => {
                if !target.decoder.device().is_cpu() {
                    return Err(ModelError::invalid(
                        target_dir.weights(),
                        "self-int8 runs on the CPU only; use self-q8 on this device",
                    )
                    .into());
                }
                Draft {
                    decoder: Proposer::Int8(Box::new(FusedDraft::from_decoder(&target.decoder)?)),
                    source: Source::TargetCross,
                    label: "self-int8".into(),
                }
            }
            DraftSpec::SelfQuant(kind) => Draft {
                decoder: Proposer::Decoder(Box::new(target.decoder.quantize(kind)?)),
                source: Source::TargetCross,
                label: match kind {
                    QuantKind::Q8_0 => "self-q8".into(),
                    QuantKind::Q4 => "self-q4".into(),
                    QuantKind::Q4_0 => "self-q4_0".into(),
                },
            },
            DraftSpec::SelfLayers(n) => {
                let total = target.config.decoder_layers;
                if n > total {
                    return Err(ModelError::invalid(
                        target_dir.weights(),
                        format!("self-layers:{n} asks for more layers than the target's {total}"),
                    )
                    .into());
                }
                let mut layers: Vec<usize> = (0..n - 1).collect();
                layers.push(total - 1);
                let vb = var_builder(target_dir, DType::F32, device, WeightStorage::Published)?;
                Draft {
                    decoder: Proposer::Decoder(Box::new(TextDecoder::load_layers(
                        vb.pp("model.decoder"),
                        &target.config,
                        &layers,
                    )?)),
                    source: Source::TargetFeatures,
                    label: format!("self-layers:{n}"),
                }
            }
            DraftSpec::Model(name) => Self::other_model(&name, target, target_dir, store, device)?,
        };
        Ok(Some(draft))
    }

    /// A draft from another model: shared (decoder only, on the target's encoder output) for a
    /// distil model of the target's width, separate (own encoder) otherwise.
    fn other_model(
        name: &str,
        target: &Whisper,
        target_dir: &ModelDir,
        store: &Store,
        device: &Device,
    ) -> Result<Draft> {
        let dir = store.resolve(name)?.model;
        check_pair(target_dir, &dir)?;
        let distil =
            dir.config.decoder_layers < dir.config.encoder_layers || name.contains("distil");
        if distil && dir.config.d_model == target.config.d_model {
            let vb = var_builder(&dir, DType::F32, device, WeightStorage::Published)?;
            let quantized = target.decoder.quant_kind().and_then(QuantKind::from_ggml);
            let decoder = match quantized {
                Some(kind) => {
                    TextDecoder::load_quantized(vb.pp("model.decoder"), &dir.config, kind)
                }
                None => TextDecoder::load(vb.pp("model.decoder"), &dir.config),
            }
            .map_err(|e| {
                ModelError::invalid(dir.weights(), format!("cannot load draft decoder: {e}"))
            })?;
            let precision = match quantized {
                Some(kind) => format!(", {}", kind.label()),
                None => String::new(),
            };
            return Ok(Draft {
                decoder: Proposer::Decoder(Box::new(decoder)),
                source: Source::TargetFeatures,
                label: format!("{name} (shared encoder{precision})"),
            });
        }
        if dir.config.num_mel_bins != target.config.num_mel_bins {
            return Err(ModelError::invalid(
                dir.dir.join("config.json"),
                format!(
                    "draft '{name}' reads {} mel bins, the target {}: a separate draft must read the same spectrogram",
                    dir.config.num_mel_bins, target.config.num_mel_bins
                ),
            )
            .into());
        }
        let model = Whisper::load(&dir, device)?;
        Ok(Draft {
            decoder: Proposer::Decoder(Box::new(model.decoder.clone())),
            source: Source::OwnEncoder(Box::new(model)),
            label: format!("{name} (own encoder)"),
        })
    }

    /// The draft's decoder, for drafts that are a [`TextDecoder`] (all but `self-int8`).
    pub fn decoder(&self) -> Option<&TextDecoder> {
        match &self.decoder {
            Proposer::Decoder(d) => Some(d),
            Proposer::Int8(_) => None,
        }
    }

    /// How the draft is named in stats (`self-q8`, `distil-large-v3 (shared encoder)`, ...).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The draft's cross-attention for a window the target encoded as `features` (and whose
    /// keys/values are `target_cross`), from the mel `window` (`[n_mels, 3000]` row-major).
    pub fn cross_for_window(
        &self,
        target_cross: &CrossKv,
        features: &Tensor,
        window: &[f32],
    ) -> Result<DraftCross> {
        let decoder = match &self.decoder {
            Proposer::Int8(d) => return Ok(DraftCross::Int8(d.cross(target_cross)?)),
            Proposer::Decoder(d) => d,
        };
        Ok(DraftCross::Dense(match &self.source {
            Source::TargetCross => target_cross.clone(),
            Source::TargetFeatures => decoder.cross_kv(features)?,
            Source::OwnEncoder(model) => {
                let own = model.encode(window, window.len() / model.config.num_mel_bins)?;
                decoder.cross_kv(&own)?
            }
        }))
    }

    /// The draft over one window (cross-attention from [`cross_for_window`](Self::cross_for_window)),
    /// with an empty cache, for [`decode_speculative`](super::speculative::decode_speculative).
    pub fn session<'a>(&'a self, cross: &'a DraftCross) -> Result<Box<dyn DraftSession + 'a>> {
        Ok(match (&self.decoder, cross) {
            (Proposer::Decoder(d), DraftCross::Dense(c)) => Box::new(DecoderDraft::new(d, c)),
            (Proposer::Int8(d), DraftCross::Int8(c)) => Box::new(FusedDraftSession::new(d, c)),
            _ => {
                return Err(crate::error::Error::Model(ModelError::invalid(
                    self.label.clone(),
                    "cross-attention made for another kind of draft",
                )));
            }
        })
    }
}

/// Refuses a target/draft pair whose vocabularies or special tokens differ.
fn check_pair(target: &ModelDir, draft: &ModelDir) -> Result<()> {
    let mismatch = |what: String| -> crate::error::Error {
        ModelError::invalid(
            draft.dir.clone(),
            format!("cannot draft for {}: {what}", target.dir.display()),
        )
        .into()
    };
    if target.config.vocab_size != draft.config.vocab_size {
        return Err(mismatch(format!(
            "vocabulary size {} vs the target's {}",
            draft.config.vocab_size, target.config.vocab_size
        )));
    }
    let t = *WhisperTokenizer::from_model(target)?.specials();
    let d = *WhisperTokenizer::from_model(draft)?.specials();
    if t != d {
        return Err(mismatch(format!(
            "special tokens differ (draft {d:?}, target {t:?})"
        )));
    }
    Ok(())
}
