//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod batch_outputs;
pub mod fake_mic;
pub mod jfk;
pub mod npy;
pub mod python_env;
pub mod room_tone;
pub mod s3_server;
pub mod serve;

use std::path::{Path, PathBuf};

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

/// Runs `whisper-spec probe` on `files`: whether it exited successfully, its stderr, and its
/// stdout parsed as one JSON object per line.
pub fn run_probe<P: AsRef<Path>>(files: &[P]) -> (bool, String, Vec<serde_json::Value>) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .arg("probe")
        .args(files.iter().map(AsRef::as_ref))
        .output()
        .expect("run whisper-spec probe");
    let stdout = String::from_utf8(out.stdout).expect("probe prints UTF-8");
    let lines = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        lines,
    )
}
pub mod synthetic;

/// The rows of corpus/manifest.tsv (header skipped), each split into its tab-separated columns:
/// file, duration_s, sample_rate, channels, codec, language, source, license, transcript, notes.
pub fn manifest_rows() -> Vec<Vec<String>> {
    let path = shared_dir().join("corpus/manifest.tsv");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}
