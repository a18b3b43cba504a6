//! What every command that transcribes does first: size the thread pools, read the language
//! flag, and load the model with its speculative draft.

use crate::decoding::draft::{Draft, DraftSpec};
use crate::decoding::speculative::SpecConfig;
use crate::model::linear::QuantKind;
use crate::store::{Store, WeightStorage};
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
/// draft `draft` (see `--draft`) proposing `draft_tokens` tokens in its first round, or with
/// its decoder quantized to `quantize` and no draft.
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
        // Speculative decoding is exact against the f32 decoder that verifies; a quantized
        // decoder's verify pass over several tokens can differ from its one-token steps.
        anyhow::ensure!(
            matches!(draft_spec, DraftSpec::Auto | DraftSpec::None),
            "--quantize decodes without a draft (speculative decoding verifies with the f32 \
             decoder): leave out --draft {draft}"
        );
        return Ok(Transcriber::load_quantized(
            &resolved.model,
            model,
            &device,
            kind,
        )?);
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
    let base = SpecConfig::for_target(transcriber.model().config.decoder_layers);
    let spec = SpecConfig {
        gamma: draft_tokens,
        max_gamma: base.max_gamma.max(draft_tokens),
        ..base
    };
    Ok(transcriber.with_draft(draft, spec))
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
