//! The Silero VAD model file, fetched like the Whisper models' offline source: from the PyPI
//! wheel of faster-whisper (MIT licence), which ships `silero_vad_v6.onnx` among its assets.
//! `pip download` fetches the wheel (see [`super::offline`]), the one file is unzipped into
//! `<store>/vad/` and checked by its size; once there it is used without any network access.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::ModelError;
use super::catalog::Wheel;
use super::offline;
use super::staging;

/// The wheel that carries the model.
pub const VAD_WHEEL: Wheel = Wheel {
    package: "faster-whisper",
    version: "1.2.1",
    folder: "faster_whisper/assets",
};

/// The model's file name, in the wheel and in the store.
pub const VAD_FILE: &str = "silero_vad_v6.onnx";

/// Its size in bytes, checked after extraction.
pub const VAD_BYTES: u64 = 1_245_151;

/// Whether `path` holds the complete model.
pub fn is_complete(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.len() == VAD_BYTES)
}

/// Puts the model at `dest` (a file path), downloading the wheel unless it is already there.
pub fn fetch(dest: &Path) -> Result<PathBuf, ModelError> {
    if is_complete(dest) {
        return Ok(dest.to_path_buf());
    }
    let staging = staging::stage_beside(dest, ".vad-")?;
    eprintln!(
        "fetching {}: pip download {}=={}",
        dest.display(),
        VAD_WHEEL.package,
        VAD_WHEEL.version
    );
    // Errors name the file being fetched: "model '<store>/vad/silero_vad_v6.onnx' is not
    // available: `pip download faster-whisper==1.2.1` failed: ...".
    let name = dest.display().to_string();
    let wheel_file = offline::pip_download(&name, &VAD_WHEEL, staging.path())?;
    let member = format!("{}/{VAD_FILE}", VAD_WHEEL.folder);
    let file = std::fs::File::open(&wheel_file).map_err(|e| ModelError::io(&wheel_file, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| ModelError::invalid(&wheel_file, format!("not a wheel (zip): {e}")))?;
    let mut entry = archive
        .by_name(&member)
        .map_err(|e| ModelError::invalid(&wheel_file, format!("the wheel has no {member}: {e}")))?;
    let staged = staging.path().join(VAD_FILE);
    let mut out = std::fs::File::create(&staged).map_err(|e| ModelError::io(&staged, e))?;
    std::io::copy(&mut entry, &mut out).map_err(|e| ModelError::io(&wheel_file, e))?;
    out.flush().map_err(|e| ModelError::io(&staged, e))?;
    drop(out);
    if !is_complete(&staged) {
        let size = staged.metadata().map_or(0, |m| m.len());
        return Err(ModelError::invalid(
            &wheel_file,
            format!("{member} has {size} bytes, expected {VAD_BYTES}"),
        ));
    }
    // Same filesystem as `dest`: the rename is atomic, so a half-written file is never seen.
    std::fs::rename(&staged, dest).map_err(|e| ModelError::io(dest, e))?;
    Ok(dest.to_path_buf())
}
