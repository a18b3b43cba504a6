//! The Whisper network: its configuration, the audio encoder, the text decoder with its
//! roll-back key/value cache, the attention blocks and projections they are built from, the
//! token tree a speculative beam search scores in one pass, and the fused 8-bit draft (the
//! decoder's own weights in 8 bits, run as one CPU pass). Weights come from [`crate::store`];
//! the hand-written CPU compute lives in [`crate::kernels`].

pub mod attention;
pub mod config;
pub mod conv;
pub mod decoder;
pub mod encoder;
pub mod fused_draft;
pub mod kv_cache;
pub mod linear;
pub mod token_tree;
pub mod whisper;

pub use config::{GenerationConfig, WhisperConfig};
pub use decoder::{CrossKv, TextDecoder};
pub use encoder::AudioEncoder;
pub use fused_draft::{FusedDraft, FusedDraftCrossKv, FusedDraftState};
pub use kv_cache::KvCache;
pub use token_tree::{TreeKv, TreeNode};
pub use whisper::Whisper;
