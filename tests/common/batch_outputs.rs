//! What a batch wrote, as the tests compare it: every visible output file under a directory
//! (the batch's hidden records and `report.json` left out), JSON outputs parsed whole (a
//! partial file fails here) and without the fields that differ between equal runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Relative path -> contents of every visible output under `dir`; JSON outputs without the
/// top-level fields `drop` (timing `stats`, and `file` when the same audio came from
/// elsewhere).
pub fn outputs_without(dir: &Path, drop: &[&str]) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().map(Result::unwrap) {
        let name = entry.file_name().to_string_lossy();
        let rel = entry.path().strip_prefix(dir).unwrap().to_path_buf();
        // The batch's own records live in a hidden folder.
        let hidden = rel
            .components()
            .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
        if !entry.file_type().is_file() || hidden || name == "report.json" {
            continue;
        }
        let mut text = std::fs::read_to_string(entry.path()).unwrap();
        if name.ends_with(".json") {
            let mut v: serde_json::Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: incomplete JSON ({e})", entry.path().display()));
            let fields = v.as_object_mut().unwrap();
            for field in drop {
                fields.remove(*field);
            }
            text = v.to_string();
        }
        out.insert(rel, text);
    }
    out
}

/// [`outputs_without`] the timing statistics.
pub fn outputs(dir: &Path) -> BTreeMap<PathBuf, String> {
    outputs_without(dir, &["stats"])
}
