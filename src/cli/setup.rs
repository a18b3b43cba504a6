//! What every command that transcribes does first: size the thread pools, read the language
//! flag, and load the model with its speculative draft.

use crate::decoding::draft::{Draft, DraftSpec};
use crate::decoding::speculative::SpecConfig;
use crate::model::linear::QuantKind;
use crate::store::{Store, WeightStorage, catalog};
use crate::text::resolve_language;
use crate::transcribe::Transcriber;

/// Sizes candle's and rayon's pools to `threads` (default: all cores). Must run before any
/// model code, while this is the only thread.
pub fn set_threads(threads: Option<usize>) -> anyhow::Result<()> {
    if let Some(n) = threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        // SAFETY: called first thing in a command, while this is the only thread; candle
        // and rayon read these when their pools start.
        unsafe {
            std::env::set_var("RAYON_NUM_THREADS", n.to_string());
            std::env::set_var("CANDLE_NUM_THREADS", n.to_string());
        }
    }
    Ok(())
}

/// `--language`: `auto` (or empty) detects; a code or a name (`German`) is resolved to a code.
pub fn language(flag: &str) -> Option<String> {
    match flag.trim() {
        "auto" | "" => None,
        given => Some(
            resolve_language(given)
                .map(str::to_string)
                .unwrap_or_else(|| given.to_string()),
        ),
    }
}

/// Loads `model` (catalog name, hub id or path), its weights kept as `weights` says, with the
/// draft `draft` (see `--draft`) proposing `draft_tokens` tokens in its first round; with
/// `quantize`, the quantized model, whose draft can only be another model.
pub fn load_transcriber(
    model: &str,
    draft: &str,
    draft_tokens: usize,
    quantize: Option<QuantKind>,
    weights: WeightStorage,
) -> anyhow::Result<Transcriber> {
    anyhow::ensure!(draft_tokens >= 1, "--draft-tokens must be at least 1");
    let draft_spec: DraftSpec = draft
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--draft: {e}"))?;
    let device = device()?;
    let store = Store::from_env();
    let resolved = store.resolve(model)?;
    if let Some(kind) = quantize {
        // The quantized decoder's verify pass is bit for bit its one-token steps (checked in
        // tests/model_quantized_target.rs), so a draft's output is the quantized target's own.
        // The self-drafts are built from the f32 decoder, which a quantized model no longer
        // has; `auto` takes the catalog's distil model where there is one.
        let draft_spec = match draft_spec {
            DraftSpec::Auto => catalog::distil_draft(model)
                .map_or(DraftSpec::None, |name| DraftSpec::Model(name.to_string())),
            DraftSpec::Model(m) => DraftSpec::Model(m),
            DraftSpec::None => DraftSpec::None,
            _ => anyhow::bail!(
                "--quantize takes a distil model or another Whisper as --draft (or none): \
                 --draft {draft} is built from the f32 decoder, which a quantized model does not keep"
            ),
        };
        let transcriber = Transcriber::load_quantized(&resolved.model, model, &device, kind)?;
        let draft = Draft::build(
            &draft_spec,
            transcriber.model(),
            &resolved.model,
            model,
            &store,
            &device,
        )?;
        let spec = spec_config(transcriber.model().config.decoder_layers, draft_tokens);
        return Ok(transcriber.with_draft(draft, spec));
    }
    let transcriber = Transcriber::load_stored(&resolved.model, model, &device, weights)?;
    let draft = Draft::build(
        &draft_spec,
        transcriber.model(),
        &resolved.model,
        model,
        &store,
        &device,
    )?;
    let spec = spec_config(transcriber.model().config.decoder_layers, draft_tokens);
    Ok(transcriber.with_draft(draft, spec))
}

/// The speculative settings for a target of `decoder_layers` layers, first proposing
/// `draft_tokens` tokens.
fn spec_config(decoder_layers: usize, draft_tokens: usize) -> SpecConfig {
    let base = SpecConfig::for_target(decoder_layers);
    SpecConfig {
        gamma: draft_tokens,
        max_gamma: base.max_gamma.max(draft_tokens),
        ..base
    }
}

/// The compute device: the first CUDA GPU when built with `cuda` and one is present, else CPU.
pub fn device() -> anyhow::Result<candle_core::Device> {
    #[cfg(feature = "cuda")]
    {
        Ok(candle_core::Device::cuda_if_available(0)?)
    }
    #[cfg(not(feature = "cuda"))]
    {
        Ok(candle_core::Device::Cpu)
    }
}
