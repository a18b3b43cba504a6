//! Real models: transcripts with a self-draft are identical, token for token, to the target
//! alone (tiny.en with self-int8, self-q8 and self-q4, base with self-int8, self-q8, self-q4 and
//! self-layers:2), with and without
//! timestamps, on a sample of the corpus (the whole corpus is checked with `--verify`; see the
//! closing notes). Speculative beam search on base gives the target's beams: the same tokens
//! and the same bits of every segment's scores.

mod common;

use candle_core::Device;
use whisper_spec::decoding::draft::{Draft, DraftSpec};
use whisper_spec::decoding::speculative::SpecConfig;
use whisper_spec::store::{ModelDir, Store};
use whisper_spec::{TranscribeOptions, Transcriber, Transcript};

const FILES: &[&str] = &[
    "jfk.flac",
    "en_read/librispeech/1089-134686-0000.flac",
    "en_read/librispeech/2830-3980-0043.wav",
    "en_read/librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
    "en_read/ljspeech/LJ001-0001.wav",
    "en_misc/OSR_us_000_0034_8k.wav",
    "multilingual/picovoice_test_de.wav",
];

fn tokens(t: &Transcript) -> Vec<u32> {
    t.segments.iter().flat_map(|s| s.tokens.clone()).collect()
}

/// Checks each (draft, number of FILES to use) pair on `model`.
fn check(model: &str, drafts: &[(&str, usize)]) {
    let dir = ModelDir::open(&common::models::store_model(model)).unwrap();
    let alone = Transcriber::load(&dir, model, &Device::Cpu).unwrap();
    let english_only = !alone.tokenizer().is_multilingual();
    for &(draft_name, n_files) in drafts {
        let with = common::models::speculative(model, draft_name, SpecConfig::default());
        let (mut proposed, mut accepted, mut calls, mut toks) = (0, 0, 0, 0);
        for file in &FILES[..n_files] {
            if english_only && file.starts_with("multilingual/") {
                continue;
            }
            let path = common::shared_dir().join("corpus").join(file);
            for timestamps in [true, false] {
                // Greedy only: token identity is the contract of greedy decoding (a sampled
                // fallback attempt follows the target's distribution, not its samples).
                let opts = TranscribeOptions {
                    timestamps,
                    temperature_increment: None,
                    ..TranscribeOptions::default()
                };
                let reference = alone.transcribe_file(&path, &opts).unwrap();
                let spec = with.transcribe_file(&path, &opts).unwrap();
                assert_eq!(
                    tokens(&spec),
                    tokens(&reference),
                    "{model} + {draft_name}, {file}, timestamps {timestamps}"
                );
                assert_eq!(spec.text, reference.text);
                proposed += spec.stats.draft_tokens;
                accepted += spec.stats.accepted_tokens;
                calls += spec.stats.target_calls;
                toks += spec.stats.tokens;
            }
        }
        eprintln!(
            "{model} + {draft_name}: acceptance {:.3}, {:.2} tokens per target call",
            accepted as f64 / proposed.max(1) as f64,
            toks as f64 / calls.max(1) as f64
        );
    }
}

/// The rounds `--show-drafts` prints are the decode's own: their kept proposals and the
/// target's tokens after them, in order, are the transcript's tokens (one window, one
/// attempt), and their counts are the statistics'.
#[test]
fn speculation_rounds_rebuild_the_tokens() {
    let with = common::models::speculative("tiny.en", "self-int8", SpecConfig::default());
    let path = common::shared_dir().join("corpus/jfk.flac");
    for timestamps in [true, false] {
        let opts = TranscribeOptions {
            timestamps,
            temperature_increment: None,
            ..TranscribeOptions::default()
        };
        let t = with.transcribe_file(&path, &opts).unwrap();
        let eot = with.tokenizer().specials().eot;
        let rounds = &t.stats.rounds;
        assert!(rounds.len() > 1);
        let rebuilt: Vec<u32> = rounds
            .iter()
            .flat_map(|r| r.proposed[..r.accepted].iter().copied().chain(r.emitted))
            .filter(|&token| token != eot)
            .collect();
        assert_eq!(rebuilt, tokens(&t), "timestamps {timestamps}");
        let proposed: usize = rounds.iter().map(|r| r.proposed.len()).sum();
        let kept: usize = rounds.iter().map(|r| r.accepted).sum();
        assert_eq!(
            (proposed, kept),
            (t.stats.draft_tokens, t.stats.accepted_tokens)
        );
    }
}

#[test]
fn tiny_en_self_drafts_change_nothing() {
    check(
        "tiny.en",
        &[
            ("self-int8", FILES.len()),
            ("self-q8", FILES.len()),
            ("self-q4", FILES.len()),
        ],
    );
}

#[test]
fn base_self_drafts_change_nothing() {
    // self-layers:2 is an untrained draft (acceptance near 0): slow, so fewer files.
    check(
        "base",
        &[
            ("self-int8", FILES.len()),
            ("self-q8", FILES.len()),
            ("self-q4", 3),
            ("self-layers:2", 2),
        ],
    );
}

#[test]
fn base_speculative_beam_search_changes_nothing() {
    let model = "base";
    let dir = ModelDir::open(&common::models::store_model(model)).unwrap();
    let alone = Transcriber::load(&dir, model, &Device::Cpu).unwrap();
    let (mut proposed, mut accepted) = (0, 0);
    for draft_name in ["self-int8", "self-q8"] {
        let with = common::models::speculative(model, draft_name, SpecConfig::for_target(6));
        // Two windows (seek), German, and the 8 kHz phone recording; temperature fallback on.
        for (file, timestamps) in [
            ("jfk.flac", true),
            (
                "en_read/librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
                true,
            ),
            ("multilingual/picovoice_test_de.wav", false),
            ("en_misc/OSR_us_000_0034_8k.wav", true),
        ] {
            let path = common::shared_dir().join("corpus").join(file);
            let opts = TranscribeOptions {
                timestamps,
                beam_size: Some(5),
                speculative_beams: true,
                ..TranscribeOptions::default()
            };
            let reference = alone.transcribe_file(&path, &opts).unwrap();
            let spec = with.transcribe_file(&path, &opts).unwrap();
            let what = format!("{draft_name}, {file}");
            assert_eq!(tokens(&spec), tokens(&reference), "{what}");
            assert_eq!(spec.segments.len(), reference.segments.len(), "{what}");
            for (a, b) in spec.segments.iter().zip(&reference.segments) {
                assert_eq!(a.avg_logprob.to_bits(), b.avg_logprob.to_bits(), "{what}");
                assert_eq!(
                    a.no_speech_prob.to_bits(),
                    b.no_speech_prob.to_bits(),
                    "{what}"
                );
            }
            assert!(
                spec.stats.draft_tokens > 0,
                "{what}: the draft proposed nothing"
            );
            assert!(
                spec.stats.target_calls < reference.stats.target_calls,
                "{what}"
            );
            proposed += spec.stats.draft_tokens;
            accepted += spec.stats.accepted_tokens;
        }
    }
    eprintln!("speculative beams: {accepted} of {proposed} tree nodes accepted");
}

#[test]
fn a_draft_with_another_vocabulary_is_refused_by_name() {
    let dir = ModelDir::open(&common::models::store_model("base")).unwrap();
    let device = Device::Cpu;
    let target = Transcriber::load(&dir, "base", &device).unwrap();
    let tiny = common::models::store_model("tiny.en");
    let spec = DraftSpec::Model(tiny.display().to_string());
    let err = Draft::build(
        &spec,
        target.model(),
        &dir,
        "base",
        &Store::from_env(),
        &device,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("vocabulary size 51864 vs the target's 51865"),
        "{err}"
    );
}
