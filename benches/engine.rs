//! Engine speed on real weights (tiny.en and base, CPU): encoder time per 30 s window,
//! decoder time per single-token step and per K-token block (K = 2, 3, 5, 8, 13: the
//! speculative verify shapes) for the decoder with its weights as published (f16) and widened
//! to f32, its Q8_0 / Q4K self-draft copies and the fused 8-bit draft, each measured with the
//! cache at a realistic length and rolled back after every call.
//! Run: `cargo bench --bench engine` (needs the models: `models/fetch.sh`).

use std::path::{Path, PathBuf};

use candle_core::Device;
use criterion::{Criterion, criterion_group, criterion_main};
use whisper_spec::Transcriber;
use whisper_spec::audio::load_audio;
use whisper_spec::model::linear::QuantKind;
use whisper_spec::store::{ModelDir, Store, WeightStorage};

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

fn bench_model(c: &mut Criterion, name: &str) {
    let dir = Store::from_env()
        .fetch(name, false)
        .unwrap_or_else(|e| panic!("cannot fetch {name}: {e}"))
        .model
        .dir;
    let model_dir = ModelDir::open(&dir).unwrap();
    let t = Transcriber::load(&model_dir, name, &Device::Cpu).unwrap();
    // The same model with every weight widened to f32 at load: the storage the published
    // half-precision one is compared against (same logits, twice the bytes).
    let wide =
        Transcriber::load_stored(&model_dir, name, &Device::Cpu, WeightStorage::F32).unwrap();
    let audio = load_audio(shared().join("corpus/jfk.flac")).unwrap();
    let window = t.first_window(&audio.samples);
    let mut group = c.benchmark_group(name);
    group.sample_size(10);
    group.bench_function("encoder 30 s window", |b| {
        b.iter(|| t.model().encode(&window, 3000).unwrap())
    });
    group.bench_function("encoder 30 s window, f32 weights", |b| {
        b.iter(|| wide.model().encode(&window, 3000).unwrap())
    });
    let cross = t.encode_window(&window).unwrap().cross;
    let decoder = &t.model().decoder;
    let sot = t.tokenizer().specials().sot;
    // A cache holding 24 positions, as in the middle of a sentence.
    let prefix: Vec<u32> = std::iter::once(sot)
        .chain((0..23).map(|i| 400 + i))
        .collect();
    let q8 = decoder.quantize(QuantKind::Q8_0).unwrap();
    let q4 = decoder.quantize(QuantKind::Q4).unwrap();
    let wide_decoder = &wide.model().decoder;
    for (label, dec) in [
        ("published", decoder),
        ("f32", wide_decoder),
        ("q8_0", &q8),
        ("q4k", &q4),
    ] {
        // Quantized copies reuse the target's cross-attention, as self-drafts do.
        let mut cache = dec.new_cache();
        dec.forward(&prefix, &mut cache, &cross).unwrap();
        let base = cache.len();
        group.bench_function(format!("decoder {label} step, 1 token"), |b| {
            b.iter(|| {
                dec.forward(&[500], &mut cache, &cross).unwrap();
                cache.truncate(base);
            })
        });
        // The speculative verify shapes: K new tokens in one pass (K = gamma + 1).
        for k in [2u32, 3, 5, 8, 13] {
            let block: Vec<u32> = (500..500 + k).collect();
            group.bench_function(format!("decoder {label} block, {k} tokens"), |b| {
                b.iter(|| {
                    dec.forward(&block, &mut cache, &cross).unwrap();
                    cache.truncate(base);
                })
            });
        }
    }
    // A window's prompt pass: 223 previous-text tokens and the start of transcript, logits of
    // the last row only (as the decoding loop asks).
    let prompt: Vec<u32> = (0..224).map(|i| 400 + (i * 37) % 5000).collect();
    group.bench_function("decoder f32 prompt pass, 224 tokens", |b| {
        b.iter(|| {
            let mut cache = decoder.new_cache();
            decoder
                .forward_rows(&prompt, &mut cache, &cross, Some(&[223]))
                .unwrap()
        })
    });
    // The fused 8-bit self-draft (the default draft where the CPU has AVX-512 VNNI).
    let int8 = whisper_spec::model::FusedDraft::from_decoder(decoder).unwrap();
    let int8_cross_attention = int8.cross(&cross).unwrap();
    let mut state = int8.new_state();
    let mut logits = Vec::new();
    int8.forward_last(&prefix, &mut state, &int8_cross_attention, &mut logits)
        .unwrap();
    let base = state.len();
    group.bench_function("decoder int8 step, 1 token", |b| {
        b.iter(|| {
            int8.forward_last(&[500], &mut state, &int8_cross_attention, &mut logits)
                .unwrap();
            state.truncate(base);
        })
    });
    group.bench_function("decoder int8 prompt pass, 224 tokens", |b| {
        b.iter(|| {
            let mut state = int8.new_state();
            int8.forward_last(&prompt, &mut state, &int8_cross_attention, &mut logits)
                .unwrap()
        })
    });
    group.bench_function("int8 cross keys/values per window", |b| {
        b.iter(|| int8.cross(&cross).unwrap())
    });
    group.finish();
}

fn engine(c: &mut Criterion) {
    bench_model(c, "tiny.en");
    bench_model(c, "base");
}

criterion_group!(benches, engine);
criterion_main!(benches);
