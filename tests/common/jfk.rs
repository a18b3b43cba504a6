//! jfk.flac as the model tests use it: its first window's log-mel and its golden tokens.

use whisper_spec::audio::{N_SAMPLES, load_audio, log_mel_spectrogram};

/// Row-major `[80, 3000]` log-mel of jfk.flac (the first 30 s window).
pub fn jfk_window() -> Vec<f32> {
    let audio = load_audio(super::shared_dir().join("corpus/jfk.flac")).unwrap();
    let mel = log_mel_spectrogram(&audio.samples, 80, N_SAMPLES);
    (0..80).flat_map(|m| mel.row(m)[..3000].to_vec()).collect()
}

/// The golden jfk.flac text tokens of `model` (transformers, greedy, no timestamps).
pub fn golden_jfk_tokens(model: &str) -> Vec<u32> {
    let path = super::shared_dir().join(format!("golden/transformers/{model}.notimestamps.jsonl"));
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["file"] == "jfk.flac")
        .map(|v| {
            v["token_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_u64().unwrap() as u32)
                .collect()
        })
        .unwrap_or_else(|| panic!("no jfk.flac in {}", path.display()))
}
