//! The hub tests' server: the crate's [`LocalHub`] on 127.0.0.1, and a repo folder to serve.

use std::path::{Path, PathBuf};

use whisper_spec::store::local_hub::LocalHub;

/// A running local hub (`FakeHub::serve(repo, dir)`).
pub type FakeHub = LocalHub;

/// A Hugging Face layout repo dir to serve: tiny.en's imported files, copied so the test owns
/// them.
pub fn tiny_en_repo(tmp: &Path) -> PathBuf {
    let src = super::models::store_model("tiny.en");
    let dir = tmp.join("repo");
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "generation_config.json",
    ] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    dir
}
