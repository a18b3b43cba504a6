//! `--draft auto` for a target whose catalog pairing is a distil model: the draft is downloaded
//! from the hub (a fake one on 127.0.0.1), loaded decoder-only on the target's encoder output
//! (`Draft` shared), and the transcript is the target's own, token for token.
//!
//! The models are synthetic (random weights, base's vocabulary and special tokens, small
//! widths) named as large-v3 and distil-large-v3, so the real pairing logic runs without their
//! gigabytes.

mod common;

use std::path::Path;
use std::sync::atomic::Ordering;

use candle_core::Device;
use common::fake_hub::FakeHub;
use whisper_spec::audio::load_audio;
use whisper_spec::decoding::draft::{Draft, DraftSpec};
use whisper_spec::decoding::speculative::SpecConfig;
use whisper_spec::model::WhisperConfig;
use whisper_spec::store::hub::HubOptions;
use whisper_spec::store::{ModelDir, Store};
use whisper_spec::{TranscribeOptions, Transcriber};

/// A random model with base's vocabulary files and the given shape, in `dir`.
fn synthetic_like_base(dir: &Path, encoder_layers: usize, decoder_layers: usize, seed: u64) {
    let base = common::models::store_model("base");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(base.join("config.json")).unwrap()).unwrap();
    for (key, value) in [
        ("d_model", 64),
        ("encoder_layers", encoder_layers),
        ("decoder_layers", decoder_layers),
        ("encoder_attention_heads", 2),
        ("decoder_attention_heads", 2),
        ("encoder_ffn_dim", 256),
        ("decoder_ffn_dim", 256),
    ] {
        cfg[key] = serde_json::json!(value);
    }
    let cfg: WhisperConfig = serde_json::from_value(cfg).unwrap();
    common::synthetic::write_model(dir, &cfg, seed);
    for f in ["tokenizer.json", "generation_config.json"] {
        std::fs::copy(base.join(f), dir.join(f)).unwrap();
    }
}

#[test]
fn auto_draft_of_large_v3_is_distil_from_the_hub_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let (target_dir, distil_repo) = (tmp.path().join("target"), tmp.path().join("distil"));
    synthetic_like_base(&target_dir, 2, 2, 1);
    // distil-whisper keeps the encoder and cuts the decoder down.
    synthetic_like_base(&distil_repo, 2, 1, 2);
    let mut hub = FakeHub::serve("distil-whisper/distil-large-v3", &distil_repo).unwrap();
    let store = Store {
        root: tmp.path().join("store"),
        hub: HubOptions {
            endpoint: Some(hub.endpoint.clone()),
            cache_dir: tmp.path().join("hf/hub"),
            token: None,
            offline: false,
            progress: false,
            revision: "main".into(),
        },
    };

    let dev = Device::Cpu;
    let dir = ModelDir::open(&target_dir).unwrap();
    let with = Transcriber::load(&dir, "large-v3", &dev).unwrap();
    let draft = Draft::build(
        &DraftSpec::Auto,
        with.model(),
        &dir,
        "large-v3",
        &store,
        &dev,
    )
    .unwrap()
    .expect("large-v3 pairs with a draft");
    assert_eq!(draft.label(), "distil-large-v3 (shared encoder)");
    assert_eq!(draft.decoder().expect("a decoder draft").layer_ids(), &[0]);
    assert!(hub.requests.load(Ordering::SeqCst) > 0);
    hub.stop();

    let with = with.with_draft(Some(draft), SpecConfig::for_target(2));
    let alone = Transcriber::load(&dir, "large-v3", &dev).unwrap();
    let audio = load_audio(common::shared_dir().join("corpus/jfk.flac")).unwrap();
    for timestamps in [false, true] {
        let opts = TranscribeOptions {
            language: Some("en".into()),
            timestamps,
            sample_len: 60,
            // Random weights fail every threshold: greedy only, for token identity.
            temperature_increment: None,
            ..TranscribeOptions::default()
        };
        let a = alone
            .transcribe_samples(&audio.samples, &opts, "jfk")
            .unwrap();
        let b = with
            .transcribe_samples(&audio.samples, &opts, "jfk")
            .unwrap();
        let tokens = |t: &whisper_spec::Transcript| -> Vec<u32> {
            t.segments.iter().flat_map(|s| s.tokens.clone()).collect()
        };
        assert!(
            !tokens(&a).is_empty(),
            "the random target produced no tokens"
        );
        assert_eq!(tokens(&a), tokens(&b), "timestamps {timestamps}");
        assert_eq!(a.text, b.text);
        assert!(b.stats.draft_tokens > 0, "the draft proposed nothing");
    }
}
