//! Best-of sampling with the candidates as rows of one pass, and `--verify` over every attempt.
//!
//! On real weights (base, as published) and real speech (JFK, one window): each batched
//! candidate is token for token, log-probability bit for bit, what the target alone samples
//! with that candidate's random stream, and what speculative sampling with the fused 8-bit
//! draft gives with it; at two temperatures, with and without timestamps, with a previous-text
//! prompt. Then the CLI's `--verify`, with every window forced through all six temperatures
//! (best-of 5 at each) and beam search at temperature 0, must find nothing to report.

mod common;

use std::process::Command;

use whisper_spec::decoding::sampling::Sampler;
use whisper_spec::decoding::speculative::SpecConfig;
use whisper_spec::transcribe::{TranscribeOptions, WindowPrompt};

fn bits(r: &whisper_spec::decoding::greedy::WindowDecode) -> (Vec<u32>, u64, u64) {
    (
        r.tokens.clone(),
        r.sum_logprob.to_bits(),
        r.no_speech_prob.to_bits(),
    )
}

#[test]
fn batched_candidates_are_each_the_targets_own_sample() {
    let with = common::models::speculative("base", "self-int8", SpecConfig::default());
    let audio =
        whisper_spec::audio::load_audio(common::shared_dir().join("corpus/jfk.flac")).unwrap();
    let window = with
        .encode_window(&with.first_window(&audio.samples))
        .unwrap();
    let previous = with.tokenizer().encode(" The president spoke.");
    let root = Sampler::new(7);
    let samplers: Vec<Sampler> = (0..5).map(|c| root.stream(c)).collect();
    let mut distinct = std::collections::BTreeSet::new();
    for timestamps in [true, false] {
        for temperature in [0.6f32, 1.0] {
            for previous in [&[][..], &previous[..]] {
                let opts = TranscribeOptions {
                    timestamps,
                    ..TranscribeOptions::default()
                };
                let prompt = WindowPrompt {
                    language: Some("en"),
                    previous,
                    prefix: &[],
                };
                let batched = with
                    .decode_candidates(&window, &prompt, &opts, temperature, &samplers)
                    .unwrap();
                assert_eq!(batched.len(), samplers.len());
                for (c, (got, sampler)) in batched.iter().zip(&samplers).enumerate() {
                    let case = format!(
                        "T {temperature}, timestamps {timestamps}, prompt {}, candidate {c}",
                        previous.len()
                    );
                    let (own, _) = with
                        .decode_window_with(
                            &window,
                            &prompt,
                            &opts,
                            temperature,
                            false,
                            &mut sampler.clone(),
                        )
                        .unwrap();
                    assert_eq!(bits(got), bits(&own), "{case}: batched vs target alone");
                    let (spec, stats) = with
                        .decode_window_with(
                            &window,
                            &prompt,
                            &opts,
                            temperature,
                            true,
                            &mut sampler.clone(),
                        )
                        .unwrap();
                    assert!(stats.is_some(), "{case}: the draft ran");
                    assert_eq!(bits(got), bits(&spec), "{case}: batched vs speculative");
                    distinct.insert(got.tokens.clone());
                }
            }
        }
    }
    // The candidates are real samples: different streams give different texts.
    assert!(
        distinct.len() > 8,
        "only {} distinct samples",
        distinct.len()
    );
}

#[test]
fn verify_finds_nothing_across_every_fallback_attempt_and_beam() {
    common::models::store_model("base");
    let jfk = common::shared_dir().join("corpus/jfk.flac");
    // A log-probability threshold of 0 fails every attempt: all six temperatures run, best-of
    // 5 at each above 0, and beam search at 0.
    let out = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["transcribe", "-m", "base", "--verify", "--beam-size", "3"])
        .args(["--logprob-threshold", "0", "--best-of", "3", "-f", "json"])
        .arg(&jfk)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        json.to_string().contains("temperature"),
        "no per-segment temperature in {json}"
    );
    let temperatures: Vec<f64> = json["segments"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["temperature"].as_f64())
        .collect();
    assert!(
        temperatures.iter().all(|&t| (t - 1.0).abs() < 1e-6),
        "every window ends at the last temperature: {temperatures:?}"
    );
}
