//! The two on-disk model layouts we accept, and the check that a Hugging Face layout dir really
//! loads.
//!
//! - Hugging Face: `config.json` + `model.safetensors` + `tokenizer.json` [+ `generation_config.json`].
//! - CTranslate2 (faster-whisper): `model.bin` + `config.json` + `tokenizer.json` [+ `vocabulary.*`].

use std::path::{Path, PathBuf};

use super::ModelError;
use crate::model::{GenerationConfig, WhisperConfig};

/// Weights file of the Hugging Face layout.
pub const WEIGHTS: &str = "model.safetensors";
/// Architecture file of the Hugging Face layout.
pub const CONFIG: &str = "config.json";
/// Decoding settings of the Hugging Face layout (optional).
pub const GENERATION_CONFIG: &str = "generation_config.json";
/// Tokenizer of both layouts.
pub const TOKENIZER: &str = "tokenizer.json";
/// Weights file of the CTranslate2 layout.
pub const CT2_WEIGHTS: &str = "model.bin";

/// Which layout a directory has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Hugging Face transformers layout.
    HuggingFace,
    /// CTranslate2 layout (import it first).
    Ct2,
}

/// Tells the layout of `dir` from the weights file it holds, or fails naming what is missing.
/// A directory with weights but without `tokenizer.json` or `config.json` is reported as such,
/// not as "unknown layout", because that is the mistake a user can fix.
pub fn detect(dir: &Path) -> Result<Layout, ModelError> {
    if !dir.is_dir() {
        return Err(ModelError::io(
            dir,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such model directory"),
        ));
    }
    if dir.join(WEIGHTS).is_file() {
        ModelDir::open(dir)?;
        Ok(Layout::HuggingFace)
    } else if dir.join(CT2_WEIGHTS).is_file() {
        ct2_files(dir)?;
        Ok(Layout::Ct2)
    } else {
        Err(ModelError::UnknownLayout {
            path: dir.to_path_buf(),
        })
    }
}

/// The files of a CTranslate2 model dir.
#[derive(Debug, Clone)]
pub struct Ct2Files {
    /// `model.bin`.
    pub model_bin: PathBuf,
    /// The converter's `config.json` (suppress lists, alignment heads, language ids).
    pub config: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
}

/// Checks that a CTranslate2 dir has its three files.
pub fn ct2_files(dir: &Path) -> Result<Ct2Files, ModelError> {
    Ok(Ct2Files {
        model_bin: require(dir, CT2_WEIGHTS, "the CTranslate2 weights")?,
        config: require(dir, CONFIG, "suppress tokens and alignment heads")?,
        tokenizer: require(dir, TOKENIZER, "the vocabulary and special tokens")?,
    })
}

fn require(dir: &Path, file: &str, why: &'static str) -> Result<PathBuf, ModelError> {
    let path = dir.join(file);
    if path.is_file() {
        Ok(path)
    } else {
        Err(ModelError::MissingFile {
            dir: dir.to_path_buf(),
            file: file.to_string(),
            why,
        })
    }
}

/// A Hugging Face layout model dir whose files are present.
#[derive(Debug, Clone)]
pub struct ModelDir {
    /// The directory.
    pub dir: PathBuf,
    /// Parsed `config.json`.
    pub config: WhisperConfig,
    /// Parsed `generation_config.json`, or defaults derived from `config.json` when absent.
    pub generation: GenerationConfig,
}

impl ModelDir {
    /// Opens a Hugging Face layout dir: the files must exist and the JSON must parse.
    pub fn open(dir: &Path) -> Result<Self, ModelError> {
        require(dir, WEIGHTS, "the weights")?;
        require(dir, TOKENIZER, "the vocabulary and special tokens")?;
        let config = read_config(&require(dir, CONFIG, "the architecture")?)?;
        let gen_path = dir.join(GENERATION_CONFIG);
        let generation = if gen_path.is_file() {
            read_json::<GenerationConfig>(&gen_path)?
        } else {
            GenerationConfig {
                begin_suppress_tokens: config.begin_suppress_tokens.clone().unwrap_or_default(),
                suppress_tokens: config.suppress_tokens.clone().unwrap_or_default(),
                is_multilingual: config.is_multilingual(),
                decoder_start_token_id: Some(config.decoder_start_token_id),
                eos_token_id: Some(config.eos_token_id),
                max_length: Some(config.max_target_positions),
                ..GenerationConfig::default()
            }
        };
        Ok(ModelDir {
            dir: dir.to_path_buf(),
            config,
            generation,
        })
    }

    /// Path of the weights.
    pub fn weights(&self) -> PathBuf {
        self.dir.join(WEIGHTS)
    }

    /// Path of the tokenizer.
    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join(TOKENIZER)
    }

    /// Full check that the model loads: the tokenizer parses and knows the special tokens the
    /// config names, and the safetensors file holds every tensor the architecture needs with
    /// the right shape (a truncated download fails here, naming the file).
    pub fn verify(&self) -> Result<(), ModelError> {
        let tok_path = self.tokenizer();
        let tokenizer = tokenizers::Tokenizer::from_file(&tok_path)
            .map_err(|e| ModelError::invalid(&tok_path, format!("cannot load tokenizer: {e}")))?;
        for (what, id) in [
            ("<|endoftext|>", self.config.eos_token_id),
            ("<|startoftranscript|>", self.config.decoder_start_token_id),
        ] {
            if tokenizer.token_to_id(what) != Some(id) {
                return Err(ModelError::invalid(
                    &tok_path,
                    format!("{what} is not token {id} as config.json says"),
                ));
            }
        }

        let path = self.weights();
        let file = std::fs::File::open(&path).map_err(|e| ModelError::io(&path, e))?;
        // SAFETY: read-only mapping of a file we do not modify while it is mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| ModelError::io(&path, e))?;
        let tensors = safetensors::SafeTensors::deserialize(&map).map_err(|e| {
            ModelError::invalid(&path, format!("not a valid safetensors file: {e}"))
        })?;
        for (name, shape) in self.config.expected_tensors() {
            match tensors.tensor(&name) {
                Ok(t) if t.shape() == shape.as_slice() => {}
                Ok(t) => {
                    return Err(ModelError::invalid(
                        &path,
                        format!("{name} has shape {:?}, expected {shape:?}", t.shape()),
                    ));
                }
                Err(_) => {
                    return Err(ModelError::invalid(&path, format!("missing tensor {name}")));
                }
            }
        }
        Ok(())
    }
}

/// Reads a config.json and checks its sizes ([`super::config_check`]).
pub fn read_config(path: &Path) -> Result<WhisperConfig, ModelError> {
    let config = read_json::<WhisperConfig>(path)?;
    super::config_check::check(&config, path)?;
    Ok(config)
}

/// Parses a JSON file into `T`, naming the file and the line of a syntax error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::invalid(path, e.to_string()))
}
