//! The model flags `transcribe` and `batch` share: which model, which speculative draft, and
//! how many tokens the draft proposes.

use clap::Args;

use crate::decoding::speculative::SpecConfig;

/// The model used when `-m` is not given: large-v3 where a GPU is built in, base on CPU.
#[cfg(feature = "cuda")]
pub const DEFAULT_MODEL: &str = "large-v3";
/// The model used when `-m` is not given: large-v3 where a GPU is built in, base on CPU.
#[cfg(not(feature = "cuda"))]
pub const DEFAULT_MODEL: &str = "base";

/// Which model decodes, and with which draft.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model: catalog name (tiny.en, base, large-v3, ...), hub repo id, or model dir path.
    /// Fetched on first use.
    #[arg(short, long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// Speculative draft: auto (the catalog's pairing: a distil model, else self-int8 on CPUs
    /// with AVX-512 VNNI, else self-q8), none, self-int8, self-q8, self-q4, self-layers:N, or a
    /// model name/path with the same vocabulary. Output is the target's own either way.
    #[arg(long, default_value = "auto")]
    pub draft: String,
    /// Tokens the draft proposes in the first round of each window (then adapted).
    #[arg(long, default_value_t = SpecConfig::default().gamma)]
    pub draft_tokens: usize,
}

impl ModelArgs {
    /// Loads the model with its draft.
    pub fn load(&self) -> anyhow::Result<crate::transcribe::Transcriber> {
        super::setup::load_transcriber(&self.model, &self.draft, self.draft_tokens)
    }
}
