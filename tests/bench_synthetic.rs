//! Synthetic models of the real shapes: the repo files are the hub's (large-v3's vocabulary with
//! `<|yue|>` at the id large-v3 gives it), and `bench --synthetic` builds one, serves it from a
//! hub on 127.0.0.1, downloads it into the Hugging Face cache, loads it and measures it, with
//! speculative greedy decoding checked token for token against the target alone.

mod common;

use std::path::Path;
use std::process::Command;

use whisper_spec::Transcriber;
use whisper_spec::store::ModelDir;
use whisper_spec::store::synthetic::{Shape, write_repo};
use whisper_spec::text::{Task, WhisperTokenizer};

/// A store holding base's and tiny.en's files (linked from the checkout's store), so that
/// synthetic repos can take their vocabularies without fetching anything.
fn store_with_vocabularies(root: &Path) {
    for name in ["base", "tiny.en"] {
        let src = common::models::store_model(name);
        let dst = root.join(name);
        std::fs::create_dir_all(&dst).unwrap();
        for entry in std::fs::read_dir(&src).unwrap() {
            let entry = entry.unwrap();
            std::os::unix::fs::symlink(entry.path(), dst.join(entry.file_name())).unwrap();
        }
    }
}

#[test]
fn a_large_v3_vocabulary_puts_cantonese_and_the_later_specials_where_large_v3_does() {
    let tmp = tempfile::tempdir().unwrap();
    // large-v3's vocabulary and mel bins at a miniature width.
    let shape = Shape {
        d_model: 64,
        heads: 2,
        encoder_layers: 1,
        decoder_layers: 2,
        ..Shape::of("large-v3").unwrap()
    };
    let dir = tmp.path().join("repo");
    write_repo(&shape, &common::models::store_model("base"), &dir, 3).unwrap();
    let model = ModelDir::open(&dir).unwrap();
    assert_eq!(model.config.vocab_size, 51866);
    assert_eq!(model.config.num_mel_bins, 128);
    let tokenizer = WhisperTokenizer::from_model(&model).unwrap();
    let s = *tokenizer.specials();
    // openai/whisper-large-v3's ids.
    assert_eq!((s.eot, s.sot), (50257, 50258));
    assert_eq!((s.translate, s.transcribe), (50359, 50360));
    assert_eq!(
        (s.sot_lm, s.prev, s.no_speech),
        (Some(50361), 50362, Some(50363))
    );
    assert_eq!((s.no_timestamps, s.timestamp_begin), (50364, 50365));
    assert_eq!(
        tokenizer
            .sot_sequence(Some("yue"), Task::Transcribe)
            .unwrap(),
        vec![50258, 50358, 50360]
    );
    assert_eq!(
        tokenizer
            .sot_sequence(Some("su"), Task::Transcribe)
            .unwrap(),
        vec![50258, 50357, 50360]
    );
    let generation: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("generation_config.json")).unwrap())
            .unwrap();
    assert_eq!(generation["lang_to_id"].as_object().unwrap().len(), 100);
    assert_eq!(generation["lang_to_id"]["<|yue|>"], 50358);
    assert_eq!(generation["no_timestamps_token_id"], 50364);
    assert!(!generation["alignment_heads"].as_array().unwrap().is_empty());
    // Half-precision weights, as the hub publishes large-v3, and they load.
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&weights).unwrap();
    assert!(
        tensors
            .tensors()
            .iter()
            .all(|(_, t)| t.dtype() == safetensors::Dtype::F16)
    );
    Transcriber::load(&model, "large-v3", &candle_core::Device::Cpu).unwrap();
}

/// `whisper-spec bench --synthetic ARGS --runs 1 --json` on the store at `root`: its stdout and
/// the JSON of its last line, the run having succeeded.
fn bench_synthetic(root: &Path, args: &[&str]) -> (String, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["bench", "--synthetic"])
        .args(args)
        .args(["--runs", "1", "--json"])
        .env("WHISPER_SPEC_MODELS", root)
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_HUB_OFFLINE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "bench failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    (stdout, json)
}

#[test]
fn bench_synthetic_builds_serves_loads_measures_and_stays_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    store_with_vocabularies(&root);
    let run = || bench_synthetic(&root, &["tiny", "--draft", "self-q8"]);
    let (stdout, first) = run();
    assert_eq!(first["model"], "tiny");
    assert_eq!(first["draft"], "self-q8");
    assert_eq!(first["identical"], true, "{stdout}");
    assert_eq!(first["multi_token_pass_exact"], true, "{stdout}");
    assert!(first["identical_tokens"].as_u64().unwrap() >= 64);
    assert!(first["build_s"].as_f64().unwrap() > 0.0);
    // tiny: 37,760,640 f32 parameters, as openai/whisper-tiny publishes them.
    let weights_mb = first["weights_mb"].as_f64().unwrap();
    assert!((151.0..151.2).contains(&weights_mb), "{weights_mb}");
    for key in [
        "load_s",
        "encoder_window_s",
        "decoder_step_ms",
        "draft_step_ms",
        "bandwidth_gbs",
        "bandwidth_gbs_before",
        "bandwidth_gbs_after",
        "decoder_bytes",
        "peak_rss_mb",
        "multiply_add_gflops",
    ] {
        assert!(first[key].as_f64().unwrap() > 0.0, "{key}: {}", first[key]);
    }
    // The bound takes the faster of the bandwidths measured before and after the timings.
    let bandwidth = first["bandwidth_gbs"].as_f64().unwrap();
    assert_eq!(
        bandwidth,
        first["bandwidth_gbs_before"]
            .as_f64()
            .unwrap()
            .max(first["bandwidth_gbs_after"].as_f64().unwrap())
    );
    for k in ["2", "4", "8"] {
        assert!(first["verify_ms"][k].as_f64().unwrap() > 0.0);
        // A verify pass is bounded by what a step reads, and by its own arithmetic.
        let step_bound = first["decoder_bytes"].as_f64().unwrap()
            / first["bandwidth_gbs"].as_f64().unwrap()
            / 1e6;
        let bound = first["verify_bound_ms"][k].as_f64().unwrap();
        // (Equal where bytes bind; computed here in another order, so to rounding.)
        assert!(
            bound >= step_bound * (1.0 - 1e-12),
            "{k}: {bound} < {step_bound}"
        );
    }
    assert_eq!(first["speedup_at_acceptance"].as_object().unwrap().len(), 4);
    // The download went through the hub into the Hugging Face cache's snapshot layout.
    let snapshots = root.join("synthetic/hf-cache/models--openai--whisper-tiny/snapshots");
    let snapshot = std::fs::read_dir(&snapshots)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(snapshot.join("model.safetensors").is_file());
    // Built once: the second run reuses the repo and the cache.
    let (_, second) = run();
    assert_eq!(second["build_s"], 0.0);
    assert_eq!(second["identical"], true);
}

/// A `--quantize` target takes a distil draft on its own encoder output and quantizes it as it
/// is quantized (a draft only proposes): the pair stays exact, and the multi-token pass of the
/// quantized target (`Q8_0` weights, bf16 cross-attention keys/values) is bit for bit its steps.
#[test]
fn a_quantized_target_quantizes_its_distil_draft_and_stays_exact() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    store_with_vocabularies(&root);
    let (stdout, json) = bench_synthetic(
        &root,
        &[
            "small.en",
            "--draft",
            "distil-small.en",
            "--quantize",
            "q8_0",
        ],
    );
    assert_eq!(json["precision"], "q8_0");
    // The arithmetic bound is the f32 kernels' (the quantized ones are not measured).
    assert!(json["multiply_add_gflops"].is_null() && json["verify_bound_ms"].is_null());
    assert_eq!(json["draft"], "distil-small.en (shared encoder, q8_0)");
    assert_eq!(json["identical"], true, "{stdout}");
    assert_eq!(json["multi_token_pass_exact"], true, "{stdout}");
}

#[test]
fn bench_synthetic_names_the_shapes_it_knows() {
    let out = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["bench", "--synthetic", "large-v4"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("large-v4") && err.contains("large-v3-turbo"),
        "{err}"
    );
}
