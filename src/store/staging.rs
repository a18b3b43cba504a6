//! Atomic model directories: everything is written into a hidden staging dir beside the
//! destination and renamed into place only when complete, so an interrupted fetch or import
//! never leaves a directory that looks like a finished model.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::ModelError;

/// A new empty staging dir beside `dest` (same filesystem, so the final rename is atomic),
/// removed automatically if dropped before [`commit`].
pub fn stage_beside(dest: &Path, prefix: &str) -> Result<TempDir, ModelError> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| ModelError::io(parent, e))?;
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(parent)
        .map_err(|e| ModelError::io(parent, e))
}

/// Moves a finished staging dir to `dest`. An existing `dest` is first renamed aside and
/// deleted only after the new one is in place.
pub fn commit(staging: TempDir, dest: &Path) -> Result<PathBuf, ModelError> {
    make_readable(staging.path())?;
    let staged = staging.keep();
    if dest.exists() {
        let aside = dest.with_file_name(format!(
            ".replaced-{}-{}",
            dest.file_name().and_then(|n| n.to_str()).unwrap_or("model"),
            std::process::id()
        ));
        std::fs::rename(dest, &aside).map_err(|e| ModelError::io(dest, e))?;
        std::fs::rename(&staged, dest).map_err(|e| ModelError::io(dest, e))?;
        let _ = std::fs::remove_dir_all(&aside);
    } else {
        std::fs::rename(&staged, dest).map_err(|e| ModelError::io(dest, e))?;
    }
    Ok(dest.to_path_buf())
}

/// Staging dirs are created owner-only; a model store is shared, read-only data, so give the dir
/// and its files the usual permissions.
fn make_readable(dir: &Path) -> Result<(), ModelError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let set = |path: &Path, mode: u32| {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                .map_err(|e| ModelError::io(path, e))
        };
        set(dir, 0o755)?;
        for entry in std::fs::read_dir(dir).map_err(|e| ModelError::io(dir, e))? {
            let entry = entry.map_err(|e| ModelError::io(dir, e))?;
            if entry.path().is_file() {
                set(&entry.path(), 0o644)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
