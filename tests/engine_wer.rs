//! Long-form quality: WER (normalised) over en_read and long, ours vs faster-whisper's on the
//! same weights (../shared/golden/faster-whisper, greedy, timestamps, previous-text prompt):
//! ours must be within 0.5 points of theirs, and our segment times within 0.5 s of theirs
//! (median over segments).

mod common;

use std::collections::HashMap;

use candle_core::Device;
use whisper_spec::store::ModelDir;
use whisper_spec::text::wer::corpus_wer;
use whisper_spec::{TranscribeOptions, Transcriber};

/// (file, reference transcript) for en_read and long rows whose notes allow WER.
fn references() -> Vec<(String, String)> {
    common::manifest_rows()
        .into_iter()
        .filter_map(|c| {
            let file = c.first()?.as_str();
            let notes = c.get(9).map_or("", String::as_str);
            let usable = (file.starts_with("en_read/") || file.starts_with("long/"))
                && !notes.contains("APPROXIMATE")
                && !notes.contains("UNVERIFIED");
            let transcript = c.get(8)?;
            usable.then(|| (file.to_string(), transcript.to_string()))
        })
        .collect()
}

/// faster-whisper's text and segment (start, end) times per file.
fn theirs(model: &str) -> HashMap<String, (String, Vec<(f64, f64)>)> {
    let path = common::shared_dir().join(format!("golden/faster-whisper/{model}.timestamps.jsonl"));
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let segments = v["segments"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| (s["start"].as_f64().unwrap(), s["end"].as_f64().unwrap()))
                .collect();
            (
                v["file"].as_str().unwrap().to_string(),
                (v["text"].as_str().unwrap().to_string(), segments),
            )
        })
        .collect()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn check(model: &str) {
    let dir = ModelDir::open(&common::models::store_model(model)).unwrap();
    let t = Transcriber::load(&dir, model, &Device::Cpu).unwrap();
    // The references were made greedy without fallback: compare like with like.
    let opts = TranscribeOptions {
        language: Some("en".into()),
        temperature_increment: None,
        ..TranscribeOptions::default()
    };
    let theirs = theirs(model);
    let refs = references();
    assert!(refs.len() >= 45, "only {} reference files", refs.len());
    let (mut ours_pairs, mut theirs_pairs) = (Vec::new(), Vec::new());
    let (mut d_start, mut d_end) = (Vec::new(), Vec::new());
    for (file, reference) in &refs {
        let (their_text, their_segments) = theirs
            .get(file)
            .unwrap_or_else(|| panic!("faster-whisper golden lacks {file}"));
        let path = common::shared_dir().join("corpus").join(file);
        let ours = t.transcribe_file(&path, &opts).unwrap();
        // Each of our segments against faster-whisper's nearest by start.
        for s in &ours.segments {
            let (start, end) = their_segments
                .iter()
                .min_by(|a, b| (a.0 - s.start).abs().total_cmp(&(b.0 - s.start).abs()))
                .copied()
                .unwrap_or_else(|| panic!("faster-whisper has no segments for {file}"));
            d_start.push((s.start - start).abs());
            d_end.push((s.end - end).abs());
        }
        ours_pairs.push((reference.clone(), ours.text));
        theirs_pairs.push((reference.clone(), their_text.clone()));
    }
    let (ms, me) = (median(d_start), median(d_end));
    eprintln!(
        "{model}: segment times vs faster-whisper: median |start| {ms:.3} s, |end| {me:.3} s"
    );
    assert!(
        ms <= 0.5 && me <= 0.5,
        "{model}: segment times {ms} / {me} s from faster-whisper's"
    );
    let (ours, theirs) = (corpus_wer(&ours_pairs), corpus_wer(&theirs_pairs));
    eprintln!(
        "{model}: WER ours {ours:.2} %, faster-whisper {theirs:.2} % over {} files",
        refs.len()
    );
    assert!(
        ours <= theirs + 0.5,
        "{model}: WER {ours:.2} vs faster-whisper {theirs:.2}"
    );
}

#[test]
fn tiny_en_wer_is_within_half_a_point_of_faster_whisper() {
    check("tiny.en");
}

#[test]
fn base_wer_is_within_half_a_point_of_faster_whisper() {
    check("base");
}

#[test]
fn normaliser_and_edit_distance_behave() {
    use whisper_spec::text::wer::{edits, words};
    assert_eq!(
        words("Mr. Smith's  dog-house, ok?"),
        ["mister", "smith's", "dog", "house", "ok"]
    );
    let w = |s: &str| words(s);
    assert_eq!(edits(&w("a b c d"), &w("a x c")), 2);
    assert_eq!(edits(&w(""), &w("a b")), 2);
    assert!((corpus_wer(&[("a b c d".into(), "a b c d".into())])).abs() < 1e-12);
}
