//! Broken models give an error that names the file and the problem: truncated or foreign
//! model.bin, missing tokenizer.json, a directory that is neither layout, a truncated download.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use whisper_spec::store::hub::HubOptions;
use whisper_spec::store::import::import_ct2;
use whisper_spec::store::{ModelDir, ModelError, Store};

/// A CTranslate2 dir in `tmp` with tiny.en's config and tokenizer and the given model.bin bytes.
fn ct2_dir_with(tmp: &Path, model_bin: &[u8]) -> PathBuf {
    let src = common::models::ct2_model("tiny.en");
    let dir = tmp.join("ct2");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(src.join(f), dir.join(f)).unwrap();
    }
    std::fs::write(dir.join("model.bin"), model_bin).unwrap();
    dir
}

fn real_model_bin() -> Vec<u8> {
    std::fs::read(common::models::ct2_model("tiny.en").join("model.bin")).unwrap()
}

/// A store that never touches the network, rooted in `root`.
fn offline_store(root: &Path) -> Store {
    Store {
        root: root.to_path_buf(),
        hub: HubOptions {
            offline: true,
            cache_dir: root.join("hf-cache"),
            ..HubOptions::from_env()
        },
    }
}

fn assert_names(err: &ModelError, path: &Path, words: &[&str]) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "error does not name {}: {msg}",
        path.display()
    );
    for w in words {
        assert!(msg.contains(w), "error lacks '{w}': {msg}");
    }
}

#[test]
fn truncated_model_bin_is_reported_with_file_and_offset() {
    let tmp = tempfile::tempdir().unwrap();
    let full = real_model_bin();
    for keep in [full.len() / 2, 1_000_000, 20, 3] {
        let dir = ct2_dir_with(tmp.path(), &full[..keep]);
        let err = import_ct2(&dir, &tmp.path().join("out")).unwrap_err();
        assert!(matches!(err, ModelError::Ct2Format { .. }), "{err:?}");
        assert_names(&err, &dir.join("model.bin"), &["truncated", "at byte"]);
        assert!(!tmp.path().join("out").exists(), "nothing half-written");
    }
}

#[test]
fn wrong_magic_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = real_model_bin();
    bytes[..4].copy_from_slice(b"PK\x03\x04");
    let dir = ct2_dir_with(tmp.path(), &bytes);
    let err = import_ct2(&dir, &tmp.path().join("out")).unwrap_err();
    assert_names(&err, &dir.join("model.bin"), &["wrong magic"]);

    // A valid header of another model family.
    let mut other = Vec::new();
    other.extend_from_slice(&6u32.to_le_bytes());
    other.extend_from_slice(&(12u16).to_le_bytes());
    other.extend_from_slice(b"BartSpec\0\0\0\0");
    let dir = ct2_dir_with(&tmp.path().join("bart"), &other);
    let err = import_ct2(&dir, &tmp.path().join("out")).unwrap_err();
    assert_names(&err, &dir.join("model.bin"), &["WhisperSpec"]);
}

#[test]
fn corrupt_sizes_are_caught_before_any_allocation() {
    // A variable whose byte count disagrees with its shape.
    let tmp = tempfile::tempdir().unwrap();
    let mut b = Vec::new();
    b.extend_from_slice(&6u32.to_le_bytes());
    b.extend_from_slice(&12u16.to_le_bytes());
    b.extend_from_slice(b"WhisperSpec\0");
    b.extend_from_slice(&3u32.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes()); // one variable
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(b"x\0");
    b.push(2); // rank
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.push(4); // f16
    b.extend_from_slice(&8u32.to_le_bytes());
    let dir = ct2_dir_with(tmp.path(), &b);
    let err = import_ct2(&dir, &tmp.path().join("out")).unwrap_err();
    assert_names(&err, &dir.join("model.bin"), &["claims 8 bytes"]);
}

#[test]
fn missing_tokenizer_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ct2_dir_with(tmp.path(), &real_model_bin());
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    let err = import_ct2(&dir, &tmp.path().join("out")).unwrap_err();
    assert!(matches!(err, ModelError::MissingFile { .. }), "{err:?}");
    assert_names(&err, &dir, &["missing tokenizer.json"]);

    // The same for a Hugging Face layout dir given as --model.
    let hf = tmp.path().join("hf");
    std::fs::create_dir_all(&hf).unwrap();
    let good = common::models::store_model("tiny.en");
    for f in ["config.json", "model.safetensors"] {
        std::fs::copy(good.join(f), hf.join(f)).unwrap();
    }
    let err = offline_store(tmp.path())
        .resolve(hf.to_str().unwrap())
        .unwrap_err();
    assert_names(&err, &hf, &["missing tokenizer.json"]);
}

#[test]
fn corrupt_tokenizer_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ct2_dir_with(tmp.path(), &real_model_bin());
    std::fs::write(dir.join("tokenizer.json"), "{ not json").unwrap();
    let err = import_ct2(&dir, &tmp.path().join("out")).unwrap_err();
    assert_names(&err, &dir.join("tokenizer.json"), &["tokenizer"]);
}

#[test]
fn a_dir_that_is_neither_layout_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("cat.jpg"), b"\xff\xd8\xff").unwrap();
    let err = offline_store(tmp.path())
        .resolve(dir.to_str().unwrap())
        .unwrap_err();
    assert!(matches!(err, ModelError::UnknownLayout { .. }), "{err:?}");
    assert_names(&err, &dir, &["not a model directory"]);

    // A plain file is not a model either.
    let file = dir.join("cat.jpg");
    let err = offline_store(tmp.path())
        .resolve(file.to_str().unwrap())
        .unwrap_err();
    assert_names(&err, &file, &["not a model directory"]);

    // Through the command line: non-zero exit, the path in the message.
    let out = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["models", "info"])
        .arg(&dir)
        .env("WHISPER_SPEC_MODELS", tmp.path())
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&dir.display().to_string()), "{stderr}");
    assert!(stderr.contains("not a model directory"), "{stderr}");
}

#[test]
fn missing_path_and_unknown_name_are_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let store = offline_store(tmp.path());
    let missing = tmp.path().join("nowhere/model");
    let err = store.resolve(missing.to_str().unwrap()).unwrap_err();
    assert_names(&err, &missing, &["no such model directory"]);

    let err = store.resolve("whisper-huge-v9").unwrap_err();
    assert!(matches!(err, ModelError::UnknownModel { .. }), "{err:?}");
    assert!(err.to_string().contains("whisper-huge-v9"));
}

#[test]
fn truncated_safetensors_fails_verification() {
    let tmp = tempfile::tempdir().unwrap();
    let good = common::models::store_model("tiny.en");
    let dir = tmp.path().join("cut");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["config.json", "tokenizer.json", "generation_config.json"] {
        std::fs::copy(good.join(f), dir.join(f)).unwrap();
    }
    let weights = std::fs::read(good.join("model.safetensors")).unwrap();
    std::fs::write(dir.join("model.safetensors"), &weights[..weights.len() / 3]).unwrap();
    let err = ModelDir::open(&dir).unwrap().verify().unwrap_err();
    assert_names(&err, &dir.join("model.safetensors"), &["safetensors"]);
}

/// tiny.en's store dir copied into `tmp` (weights linked) with config.json edited by `edit`.
fn tiny_en_with_config(tmp: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let good = common::models::store_model("tiny.en");
    let dir = tmp.join("edited");
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(&good).unwrap() {
        let from = entry.unwrap().path();
        let name = from.file_name().unwrap();
        if name == "config.json" {
            continue;
        }
        std::os::unix::fs::symlink(&from, dir.join(name)).unwrap();
    }
    let text = std::fs::read_to_string(good.join("config.json")).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap();
    edit(&mut config);
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    dir
}

#[test]
fn weights_the_config_does_not_describe_are_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tiny_en_with_config(tmp.path(), |c| c["decoder_layers"] = 1.into());
    let model = ModelDir::open(&dir).unwrap();
    let Err(err) = whisper_spec::model::Whisper::load(&model, &candle_core::Device::Cpu) else {
        panic!("a config with fewer decoder layers than the weights must not load");
    };
    assert_names(
        &err,
        &dir.join("model.safetensors"),
        &["model.decoder.layers.1.", "config does not describe"],
    );

    // The same model unedited loads: the check does not trip over what tiny.en holds.
    let good = ModelDir::open(&common::models::store_model("tiny.en")).unwrap();
    whisper_spec::model::Whisper::load(&good, &candle_core::Device::Cpu).unwrap();
}

#[test]
fn config_sizes_out_of_any_whisper_range_are_refused_by_field() {
    let tmp = tempfile::tempdir().unwrap();
    for (field, value) in [
        ("decoder_layers", serde_json::json!(0)),
        ("encoder_layers", serde_json::json!(1u64 << 40)),
        ("d_model", serde_json::json!(0)),
        ("decoder_attention_heads", serde_json::json!(7)),
    ] {
        let sub = tmp.path().join(field);
        let dir = tiny_en_with_config(&sub, |c| c[field] = value.clone());
        let Err(err) = ModelDir::open(&dir) else {
            panic!("{field} = {value} must be refused");
        };
        assert_names(&err, &dir.join("config.json"), &[field]);
    }
}

#[test]
fn a_ct2_variable_the_import_would_drop_is_refused_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let config: whisper_spec::model::WhisperConfig = serde_json::from_value(serde_json::json!({
        "vocab_size": 51864, "num_mel_bins": 80, "d_model": 8,
        "encoder_layers": 1, "encoder_attention_heads": 2,
        "decoder_layers": 1, "decoder_attention_heads": 2,
        "encoder_ffn_dim": 16, "decoder_ffn_dim": 16,
        "eos_token_id": 50256, "decoder_start_token_id": 50257
    }))
    .unwrap();
    let mut vars =
        common::ct2_writer::synthetic_variables(&config, common::ct2_writer::WeightKind::F32, 3);
    vars.insert(
        "decoder/stray/weight".to_string(),
        common::ct2_writer::Var {
            shape: vec![2, 2],
            dtype: 0,
            data: vec![0; 16],
        },
    );
    let src = ct2_dir_with(tmp.path(), &common::ct2_writer::model_bin(&vars));
    std::fs::write(
        src.join("config.json"),
        r#"{"alignment_heads": [[0, 0]], "lang_ids": [], "suppress_ids": [1], "suppress_ids_begin": [220, 50256]}"#,
    )
    .unwrap();
    let Err(err) = import_ct2(&src, &tmp.path().join("out")) else {
        panic!("a stray variable must not be dropped silently");
    };
    assert_names(&err, &src.join("model.bin"), &["decoder/stray/weight"]);
    vars.remove("decoder/stray/weight");
    std::fs::write(src.join("model.bin"), common::ct2_writer::model_bin(&vars)).unwrap();
    import_ct2(&src, &tmp.path().join("out")).expect("the same file without it imports");
}
