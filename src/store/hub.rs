//! Hugging Face hub downloads into the standard Hugging Face cache, through hf-hub.
//!
//! The environment is honoured as the Python tools do: `HF_ENDPOINT` (a mirror, or a local test
//! server), `HF_HOME` (cache at `$HF_HOME/hub`) or `HF_HUB_CACHE`, `HF_TOKEN` (else the token
//! file in `HF_HOME`), and `HF_HUB_OFFLINE=1` (never touch the network: the cache only).
//! Downloaded files land in `snapshots/<commit>/`, which is itself a Hugging Face layout dir.

use std::io::IsTerminal;
use std::path::PathBuf;

use hf_hub::api::sync::ApiBuilder;
use hf_hub::{Cache, Repo, RepoType};

use super::ModelError;
use super::layout::{CONFIG, GENERATION_CONFIG, TOKENIZER, WEIGHTS};

/// Files a Whisper repo must have.
const REQUIRED: [&str; 3] = [CONFIG, WEIGHTS, TOKENIZER];

/// Where and how to talk to the hub.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Base URL of the hub (`https://huggingface.co` unless `HF_ENDPOINT` says otherwise).
    pub endpoint: Option<String>,
    /// The hub cache folder (the one holding `models--owner--name`).
    pub cache_dir: PathBuf,
    /// Access token for gated or private repos.
    pub token: Option<String>,
    /// Never use the network.
    pub offline: bool,
    /// Show a progress bar while downloading.
    pub progress: bool,
    /// Revision (branch, tag or commit) to fetch.
    pub revision: String,
}

impl HubOptions {
    /// Options from the environment, as huggingface_hub reads it.
    pub fn from_env() -> Self {
        let cache_dir = match std::env::var_os("HF_HUB_CACHE") {
            Some(dir) => PathBuf::from(dir),
            None => Cache::from_env().path().clone(),
        };
        let token = std::env::var("HF_TOKEN")
            .ok()
            .filter(|t| !t.trim().is_empty())
            .or_else(|| Cache::new(cache_dir.clone()).token());
        HubOptions {
            endpoint: std::env::var("HF_ENDPOINT").ok().filter(|e| !e.is_empty()),
            cache_dir,
            token,
            offline: std::env::var("HF_HUB_OFFLINE").is_ok_and(|v| {
                matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")
            }),
            progress: std::io::stderr().is_terminal(),
            revision: "main".into(),
        }
    }

    fn repo(&self, repo_id: &str) -> Repo {
        Repo::with_revision(repo_id.to_string(), RepoType::Model, self.revision.clone())
    }
}

/// The cached snapshot dir of `repo_id` if every required file is in the cache, without any
/// network access.
pub fn cached(repo_id: &str, opts: &HubOptions) -> Option<PathBuf> {
    let cache = Cache::new(opts.cache_dir.clone()).repo(opts.repo(repo_id));
    let mut dir = None;
    for file in REQUIRED {
        let path = cache.get(file)?;
        dir = path.parent().map(PathBuf::from);
    }
    dir
}

/// Downloads the repo's model files (or finds them in the cache) and returns the snapshot dir.
/// With `offline`, only the cache is consulted.
pub fn fetch(repo_id: &str, opts: &HubOptions) -> Result<PathBuf, ModelError> {
    if let Some(dir) = cached(repo_id, opts) {
        return Ok(dir);
    }
    if opts.offline {
        return Err(ModelError::Unavailable {
            name: repo_id.into(),
            reason: format!(
                "HF_HUB_OFFLINE is set and {} has no complete copy",
                opts.cache_dir.display()
            ),
        });
    }
    let mut builder = ApiBuilder::from_cache(Cache::new(opts.cache_dir.clone()))
        .with_progress(opts.progress)
        .with_token(opts.token.clone())
        .with_retries(2);
    if let Some(endpoint) = &opts.endpoint {
        builder = builder.with_endpoint(endpoint.trim_end_matches('/').to_string());
    }
    let endpoint = opts
        .endpoint
        .clone()
        .unwrap_or_else(|| "https://huggingface.co".into());
    let hub_error = |file: &str, e: hf_hub::api::sync::ApiError| ModelError::Unavailable {
        name: repo_id.into(),
        reason: format!("hub download of {file} from {endpoint} failed: {e}"),
    };
    let api = builder.build().map_err(|e| hub_error("(client)", e))?;
    let repo = api.repo(opts.repo(repo_id));

    let mut dir = None;
    for file in REQUIRED {
        let path = repo.get(file).map_err(|e| hub_error(file, e))?;
        dir = path.parent().map(PathBuf::from);
    }
    // generation_config.json is optional: older repos lack it, and its absence only means
    // defaults derived from config.json.
    if let Err(e) = repo.get(GENERATION_CONFIG) {
        tracing::debug!("{repo_id}: no {GENERATION_CONFIG} ({e})");
    }
    dir.ok_or_else(|| ModelError::Unavailable {
        name: repo_id.into(),
        reason: "hub returned no files".into(),
    })
}
