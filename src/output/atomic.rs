//! Atomic file writes. Output is written to a hidden temporary file beside the target, flushed
//! and synced, and only then renamed over it. An interrupted run (Ctrl-C, crash, full disk)
//! leaves either the old file or no file, never a truncated `x.srt` that looks finished; a
//! leftover is named `.x.srt.WRITER.XXXXXX.tmp` so it cannot be mistaken for output, and
//! `WRITER` ([`writer_tag`]) lets a later run tell a dead writer's leftover from a live write.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use tempfile::NamedTempFile;

use super::OutputError;

/// Writes `path` atomically: `write` fills a buffered temporary file in the same directory
/// (the same filesystem, so the final rename is atomic), which is then flushed, synced to disk
/// and renamed over `path`. On any error the temporary file is removed and `path` is untouched.
///
/// The new file gets the permissions of the file it replaces, or, for a new file, those
/// [`File::create`](std::fs::File::create) would give it (0666 less the umask on Unix). A
/// symlink at `path` is replaced by the file, not written through. Errors name `path` (and the
/// directory when no temporary file could be made there). Returns what `write` returns.
pub fn write_file<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> Result<T, OutputError> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let temp = temp_beside(path, dir).map_err(|source| OutputError::TempFile {
        path: path.to_path_buf(),
        dir: dir.to_path_buf(),
        source,
    })?;
    let failed = |source| OutputError::Write {
        path: path.to_path_buf(),
        source,
    };

    let mut out = BufWriter::new(temp);
    let value = write(&mut out).map_err(failed)?;
    let temp = out.into_inner().map_err(|e| failed(e.into_error()))?;
    temp.as_file().sync_all().map_err(failed)?;
    if let Ok(existing) = std::fs::metadata(path) {
        // Keep a replaced file's mode (a shared 0644 subtitle stays 0644).
        temp.as_file()
            .set_permissions(existing.permissions())
            .map_err(failed)?;
    }
    temp.persist(path).map_err(|e| failed(e.error))?;
    sync_dir(dir);
    Ok(value)
}

/// A new temporary file in `dir`, named after `path`'s file name.
fn temp_beside(path: &Path, dir: &Path) -> io::Result<NamedTempFile> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let prefix = format!(".{name}.{}.", writer_tag());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    {
        // The mode passed to open(2), from which the kernel takes the umask: a normal file's
        // permissions instead of tempfile's private 0600.
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o666));
    }
    builder.tempfile_in(dir)
}

/// This process as the writer of a temporary file: `PID-BOOT`, BOOT the first 8 characters of
/// the machine's boot id (Linux; `0` elsewhere), so that a process on another machine sharing
/// the directory is never taken for this machine's process of the same PID.
pub fn writer_tag() -> String {
    format!("{}-{}", std::process::id(), boot_id())
}

/// The machine's boot id as [`writer_tag`] writes it, read once per process (every atomic
/// write and every leftover checked asks for it).
fn boot_id() -> &'static str {
    static BOOT_ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BOOT_ID.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .ok()
            .map(|id| id.trim().chars().filter(|c| *c != '-').take(8).collect())
            .filter(|id: &String| !id.is_empty())
            .unwrap_or_else(|| "0".into())
    })
}

/// Whether the temporary file named `file_name` (`.NAME.WRITER.XXXXXX.tmp`) was left by a
/// process of this machine that is no longer running: its write can never finish. False
/// where that cannot be known (another machine, no `/proc`, a name without a writer).
pub fn left_by_dead_writer(file_name: &str) -> bool {
    let Some(rest) = file_name.strip_suffix(".tmp") else {
        return false;
    };
    let Some((head, _random)) = rest.rsplit_once('.') else {
        return false;
    };
    let Some((_, writer)) = head.rsplit_once('.') else {
        return false;
    };
    let Some((pid, boot)) = writer.split_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let proc = Path::new("/proc");
    boot != "0"
        && boot == boot_id()
        && pid != std::process::id()
        && proc.join("self").exists()
        && !proc.join(pid.to_string()).exists()
}

/// Syncs the directory so the rename itself survives a power cut. Best effort: the file is
/// complete and in place either way, and some filesystems refuse to sync a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(handle) = std::fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}
