//! Batched beams: one decoder pass over every live beam gives each beam bit for bit the logits
//! (and leaves it the cache) of its own one-token pass, on real weights (tiny.en and base, as
//! published), several steps in a row, with beams that share a prefix and beams that do not.

mod common;

use candle_core::{Device, IndexOp};
use whisper_spec::Transcriber;
use whisper_spec::model::KvCache;
use whisper_spec::store::ModelDir;

fn check(model: &str) {
    let dir = ModelDir::open(&common::models::store_model(model)).unwrap();
    let t = Transcriber::load(&dir, model, &Device::Cpu).unwrap();
    let audio =
        whisper_spec::audio::load_audio(common::shared_dir().join("corpus/jfk.flac")).unwrap();
    let cross = t
        .encode_window(&t.first_window(&audio.samples))
        .unwrap()
        .cross;
    let dec = &t.model().decoder;
    let sot = t.tokenizer().specials().sot;
    // Five beams of nine positions: two share all but their last token, the rest differ.
    let prefixes: Vec<Vec<u32>> = (0..5u32)
        .map(|b| {
            let mut p = vec![sot];
            p.extend((0..8).map(|i| 300 + (if b < 2 { i } else { b * 97 + i * 13 })));
            if b == 1 {
                *p.last_mut().unwrap() += 1;
            }
            p
        })
        .collect();
    let fill = |p: &[u32]| {
        let mut c = dec.new_cache();
        dec.forward(p, &mut c, &cross).unwrap();
        c
    };
    let mut batched: Vec<KvCache> = prefixes.iter().map(|p| fill(p)).collect();
    let mut alone: Vec<KvCache> = prefixes.iter().map(|p| fill(p)).collect();
    for step in 0..4u32 {
        let tokens: Vec<u32> = (0..5u32).map(|b| 1000 + 31 * b + step).collect();
        let mut refs: Vec<&mut KvCache> = batched.iter_mut().collect();
        let together = dec.forward_beams(&tokens, &mut refs, &cross).unwrap();
        assert_eq!(together.dims(), &[5, dec.vocab_size()]);
        for (b, cache) in alone.iter_mut().enumerate() {
            let own = dec.forward(&[tokens[b]], cache, &cross).unwrap();
            let bits = |v: Vec<f32>| v.into_iter().map(f32::to_bits).collect::<Vec<_>>();
            assert!(
                bits(own.i(0).unwrap().to_vec1().unwrap())
                    == bits(together.i(b).unwrap().to_vec1().unwrap()),
                "{model}: beam {b} step {step} logits differ"
            );
        }
    }
    assert!(batched.iter().all(|c| c.len() == 13));
    // Caches of different lengths are refused.
    let mut short = fill(&prefixes[0][..4]);
    let mut refs: Vec<&mut KvCache> = vec![&mut batched[0], &mut short];
    assert!(dec.forward_beams(&[1, 2], &mut refs, &cross).is_err());
}

#[test]
fn batched_beams_are_bitwise_their_own_passes_tiny_en() {
    check("tiny.en");
}

#[test]
fn batched_beams_are_bitwise_their_own_passes_base() {
    check("base");
}
