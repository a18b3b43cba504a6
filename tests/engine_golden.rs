//! Greedy token ids against Hugging Face transformers' (../shared/golden/transformers, same
//! weights, openai/whisper's front end): identical on every 16 kHz file, >= 95 % of the files
//! that need resampling (transformers resampled with PyAV, we with rubato). Every difference is
//! printed with the logit margin at the first differing position.

mod common;

use std::collections::HashMap;

use candle_core::{Device, IndexOp};
use whisper_spec::audio::load_audio;
use whisper_spec::decoding::filters::{FilterOptions, LogitFilters};
use whisper_spec::decoding::sampling::Sampler;
use whisper_spec::store::ModelDir;
use whisper_spec::text::Task;
use whisper_spec::transcribe::EncodedWindow;
use whisper_spec::{TranscribeOptions, Transcriber};

struct Golden {
    file: String,
    tokens: Vec<u32>,
}

fn golden(name: &str) -> Vec<Golden> {
    let path = common::shared_dir().join("golden/transformers").join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            Golden {
                file: v["file"].as_str().unwrap().to_string(),
                tokens: v["token_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_u64().unwrap() as u32)
                    .collect(),
            }
        })
        .collect()
}

/// Source sample rate of every corpus file, from the manifest.
fn sample_rates() -> HashMap<String, u32> {
    common::manifest_rows()
        .into_iter()
        .filter_map(|cols| Some((cols.first()?.clone(), cols.get(2)?.parse().ok()?)))
        .collect()
}

/// The first position where `ours` and `theirs` differ, and the filtered-logit margin there:
/// logit(our token) - logit(their token) with the decoder fed their prefix.
fn first_difference(
    t: &Transcriber,
    cross: &EncodedWindow,
    language: Option<&str>,
    timestamps: bool,
    ours: &[u32],
    theirs: &[u32],
) -> (usize, f32) {
    let k = ours
        .iter()
        .zip(theirs)
        .position(|(a, b)| a != b)
        .unwrap_or(ours.len().min(theirs.len()));
    let tok = t.tokenizer();
    let mut initial = tok.sot_sequence(language, Task::Transcribe).unwrap();
    if !timestamps {
        initial.push(tok.specials().no_timestamps);
    }
    let sample_begin = initial.len();
    let mut seq = initial.clone();
    seq.extend_from_slice(&theirs[..k]);
    let decoder = &t.model().decoder;
    let logits = decoder
        .forward(&seq, &mut decoder.new_cache(), &cross.cross)
        .unwrap();
    let mut row = logits.i(seq.len() - 1).unwrap().to_vec1::<f32>().unwrap();
    let filters = LogitFilters::new(
        tok,
        &FilterOptions::new(
            sample_begin,
            &t.model().generation.suppress_tokens,
            timestamps,
        ),
    );
    filters.apply(&seq, &mut row);
    let eot = tok.specials().eot;
    let ours_k = ours.get(k).copied().unwrap_or(eot);
    let theirs_k = theirs.get(k).copied().unwrap_or(eot);
    (k, row[ours_k as usize] - row[theirs_k as usize])
}

/// Runs every golden set of one model: exact on 16 kHz files, >= 95 % on resampled ones.
fn check_model(model: &str, sets: &[(&str, Option<&str>, bool)]) {
    let dir = ModelDir::open(&common::models::store_model(model)).unwrap();
    let t = Transcriber::load(&dir, model, &Device::Cpu).unwrap();
    let rates = sample_rates();
    let sets: Vec<(Vec<Golden>, Option<&str>, bool, &str)> = sets
        .iter()
        .map(|&(name, lang, ts)| (golden(name), lang, ts, name))
        .collect();
    let files: Vec<String> = sets[0].0.iter().map(|g| g.file.clone()).collect();

    let mut report = Vec::new();
    let (mut native_bad, mut native_total, mut other_bad, mut other_total) = (0, 0, 0, 0);
    for file in &files {
        let path = common::shared_dir().join("corpus").join(file);
        let audio = load_audio(&path).unwrap();
        let cross = t.encode_window(&t.first_window(&audio.samples)).unwrap();
        let native = rates.get(file).copied() == Some(16_000);
        for (set, lang, timestamps, name) in &sets {
            let Some(g) = set.iter().find(|g| &g.file == file) else {
                continue;
            };
            let language = match lang {
                Some(l) => Some(l.to_string()),
                None => Some(t.detect_language(&cross).unwrap().code),
            };
            let opts = TranscribeOptions {
                timestamps: *timestamps,
                task: Task::Transcribe,
                ..TranscribeOptions::default()
            };
            let ours = t
                .decode_window(
                    &cross,
                    language.as_deref(),
                    &[],
                    &opts,
                    false,
                    &mut Sampler::new(0),
                )
                .unwrap()
                .0
                .tokens;
            if native {
                native_total += 1;
            } else {
                other_total += 1;
            }
            if ours != g.tokens {
                let (k, margin) = first_difference(
                    &t,
                    &cross,
                    language.as_deref(),
                    *timestamps,
                    &ours,
                    &g.tokens,
                );
                report.push(format!(
                    "{model} {name} {file} ({}): first difference at token {k}: ours {:?} theirs {:?}, margin {margin:.4}",
                    if native { "16 kHz" } else { "resampled" },
                    ours.get(k),
                    g.tokens.get(k)
                ));
                if native {
                    native_bad += 1;
                } else {
                    other_bad += 1;
                }
            }
        }
    }
    for line in &report {
        eprintln!("DIFF {line}");
    }
    eprintln!(
        "{model}: 16 kHz {}/{native_total} identical, resampled {}/{other_total} identical",
        native_total - native_bad,
        other_total - other_bad
    );
    assert!(
        native_total + other_total >= files.len(),
        "every golden file decoded"
    );
    assert_eq!(native_bad, 0, "16 kHz files must match exactly");
    assert!(
        (other_total - other_bad) as f64 >= 0.95 * other_total as f64,
        "only {}/{other_total} resampled files match",
        other_total - other_bad
    );
}

#[test]
fn tiny_en_matches_transformers_token_for_token() {
    check_model(
        "tiny.en",
        &[
            ("tiny.en.notimestamps.jsonl", Some("en"), false),
            ("tiny.en.timestamps.jsonl", Some("en"), true),
        ],
    );
}

#[test]
fn base_matches_transformers_token_for_token() {
    check_model(
        "base",
        &[
            ("base.notimestamps.jsonl", Some("en"), false),
            ("base.timestamps.jsonl", Some("en"), true),
        ],
    );
}

#[test]
fn base_detects_language_and_matches_transformers_on_multilingual() {
    check_model("base", &[("base.multilingual.autolang.jsonl", None, false)]);
}
