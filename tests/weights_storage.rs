//! Weights kept as published (f16, widened in the kernels) against the same weights widened to
//! f32 at load (`--weights f32`): real base, bit for bit. The encoder output of each window and
//! every decoder pass's logits (one-token steps along the transcript, and 8-token verify blocks)
//! are compared by their bits, and whole transcriptions of en_read and long/ must be the same
//! bytes.

mod common;

use candle_core::{Device, Tensor};
use whisper_spec::store::{ModelDir, WeightStorage};
use whisper_spec::{TranscribeOptions, Transcriber};

fn load_both(model: &str) -> (Transcriber, Transcriber) {
    let dir = ModelDir::open(&common::models::store_model(model)).unwrap();
    let published = Transcriber::load(&dir, model, &Device::Cpu).unwrap();
    let wide = Transcriber::load_stored(&dir, model, &Device::Cpu, WeightStorage::F32).unwrap();
    (published, wide)
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .into_iter()
        .map(f32::to_bits)
        .collect()
}

#[test]
fn published_half_weights_give_the_f32_weights_logits_bit_for_bit() {
    let (published, wide) = load_both("base");
    let opts = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    for file in [
        "jfk.flac",
        "en_misc/OSR_us_000_0034_8k.wav",
        "en_read/librispeech/1089-134686-0000.flac",
    ] {
        let path = common::shared_dir().join("corpus").join(file);
        let audio = whisper_spec::audio::load_audio(&path).unwrap();
        let window = published.first_window(&audio.samples);
        let (enc16, enc32) = (
            published.model().encode(&window, 3000).unwrap(),
            wide.model().encode(&window, 3000).unwrap(),
        );
        assert!(
            bits(&enc16) == bits(&enc32),
            "{file}: encoder output differs"
        );

        // The first window's tokens as the f32 model transcribes them, replayed through both
        // decoders: every one-token step, and the same tokens again in 8-token blocks.
        let transcript = wide.transcribe_file(&path, &opts).unwrap();
        let text: Vec<u32> = transcript
            .segments
            .iter()
            .flat_map(|s| s.tokens.clone())
            .take(60)
            .collect();
        assert!(text.len() >= 8, "{file}: only {} tokens", text.len());
        let sot = published.tokenizer().specials().sot;
        let (cross16, cross32) = (
            published.encode_window(&window).unwrap().cross,
            wide.encode_window(&window).unwrap().cross,
        );
        let (dec16, dec32) = (&published.model().decoder, &wide.model().decoder);
        let (mut cache16, mut cache32) = (dec16.new_cache(), dec32.new_cache());
        let (p16, p32) = (
            dec16.forward(&[sot], &mut cache16, &cross16).unwrap(),
            dec32.forward(&[sot], &mut cache32, &cross32).unwrap(),
        );
        assert!(bits(&p16) == bits(&p32), "{file}: prompt logits differ");
        for (i, &t) in text.iter().enumerate() {
            let (a, b) = (
                dec16.forward(&[t], &mut cache16, &cross16).unwrap(),
                dec32.forward(&[t], &mut cache32, &cross32).unwrap(),
            );
            assert!(bits(&a) == bits(&b), "{file}: step {i} logits differ");
        }
        let (mut cache16, mut cache32) = (dec16.new_cache(), dec32.new_cache());
        dec16.forward(&[sot], &mut cache16, &cross16).unwrap();
        dec32.forward(&[sot], &mut cache32, &cross32).unwrap();
        for (i, block) in text.chunks(8).enumerate() {
            let (a, b) = (
                dec16.forward(block, &mut cache16, &cross16).unwrap(),
                dec32.forward(block, &mut cache32, &cross32).unwrap(),
            );
            assert!(
                bits(&a) == bits(&b),
                "{file}: verify block {i} logits differ"
            );
        }
    }
}

#[test]
fn transcripts_are_the_same_bytes_in_both_storages() {
    let (published, wide) = load_both("base");
    // Defaults (timestamps, temperature fallback), English as the references are.
    let opts = TranscribeOptions {
        language: Some("en".into()),
        ..TranscribeOptions::default()
    };
    let files: Vec<String> = common::manifest_rows()
        .into_iter()
        .filter_map(|row| row.first().cloned())
        .filter(|f| f.starts_with("en_read/") || f.starts_with("long/"))
        .collect();
    assert!(files.len() >= 40, "only {} files", files.len());
    for file in &files {
        let path = common::shared_dir().join("corpus").join(file);
        let (a, b) = (
            published.transcribe_file(&path, &opts).unwrap(),
            wide.transcribe_file(&path, &opts).unwrap(),
        );
        assert_eq!(a.text, b.text, "{file}");
        let times = |t: &whisper_spec::Transcript| {
            t.segments
                .iter()
                .map(|s| (s.start.to_bits(), s.end.to_bits(), s.tokens.clone()))
                .collect::<Vec<_>>()
        };
        assert!(times(&a) == times(&b), "{file}: segments differ");
    }
}
