//! The entry points the cargo-fuzz targets in `fuzz/` call, one per attack surface, kept in the
//! library so that an ordinary stable test (`tests/fuzz_regressions.rs`) can replay every
//! crash input ever found through exactly the same code. Each takes arbitrary bytes and must
//! return (with an error or not) without panicking, hanging or allocating without bound.

use std::io::Write;
use std::path::Path;

use clap::Parser;

use crate::audio::{AudioStream, MelSpectrogram, wav_header};
use crate::model::WhisperConfig;

/// Most 16 kHz samples one input is decoded to: a short input can expand a lot (a FLAC of
/// constant subframes), and speed per execution matters more than length here.
const MAX_SAMPLES: usize = 30 * crate::audio::SAMPLE_RATE as usize;

/// Writes `bytes` to a temporary file named `name` (the extension is the decoder's hint).
fn temp_file(name: &str, bytes: &[u8]) -> Option<(tempfile::TempDir, std::path::PathBuf)> {
    let dir = tempfile::tempdir().ok()?;
    let path = dir.path().join(name);
    std::fs::File::create(&path).ok()?.write_all(bytes).ok()?;
    Some((dir, path))
}

/// Decodes, resamples and takes the mel of the audio file at `path`, up to [`MAX_SAMPLES`];
/// checks that whatever comes out is finite and bounded.
fn decode_to_mel(path: &Path) {
    let Ok(stream) = AudioStream::open(path) else {
        return;
    };
    let mut samples = Vec::new();
    for chunk in stream {
        let Ok(chunk) = chunk else { break };
        samples.extend_from_slice(&chunk);
        if samples.len() >= MAX_SAMPLES {
            samples.truncate(MAX_SAMPLES);
            break;
        }
    }
    assert!(
        samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0),
        "decoded samples out of range"
    );
    let mel = MelSpectrogram::new(80).compute(&samples);
    assert!(mel.data.iter().all(|v| v.is_finite()), "mel not finite");
}

/// Arbitrary bytes as an audio file of unknown type: probe, decode, resample, mel.
pub fn audio_pipeline(bytes: &[u8]) {
    if let Some((_dir, path)) = temp_file("input", bytes) {
        decode_to_mel(&path);
    }
}

/// Arbitrary bytes as a WAV or FLAC file (the first byte picks the extension hint, the rest is
/// the file): the `fmt ` chunk check, then the whole decode path.
pub fn audio_headers(bytes: &[u8]) {
    let Some((&pick, file)) = bytes.split_first() else {
        return;
    };
    let name = if pick & 1 == 0 {
        "input.wav"
    } else {
        "input.flac"
    };
    if let Ok(Some(fmt)) = wav_header::read_fmt(&mut std::io::Cursor::new(file)) {
        let _ = fmt.refusal();
    }
    if let Some((_dir, path)) = temp_file(name, file) {
        decode_to_mel(&path);
    }
}

/// Arbitrary bytes as a model's config.json: parsed and, when accepted, its tensor list built.
pub fn model_config(bytes: &[u8]) {
    let Some((_dir, path)) = temp_file("config.json", bytes) else {
        return;
    };
    if let Ok(config) = crate::store::layout::read_config(&path) {
        let tensors = config.expected_tensors();
        assert!(!tensors.is_empty());
    }
    let _ = serde_json::from_slice::<WhisperConfig>(bytes);
}

/// Arbitrary bytes as a weights file: opened as safetensors (every tensor then read) and as
/// a CTranslate2 model.bin (every variable's bytes touched).
pub fn weights(bytes: &[u8]) {
    use candle_nn::var_builder::SimpleBackend;
    let Some((_dir, path)) = temp_file("model.safetensors", bytes) else {
        return;
    };
    if let Ok(file) = crate::store::weights_file::WeightsFile::open(&path) {
        for name in file.names() {
            let _ = file.get_unchecked(&name, candle_core::DType::F32, &candle_core::Device::Cpu);
        }
    }
    if let Ok(model) = crate::store::ct2::Ct2Model::open(&path) {
        let names: Vec<String> = model.variables().map(|(n, _)| n.to_string()).collect();
        for name in names {
            if let Some(var) = model.get(&name) {
                let _ = model.bytes(var).len();
            }
            let _ = model.scalar_int(&name);
        }
        let _ = model.layer_count("encoder");
    }
}

/// Arbitrary bytes as a command line (arguments split at NUL or newline): parsed as the
/// binary parses it, and for `transcribe` and `batch` turned into decoding options. Nothing
/// is run.
pub fn cli_args(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    let args = std::iter::once("whisper-spec")
        .chain(text.split(['\0', '\n']).filter(|a| !a.is_empty()).take(64));
    if let Ok(cli) = crate::cli::Cli::try_parse_from(args) {
        match cli.command {
            crate::cli::Command::Transcribe(t) => {
                let _ = t.decode.options();
            }
            crate::cli::Command::Batch(b) => {
                let _ = b.decode.options();
            }
            _ => {}
        }
    }
}
