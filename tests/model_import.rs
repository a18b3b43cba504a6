//! The CTranslate2 import reproduces model.bin exactly: every tensor, with Hugging Face names and
//! shapes, fused projections split back into rows, the tied projection aliased, and generation
//! settings carried over.

mod common;

use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensors};
use whisper_spec::store::ct2::{Ct2Dtype, Ct2Model};
use whisper_spec::store::import::{self, Ct2Config, name_map, row_block};
use whisper_spec::store::{ModelDir, Store};

fn read_ct2_config(dir: &std::path::Path) -> Ct2Config {
    serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
}

#[test]
fn tiny_en_import_reproduces_every_tensor_of_model_bin() {
    let ct2_dir = common::models::ct2_model("tiny.en");
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("tiny.en");
    let summary = import::import_ct2(&ct2_dir, &dest).expect("import");
    assert_eq!(summary.source_dtype, "F16", "tiny.en ships float16");

    let model = Ct2Model::open(&ct2_dir.join("model.bin")).unwrap();
    let dir = ModelDir::open(&dest).unwrap();
    dir.verify().unwrap();
    let config = &dir.config;
    assert_eq!(
        (
            config.vocab_size,
            config.d_model,
            config.encoder_layers,
            config.decoder_layers
        ),
        (51864, 384, 4, 4)
    );
    assert_eq!(
        (
            config.encoder_attention_heads,
            config.decoder_attention_heads
        ),
        (6, 6)
    );
    assert_eq!(config.num_mel_bins, 80);
    assert!(config.tie_word_embeddings);

    let bytes = std::fs::read(dir.weights()).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();

    // 1. Each Hugging Face tensor equals its source rows in model.bin, byte for byte, float16 kept.
    let map = name_map(config);
    assert_eq!(
        st.names().len(),
        map.len(),
        "no tensor more, no tensor less"
    );
    let mut parts_of: BTreeMap<String, Vec<(usize, usize, Vec<u8>)>> = BTreeMap::new();
    for (hf, src) in &map {
        let t = st.tensor(hf).unwrap_or_else(|_| panic!("{hf} missing"));
        let var = model.get(&src.ct2_name).unwrap();
        assert_eq!(var.dtype, Ct2Dtype::F16);
        assert_eq!(t.dtype(), Dtype::F16, "{hf}");
        let raw = model.bytes(var);
        let (expect, shape) = match src.part {
            None => (raw, var.shape.clone()),
            Some((i, n)) => {
                let mut shape = var.shape.clone();
                shape[0] /= n;
                (row_block(raw, &var.shape, i, n).unwrap(), shape)
            }
        };
        assert_eq!(t.shape(), shape.as_slice(), "{hf}");
        assert!(t.data() == expect, "{hf} differs from {}", src.ct2_name);
        if let Some((i, n)) = src.part {
            parts_of
                .entry(src.ct2_name.clone())
                .or_default()
                .push((i, n, t.data().to_vec()));
        }
    }

    // 2. Every variable of model.bin is accounted for: fused ones reassemble exactly from their
    //    parts, the only missing part being the k bias, which must be zero.
    let mut checked = 0;
    for (name, var) in model.variables() {
        if var.shape.is_empty() {
            continue; // scalars: checked below through the config
        }
        let raw = model.bytes(var);
        if let Some(parts) = parts_of.get(name) {
            let n = parts[0].1;
            let mut rebuilt = Vec::with_capacity(raw.len());
            for i in 0..n {
                match parts.iter().find(|p| p.0 == i) {
                    Some(p) => rebuilt.extend_from_slice(&p.2),
                    None => {
                        assert!(name.ends_with("/bias"), "{name}: part {i} missing");
                        let block = row_block(raw, &var.shape, i, n).unwrap();
                        assert!(
                            block
                                .chunks(2)
                                .all(|c| u16::from_le_bytes([c[0], c[1]]) & 0x7fff == 0),
                            "{name}: dropped k bias is not zero"
                        );
                        rebuilt.extend_from_slice(block);
                    }
                }
            }
            assert!(rebuilt == raw, "{name} does not reassemble");
        } else {
            assert!(
                map.iter()
                    .any(|(_, s)| s.ct2_name == name && s.part.is_none()),
                "{name} of model.bin has no Hugging Face tensor"
            );
        }
        checked += 1;
    }
    assert!(checked > 100, "only {checked} variables checked");

    // 3. The tied output projection: model.bin's alias and our tie point at the same tensor.
    assert_eq!(
        model
            .aliases()
            .get("decoder/projection/weight")
            .map(String::as_str),
        Some("decoder/embeddings/weight")
    );
    let projection = model.bytes(model.get("decoder/projection/weight").unwrap());
    assert!(
        st.tensor("model.decoder.embed_tokens.weight")
            .unwrap()
            .data()
            == projection
    );
    assert!(
        st.tensor("proj_out.weight").is_err(),
        "tied: not stored twice"
    );

    // 4. Scalars and generation settings.
    assert_eq!(
        model.scalar_int("decoder/num_heads").unwrap() as usize,
        config.decoder_attention_heads
    );
    assert_eq!(
        model.scalar_int("encoder/num_heads").unwrap() as usize,
        config.encoder_attention_heads
    );
    let ct2_config = read_ct2_config(&ct2_dir);
    assert_eq!(dir.generation.alignment_heads, ct2_config.alignment_heads);
    assert_eq!(dir.generation.suppress_tokens, ct2_config.suppress_ids);
    assert_eq!(
        dir.generation.begin_suppress_tokens,
        ct2_config.suppress_ids_begin
    );
    assert!(!dir.generation.is_multilingual);
    assert!(
        dir.generation.lang_to_id.is_empty(),
        "an English-only model has no language tokens, whatever lang_ids says"
    );
    assert_eq!(dir.generation.no_timestamps_token_id, Some(50362));
    assert_eq!(config.eos_token_id, 50256);
    assert_eq!(config.decoder_start_token_id, 50257);
    // The tokenizer is copied unchanged.
    assert_eq!(
        std::fs::read(ct2_dir.join("tokenizer.json")).unwrap(),
        std::fs::read(dir.tokenizer()).unwrap()
    );
}

#[test]
fn base_import_has_languages_tasks_and_alignment_heads() {
    let dir = ModelDir::open(&common::models::store_model("base")).unwrap();
    dir.verify().unwrap();
    let g = &dir.generation;
    assert!(g.is_multilingual);
    assert_eq!(g.lang_to_id.len(), 99);
    assert_eq!(g.lang_to_id.get("<|en|>"), Some(&50259));
    assert_eq!(g.lang_to_id.get("<|de|>"), Some(&50261));
    assert_eq!(g.task_to_id.get("transcribe"), Some(&50359));
    assert_eq!(g.task_to_id.get("translate"), Some(&50358));
    assert_eq!(g.no_timestamps_token_id, Some(50363));
    assert_eq!(g.prev_sot_token_id, Some(50361));
    assert_eq!(g.alignment_heads.len(), 8);
    assert_eq!(
        (
            dir.config.vocab_size,
            dir.config.d_model,
            dir.config.decoder_layers
        ),
        (51865, 512, 6)
    );
}

#[test]
fn fetch_is_idempotent() {
    let first = common::models::store_model("tiny.en");
    let weights = first.join("model.safetensors");
    let before = weights.metadata().unwrap().modified().unwrap();
    let again = Store::from_env().fetch("tiny.en", false).unwrap();
    assert_eq!(again.model.dir, first);
    assert_eq!(
        weights.metadata().unwrap().modified().unwrap(),
        before,
        "a second fetch must not rewrite the model"
    );
}

#[test]
fn import_ct2_command_imports_into_the_store() {
    let ct2_dir = common::models::ct2_model("tiny.en");
    let store = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["models", "import-ct2"])
        .arg(&ct2_dir)
        .args(["--name", "my-tiny"])
        .env("WHISPER_SPEC_MODELS", store.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(printed, store.path().join("my-tiny").display().to_string());

    // The store name now resolves, and `models info` verifies it.
    let info = std::process::Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["models", "info", "my-tiny", "--json"])
        .env("WHISPER_SPEC_MODELS", store.path())
        .output()
        .unwrap();
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(json["config"]["d_model"], 384);
    assert_eq!(json["source"], "local store");
    assert_eq!(json["weights_dtype"], "F16");

    // A CTranslate2 dir given as a path is imported on the fly, once.
    let resolved = Store {
        root: store.path().to_path_buf(),
        hub: whisper_spec::store::hub::HubOptions {
            offline: true,
            ..whisper_spec::store::hub::HubOptions::from_env()
        },
    }
    .resolve(ct2_dir.to_str().unwrap())
    .unwrap();
    assert_eq!(resolved.source, whisper_spec::store::Source::ImportedPath);
    assert!(
        resolved
            .model
            .dir
            .starts_with(store.path().join("imported"))
    );
}
