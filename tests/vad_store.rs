//! The VAD model obtained like the Whisper models: from faster-whisper's PyPI wheel into an
//! empty store, then used from there; a damaged copy is replaced; a failed fetch names the file
//! and the cause. One test in this binary: it sets `WHISPER_SPEC_PYTHON` at its end.

use std::path::Path;

use whisper_spec::store::Store;
use whisper_spec::store::hub::HubOptions;
use whisper_spec::store::vad_model::{VAD_BYTES, VAD_FILE};
use whisper_spec::vad::SileroVad;

fn store(root: &Path) -> Store {
    Store {
        root: root.to_path_buf(),
        hub: HubOptions {
            offline: true,
            ..HubOptions::from_env()
        },
    }
}

#[test]
fn fetched_from_the_wheel_once_then_used_from_the_store() {
    let root = tempfile::tempdir().unwrap();
    let store = store(root.path());
    let path = store.fetch_vad().unwrap();
    assert_eq!(path, root.path().join("vad").join(VAD_FILE));
    assert_eq!(path.metadata().unwrap().len(), VAD_BYTES);
    SileroVad::load(&path).unwrap();
    // Nothing but the model is left in the store's vad folder (no wheel, no staging dir).
    let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1);

    // Present: used as is, not fetched again.
    let modified = path.metadata().unwrap().modified().unwrap();
    assert_eq!(store.fetch_vad().unwrap(), path);
    assert_eq!(path.metadata().unwrap().modified().unwrap(), modified);

    // A truncated copy is fetched again.
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..1000]).unwrap();
    store.fetch_vad().unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // Without pip, a missing model is an error that names the file and the cause.
    std::fs::remove_file(&path).unwrap();
    // SAFETY: the only test of this binary, and no other thread reads the environment now.
    unsafe { std::env::set_var("WHISPER_SPEC_PYTHON", "/nonexistent/python3") };
    let message = store.fetch_vad().unwrap_err().to_string();
    assert!(
        message.contains(&path.display().to_string()) && message.contains("cannot run"),
        "{message}"
    );
    assert!(!path.exists());
}
