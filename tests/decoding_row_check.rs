//! The exactness check: a transcriber with a draft checks on its first window that its
//! decoder's multi-token passes are bit for bit its one-token steps, and says so where not:
//! attention heads wider than 128 take candle's generic attention, whose rows depend on the
//! pass (found by tests/speculative_exact.rs's head-width sweep).

mod common;

use std::path::Path;

use candle_core::Device;
use whisper_spec::decoding::draft::{Draft, DraftSpec};
use whisper_spec::decoding::speculative::SpecConfig;
use whisper_spec::model::WhisperConfig;
use whisper_spec::store::{ModelDir, Store};
use whisper_spec::{TranscribeOptions, Transcriber};

/// A random model with base's vocabulary, width `d` and `heads` heads, in `dir`.
fn synthetic(dir: &Path, d: usize, heads: usize) -> ModelDir {
    let base = common::models::store_model("base");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("config.json")).unwrap()).unwrap();
    for (key, value) in [
        ("d_model", d),
        ("encoder_layers", 1),
        ("decoder_layers", 2),
        ("encoder_attention_heads", heads),
        ("decoder_attention_heads", heads),
        ("encoder_ffn_dim", 2 * d),
        ("decoder_ffn_dim", 2 * d),
    ] {
        cfg[key] = serde_json::json!(value);
    }
    let cfg: WhisperConfig = serde_json::from_value(cfg).unwrap();
    common::synthetic::write_model(dir, &cfg, 5);
    for f in ["tokenizer.json", "generation_config.json"] {
        std::fs::copy(base.join(f), dir.join(f)).unwrap();
    }
    ModelDir::open(dir).unwrap()
}

fn with_self_q8(dir: &ModelDir) -> Transcriber {
    let dev = Device::Cpu;
    let target = Transcriber::load(dir, "synthetic", &dev).unwrap();
    let draft = Draft::build(
        &"self-q8".parse::<DraftSpec>().unwrap(),
        target.model(),
        dir,
        "synthetic",
        &Store::from_env(),
        &dev,
    )
    .unwrap();
    target.with_draft(draft, SpecConfig::for_target(2))
}

#[test]
fn our_kernels_pass_the_check_and_wide_heads_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    // 64-wide heads: our row-independent attention.
    let exact = with_self_q8(&synthetic(&tmp.path().join("narrow"), 128, 2));
    // 256-wide heads: candle's attention.
    let wide = with_self_q8(&synthetic(&tmp.path().join("wide"), 512, 2));
    // The check runs on the first window; every transcript carries what it found.
    let audio =
        whisper_spec::audio::load_audio(common::shared_dir().join("corpus/jfk.flac")).unwrap();
    let opts = TranscribeOptions {
        language: Some("en".into()),
        sample_len: 8,
        temperature_increment: None,
        vad: None,
        ..TranscribeOptions::default()
    };
    assert_eq!(
        wide.exactness_warning(),
        None,
        "not checked before a window"
    );
    let t = wide
        .transcribe_samples(&audio.samples, &opts, "jfk")
        .unwrap();
    let warning = wide
        .exactness_warning()
        .expect("wide heads are not row-independent");
    assert!(warning.contains("-token pass differs"), "{warning}");
    assert_eq!(t.stats.exactness_warning.as_deref(), Some(warning));

    let t = exact
        .transcribe_samples(&audio.samples, &opts, "jfk")
        .unwrap();
    assert_eq!(t.stats.exactness_warning, None);
    assert_eq!(exact.exactness_warning(), None);

    // Without a draft there is nothing to check.
    let alone = Transcriber::load(
        &ModelDir::open(&tmp.path().join("wide")).unwrap(),
        "s",
        &Device::Cpu,
    )
    .unwrap();
    let t = alone
        .transcribe_samples(&audio.samples, &opts, "jfk")
        .unwrap();
    assert_eq!(t.stats.exactness_warning, None);
}
