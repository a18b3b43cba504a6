//! Every input kept under fuzz/regressions/TARGET/ (crashes the fuzzers found, and crafted
//! cases of the bugs of issue 26) replayed through the same library entry point its cargo-fuzz
//! target calls ([`whisper_spec::fuzzing`]), on stable Rust: each must return without a
//! panic, within a time limit.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use whisper_spec::fuzzing;

/// Each input must be handled within this (they take milliseconds).
const TIME_LIMIT: Duration = Duration::from_secs(20);

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no regression inputs in {}",
        dir.display()
    );
    files
}

fn replay(target: &str, entry: fn(&[u8])) {
    for path in inputs(target) {
        let bytes = std::fs::read(&path).unwrap();
        let started = Instant::now();
        entry(&bytes);
        let took = started.elapsed();
        assert!(took < TIME_LIMIT, "{}: took {took:?}", path.display());
    }
}

#[test]
fn audio_pipeline() {
    replay("audio_pipeline", fuzzing::audio_pipeline);
}

#[test]
fn audio_headers() {
    replay("audio_headers", fuzzing::audio_headers);
}

#[test]
fn model_config() {
    replay("model_config", fuzzing::model_config);
}

#[test]
fn weights() {
    replay("weights", fuzzing::weights);
}

#[test]
fn cli_args() {
    replay("cli_args", fuzzing::cli_args);
}
