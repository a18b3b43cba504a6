//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod npy;

use std::path::PathBuf;

/// The shared data folder (`../shared` beside the checkout, or `WHISPER_SPEC_SHARED`).
/// Tests read corpus and golden files where they are; a missing folder fails loudly.
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("WHISPER_SPEC_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("corpus").is_dir(),
        "shared data not found at {} (set WHISPER_SPEC_SHARED)",
        dir.display()
    );
    dir
}
pub mod ct2_writer;
pub mod fake_hub;
pub mod models;
