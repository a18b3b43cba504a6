//! The cached decoder gives the same logits however the tokens are fed: one at a time, in one
//! block, in uneven blocks, after a roll-back (`truncate`) and re-feed, or in a fork. Checked on
//! a random synthetic model and on real tiny.en. On the CPU every way must give the very same
//! bits as one-token steps: the kernels compute each row on its own.

mod common;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use whisper_spec::audio::{N_SAMPLES, load_audio, log_mel_spectrogram};
use whisper_spec::model::{CrossKv, TextDecoder, Whisper, WhisperConfig};
use whisper_spec::store::ModelDir;

fn rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .flat_map(|(x, y)| x.iter().zip(y).map(|(p, q)| (p - q).abs()))
        .fold(0.0, f32::max)
}

/// Feeds `tokens` in blocks of the given sizes; returns every position's logits.
fn feed(decoder: &TextDecoder, cross: &CrossKv, tokens: &[u32], blocks: &[usize]) -> Vec<Vec<f32>> {
    let mut cache = decoder.new_cache();
    let mut out = Vec::new();
    let mut at = 0;
    for &b in blocks.iter().cycle() {
        if at >= tokens.len() {
            break;
        }
        let end = (at + b).min(tokens.len());
        out.extend(rows(
            &decoder
                .forward(&tokens[at..end], &mut cache, cross)
                .unwrap(),
        ));
        at = end;
    }
    assert_eq!(cache.len(), tokens.len());
    out
}

/// Every way of feeding agrees with one token at a time.
fn check_consistency(decoder: &TextDecoder, cross: &CrossKv, tokens: &[u32]) -> f32 {
    let single = feed(decoder, cross, tokens, &[1]);
    let mut worst = 0.0f32;
    for blocks in [vec![tokens.len()], vec![3, 1, 5, 2], vec![8]] {
        let d = max_diff(&single, &feed(decoder, cross, tokens, &blocks));
        assert!(d == 0.0, "blocks {blocks:?}: max diff {d}");
        worst = worst.max(d);
    }

    // Roll back and re-feed: from several points, with blocks.
    let mut cache = decoder.new_cache();
    decoder.forward(tokens, &mut cache, cross).unwrap();
    for keep in [tokens.len() - 1, tokens.len() / 2, 1] {
        cache.truncate(keep);
        assert_eq!(cache.len(), keep);
        let again = rows(&decoder.forward(&tokens[keep..], &mut cache, cross).unwrap());
        let d = max_diff(&single[keep..], &again);
        assert!(d == 0.0, "after truncate({keep}): max diff {d}");
        worst = worst.max(d);
    }

    // A fork continues independently of its parent.
    let half = tokens.len() / 2;
    let mut parent = decoder.new_cache();
    decoder
        .forward(&tokens[..half], &mut parent, cross)
        .unwrap();
    let mut child = parent.fork().unwrap();
    let other: Vec<u32> = tokens[half..].iter().map(|t| (t + 1) % 200).collect();
    decoder.forward(&other, &mut parent, cross).unwrap();
    let from_child = rows(&decoder.forward(&tokens[half..], &mut child, cross).unwrap());
    let d = max_diff(&single[half..], &from_child);
    assert!(d == 0.0, "fork: max diff {d}");
    worst.max(d)
}

fn tokens(seed: u64, n: usize, start: u32, vocab: u32) -> Vec<u32> {
    let mut rng = common::ct2_writer::Lcg(seed);
    std::iter::once(start)
        .chain((1..n).map(|_| rng.next_u32() % (vocab - 2)))
        .collect()
}

#[test]
fn synthetic_decoder_is_consistent_across_blocks_truncation_and_forks() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = common::synthetic::config(300, 32, 1, 3);
    let vb = common::synthetic::build(tmp.path(), &cfg, 11);
    let dev = Device::Cpu;
    let encoder = whisper_spec::model::AudioEncoder::load(vb.pp("model.encoder"), &cfg).unwrap();
    let decoder = TextDecoder::load(vb.pp("model.decoder"), &cfg).unwrap();
    let mut rng = common::ct2_writer::Lcg(5);
    let mel: Vec<f32> = (0..80 * 3000).map(|_| rng.uniform()).collect();
    let features = encoder
        .forward(&Tensor::from_vec(mel, (1, 80, 3000), &dev).unwrap())
        .unwrap();
    assert_eq!(features.dims(), &[1, 1500, 32]);
    let cross = decoder.cross_kv(&features).unwrap();
    let toks = tokens(3, 24, cfg.decoder_start_token_id, 300);
    let worst = check_consistency(&decoder, &cross, &toks);
    eprintln!("synthetic: worst max abs diff {worst:e}");

    // A subset of layers loads and runs; a missing layer is refused.
    let partial = TextDecoder::load_layers(vb.pp("model.decoder"), &cfg, &[0, 2]).unwrap();
    assert_eq!(partial.layer_ids(), &[0, 2]);
    check_consistency(&partial, &partial.cross_kv(&features).unwrap(), &toks);
    assert!(TextDecoder::load_layers(vb.pp("model.decoder"), &cfg, &[0, 3]).is_err());
}

#[test]
fn decoder_loads_alone_from_decoder_only_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg: WhisperConfig = common::synthetic::config(300, 32, 1, 2);
    common::synthetic::write_model(tmp.path(), &cfg, 4);
    // Keep only model.decoder.* (what a distil draft checkpoint used as a decoder provides).
    let bytes = std::fs::read(tmp.path().join("model.safetensors")).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let dec: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| n.starts_with("model.decoder."))
        .collect();
    let only = tmp.path().join("decoder.safetensors");
    safetensors::serialize_to_file(dec, None, &only).unwrap();
    let dev = Device::Cpu;
    let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[&only], DType::F32, &dev) }.unwrap();
    assert!(whisper_spec::model::AudioEncoder::load(vb.pp("model.encoder"), &cfg).is_err());
    let decoder = TextDecoder::load(vb.pp("model.decoder"), &cfg).unwrap();
    let features = Tensor::randn(0f32, 1.0, (1, 1500, 32), &dev).unwrap();
    let cross = decoder.cross_kv(&features).unwrap();
    let logits = decoder
        .forward(
            &[cfg.decoder_start_token_id, 5, 6],
            &mut decoder.new_cache(),
            &cross,
        )
        .unwrap();
    assert_eq!(logits.dims(), &[3, 300]);
}

#[test]
fn tiny_en_decoder_is_consistent_on_real_audio() {
    let dir = ModelDir::open(&common::models::store_model("tiny.en")).unwrap();
    let model = Whisper::load(&dir, &Device::Cpu).unwrap();
    let audio = load_audio(common::shared_dir().join("corpus/jfk.flac")).unwrap();
    let mel = log_mel_spectrogram(&audio.samples, 80, N_SAMPLES);
    let window: Vec<f32> = (0..80).flat_map(|m| mel.row(m)[..3000].to_vec()).collect();
    let features = model.encode(&window, 3000).unwrap();
    let cross = model.decoder.cross_kv(&features).unwrap();
    // sot, notimestamps, then the golden text tokens of jfk.
    let mut toks = vec![50257, 50362];
    toks.extend([
        843, 523, 616, 5891, 3399, 1265, 407, 644, 534, 1499, 460, 466, 329, 345,
    ]);
    let worst = check_consistency(&model.decoder, &cross, &toks);
    eprintln!("tiny.en: worst max abs diff {worst:e}");
}
