//! The model flags `transcribe` and `batch` share: which model, which speculative draft, and
//! how many tokens the draft proposes.

use clap::Args;

use crate::decoding::speculative::SpecConfig;
use crate::model::linear::QuantKind;
use crate::store::WeightStorage;

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
    #[arg(long, default_value_t = SpecConfig::default().gamma, value_parser = super::ranges::draft_tokens)]
    pub draft_tokens: usize,
    /// Quantize the model: decoder weights in q8_0 (8-bit) or q4k (4-bit k-quants), and on
    /// the CPU the encoder's projections in 8-bit integers (its attention in bf16 where the
    /// CPU has AVX-512 BF16). Faster and smaller; the text can
    /// differ slightly from the f32 model's. A draft model (a distil model, the default where
    /// the catalog pairs one, or another Whisper) gives the quantized model's own text; the
    /// self-drafts need the f32 decoder and are refused.
    #[arg(long, value_enum)]
    pub quantize: Option<Quantize>,
    /// How the weights are kept in memory: `published` (f16 and bf16 matrices stay half
    /// precision and are widened exactly as the kernels read them) or `f32` (widened at load:
    /// the same text, twice the memory of an f16 model).
    #[arg(long, value_enum, default_value = "published")]
    pub weights: WeightStorage,
}

/// `--quantize` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Quantize {
    /// GGML Q8_0: 8-bit weights in blocks of 32.
    #[value(name = "q8_0")]
    Q8_0,
    /// GGML Q4K: 4-bit k-quants.
    #[value(name = "q4k")]
    Q4k,
}

impl Quantize {
    /// The weight type.
    pub fn kind(self) -> QuantKind {
        match self {
            Quantize::Q8_0 => QuantKind::Q8_0,
            Quantize::Q4k => QuantKind::Q4,
        }
    }
}

impl ModelArgs {
    /// Loads the model (quantized or not) with its draft.
    pub fn load(&self) -> anyhow::Result<crate::transcribe::Transcriber> {
        super::setup::load_transcriber(
            &self.model,
            &self.draft,
            self.draft_tokens,
            self.quantize.map(Quantize::kind),
            self.weights,
        )
    }

    /// What of these flags changes the text (for a batch's record): the model and its
    /// quantization; not the draft, whose output is the model's own.
    pub fn describe(&self) -> String {
        match self.quantize {
            Some(q) => format!("{} {q:?}", self.model),
            None => self.model.clone(),
        }
    }
}
