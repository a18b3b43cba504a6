//! The Silero VAD against faster-whisper 1.2.1 on corpus files: our speech probabilities
//! against onnxruntime's on the same ONNX file, our speech regions against
//! `get_speech_timestamps`' sample for sample (tests/data/vad/, made by reference.py there).

mod common;

use std::path::PathBuf;

use serde_json::Value;
use whisper_spec::audio::load_audio;
use whisper_spec::vad::{CHUNK_SAMPLES, SileroVad, VadError, VadOptions, VadState, speech_regions};

/// Largest difference allowed between our probabilities and onnxruntime's.
const TOLERANCE: f32 = 1e-4;

fn references() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/vad");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 3,
        "reference files missing in {}",
        dir.display()
    );
    files
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

fn samples(reference: &Value) -> Vec<f32> {
    let file = reference["file"].as_str().unwrap();
    let audio = load_audio(common::shared_dir().join("corpus").join(file)).unwrap();
    assert_eq!(
        audio.samples.len() as u64,
        reference["num_samples"].as_u64().unwrap(),
        "{file}"
    );
    audio.samples
}

fn options(json: &Value) -> VadOptions {
    let mut o = VadOptions::default();
    let f = |k: &str| json.get(k).and_then(Value::as_f64);
    let ms = |k: &str| json.get(k).and_then(Value::as_u64).map(|v| v as u32);
    o.threshold = f("threshold").unwrap_or(o.threshold);
    o.neg_threshold = f("neg_threshold").or(o.neg_threshold);
    o.max_speech_duration_s = f("max_speech_duration_s").unwrap_or(o.max_speech_duration_s);
    o.min_speech_duration_ms = ms("min_speech_duration_ms").unwrap_or(o.min_speech_duration_ms);
    o.min_silence_duration_ms = ms("min_silence_duration_ms").unwrap_or(o.min_silence_duration_ms);
    o.speech_pad_ms = ms("speech_pad_ms").unwrap_or(o.speech_pad_ms);
    o
}

#[test]
fn probabilities_match_onnxruntime() {
    let vad = SileroVad::load(common::models::vad_model()).unwrap();
    let mut overall = 0f32;
    for reference in references() {
        let file = reference["file"].as_str().unwrap();
        let expected: Vec<f32> = reference["probs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        let probs = vad.speech_probs(&samples(&reference)).unwrap();
        assert_eq!(probs.len(), expected.len(), "{file}: chunk count");
        let max = probs
            .iter()
            .zip(&expected)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!(
            "{file}: {} chunks, max |ours - onnxruntime| = {max:.3e}",
            probs.len()
        );
        assert!(max <= TOLERANCE, "{file}: max abs diff {max}");
        // Not a constant: the files have speech and pauses.
        assert!(
            probs.iter().any(|&p| p > 0.8) && probs.iter().any(|&p| p < 0.1),
            "{file}"
        );
        overall = overall.max(max);
    }
    eprintln!("max |ours - onnxruntime| over all files = {overall:.3e}");
}

#[test]
fn regions_match_faster_whisper_exactly() {
    let vad = SileroVad::load(common::models::vad_model()).unwrap();
    for reference in references() {
        let file = reference["file"].as_str().unwrap();
        let audio = samples(&reference);
        let probs = vad.speech_probs(&audio).unwrap();
        for case in reference["regions"].as_array().unwrap() {
            let options = options(&case["options"]);
            let expected: Vec<std::ops::Range<usize>> = case["regions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r[0].as_u64().unwrap() as usize..r[1].as_u64().unwrap() as usize)
                .collect();
            assert!(!expected.is_empty());
            let regions = speech_regions(&probs, audio.len(), &options);
            assert_eq!(regions, expected, "{file} with {options:?}");
            assert_eq!(vad.detect(&audio, &options).unwrap(), expected);
        }
    }
}

#[test]
fn streaming_in_uneven_pieces_equals_one_pass() {
    let vad = SileroVad::load(common::models::vad_model()).unwrap();
    let reference = &references()[0];
    let mut audio = samples(reference);
    audio.truncate(audio.len() / CHUNK_SAMPLES * CHUNK_SAMPLES);
    let whole = vad.process(&audio, &mut VadState::default()).unwrap();

    let mut state = VadState::default();
    let mut pieces = Vec::new();
    let mut at = 0;
    for (k, size) in [1usize, 7, 2, 30, 1].iter().cycle().enumerate() {
        if at == audio.len() {
            break;
        }
        let end = (at + size * CHUNK_SAMPLES).min(audio.len());
        pieces.extend(vad.process(&audio[at..end], &mut state).unwrap());
        at = end;
        assert!(k < 10_000);
    }
    assert_eq!(pieces.len(), whole.len());
    let max = pieces
        .iter()
        .zip(&whole)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(max <= 1e-5, "streaming differs from one pass by {max}");
}

#[test]
fn a_file_that_is_not_the_model_is_refused_by_name() {
    let wav = common::shared_dir().join("corpus/formats/jfk_16000_mono_s16.wav");
    match SileroVad::load(&wav) {
        Err(e @ (VadError::Format { .. } | VadError::Graph { .. })) => {
            assert!(e.to_string().contains("jfk_16000_mono_s16.wav"), "{e}")
        }
        other => panic!("a WAV file loaded as the VAD model: {other:?}"),
    }
    let missing = common::shared_dir().join("no-such-vad.onnx");
    let e = SileroVad::load(&missing).unwrap_err();
    assert!(matches!(e, VadError::Io { .. }) && e.to_string().contains("no-such-vad.onnx"));
}
