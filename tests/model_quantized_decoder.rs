//! Quantized self-drafts (`TextDecoder::quantize`): a Q8_0 or 4-bit copy of the target's decoder
//! that runs on the target's cross-attention K/V.
//!
//! Checked here: the copy keeps the cached decoder's guarantees (roll-back and forks exact;
//! blocks agree with one-token steps up to quantization noise, see `compare_feeding`), it stays
//! close to the f32 logits, its teacher-forced argmax agrees with the f32 target on real speech
//! (tiny.en and base on jfk), it quantizes odd vocabularies and widths (padded rows and columns
//! are cut off again), and quantizing leaves the f32 target untouched. A timing of decoder
//! steps, f32 against the quantized copies, is an ignored test (`decoder_step_timings`).

mod common;

use common::jfk::{golden_jfk_tokens, jfk_window};

use candle_core::quantized::GgmlDType;
use candle_core::{DType, Device, Tensor};
use whisper_spec::model::linear::QuantKind;
use whisper_spec::model::{CrossKv, TextDecoder, Whisper};
use whisper_spec::store::ModelDir;

fn logits_rows(t: &Tensor) -> Vec<Vec<f32>> {
    t.to_vec2::<f32>().unwrap()
}

fn largest_gap(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    assert_eq!(a.len(), b.len(), "row counts differ");
    let mut gap = 0.0f32;
    for (ra, rb) in a.iter().zip(b) {
        assert_eq!(ra.len(), rb.len(), "column counts differ");
        for (x, y) in ra.iter().zip(rb) {
            gap = gap.max((x - y).abs());
        }
    }
    gap
}

fn argmax(row: &[f32]) -> usize {
    row.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
            if v > best.1 { (i, v) } else { best }
        })
        .0
}

/// Logits of every position of `tokens`, fed in consecutive chunks of the sizes in `pattern`
/// (repeated as needed) through one fresh cache.
fn feed_in_chunks(
    decoder: &TextDecoder,
    cross: &CrossKv,
    tokens: &[u32],
    pattern: &[usize],
) -> Vec<Vec<f32>> {
    let mut cache = decoder.new_cache();
    let mut rows = Vec::with_capacity(tokens.len());
    let mut start = 0;
    let mut sizes = pattern.iter().cycle();
    while start < tokens.len() {
        let end = (start + sizes.next().unwrap()).min(tokens.len());
        let out = decoder
            .forward(&tokens[start..end], &mut cache, cross)
            .unwrap();
        assert_eq!(out.dims(), &[end - start, decoder.vocab_size()]);
        rows.extend(logits_rows(&out));
        start = end;
    }
    assert_eq!(cache.len(), tokens.len());
    rows
}

/// How far other ways of feeding the same tokens stray from feeding them one at a time.
#[derive(Debug, Default)]
struct FeedStats {
    /// Largest absolute logit difference.
    worst: f32,
    /// Rows compared, and rows whose argmax differs.
    rows: usize,
    argmax_changed: usize,
}

impl FeedStats {
    fn add(&mut self, stepwise: &[Vec<f32>], other: &[Vec<f32>]) {
        self.worst = self.worst.max(largest_gap(stepwise, other));
        self.rows += other.len();
        self.argmax_changed += stepwise
            .iter()
            .zip(other)
            .filter(|(a, b)| argmax(a) != argmax(b))
            .count();
    }
}

/// Feeds `tokens` every way a speculative decoder does and compares with one token at a time.
///
/// Asserted exactly (bit for bit): a roll-back (`truncate`) or a fork followed by one-token
/// steps reproduces the one-token run, i.e. the cache keeps exactly the right positions.
/// Measured (returned): blocks, uneven blocks and roll-back + block re-feed. These only agree
/// up to rounding: candle's kernels group f32 sums differently for a block than for one row,
/// and a quantized decoder's kernels also round each input row to 8 bits, where a last-bit
/// difference upstream can move a value to the neighbouring step.
fn compare_feeding(decoder: &TextDecoder, cross: &CrossKv, tokens: &[u32]) -> FeedStats {
    let stepwise = feed_in_chunks(decoder, cross, tokens, &[1]);
    let mut stats = FeedStats::default();
    for pattern in [vec![tokens.len()], vec![2, 5, 1, 3], vec![5]] {
        stats.add(&stepwise, &feed_in_chunks(decoder, cross, tokens, &pattern));
    }

    let mut cache = decoder.new_cache();
    for t in tokens {
        decoder.forward(&[*t], &mut cache, cross).unwrap();
    }
    for keep in [tokens.len() - 2, tokens.len() / 3, 2] {
        // Roll back, then re-feed one token at a time: identical.
        cache.truncate(keep);
        assert_eq!(cache.len(), keep);
        let again: Vec<Vec<f32>> = tokens[keep..]
            .iter()
            .flat_map(|t| logits_rows(&decoder.forward(&[*t], &mut cache, cross).unwrap()))
            .collect();
        assert_eq!(
            largest_gap(&stepwise[keep..], &again),
            0.0,
            "truncate({keep}) + one-token re-feed"
        );
        // Roll back, then re-feed as one block (a verify pass): close.
        cache.truncate(keep);
        let block = logits_rows(&decoder.forward(&tokens[keep..], &mut cache, cross).unwrap());
        assert_eq!(cache.len(), tokens.len());
        stats.add(&stepwise[keep..], &block);
        cache.truncate(keep);
        for t in &tokens[keep..] {
            decoder.forward(&[*t], &mut cache, cross).unwrap();
        }
    }

    // A fork continues independently of its parent, exactly.
    let split = tokens.len() / 2;
    let mut parent = decoder.new_cache();
    for t in &tokens[..split] {
        decoder.forward(&[*t], &mut parent, cross).unwrap();
    }
    let mut child = parent.fork().unwrap();
    let detour: Vec<u32> = tokens[split..].iter().map(|t| (t + 7) % 250).collect();
    decoder.forward(&detour, &mut parent, cross).unwrap();
    let resumed: Vec<Vec<f32>> = tokens[split..]
        .iter()
        .flat_map(|t| logits_rows(&decoder.forward(&[*t], &mut child, cross).unwrap()))
        .collect();
    assert_eq!(largest_gap(&stepwise[split..], &resumed), 0.0, "fork");
    stats
}

struct Loaded {
    model: Whisper,
    cross: CrossKv,
    /// Prompt then golden text tokens.
    tokens: Vec<u32>,
    prompt_len: usize,
}

fn load_with_jfk(name: &str, prompt: &[u32]) -> Loaded {
    let dir = ModelDir::open(&common::models::store_model(name)).unwrap();
    let model = Whisper::load(&dir, &Device::Cpu).unwrap();
    let features = model.encode(&jfk_window(), 3000).unwrap();
    let cross = model.decoder.cross_kv(&features).unwrap();
    let mut tokens = prompt.to_vec();
    tokens.extend(golden_jfk_tokens(name));
    Loaded {
        model,
        cross,
        tokens,
        prompt_len: prompt.len(),
    }
}

/// Quantizes the real decoder every way and checks each copy against the f32 target, all on
/// the target's cross-attention K/V.
fn check_real_model(name: &str, prompt: &[u32]) {
    let Loaded {
        model,
        cross,
        tokens,
        prompt_len,
    } = load_with_jfk(name, prompt);
    let target = &model.decoder;
    let reference = logits_rows(
        &target
            .forward(&tokens, &mut target.new_cache(), &cross)
            .unwrap(),
    );
    // Positions whose next token is a text token or the end of text.
    let scored = prompt_len - 1..tokens.len();
    let target_best: Vec<usize> = scored.clone().map(|i| argmax(&reference[i])).collect();
    let scale = reference
        .iter()
        .flatten()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    let dense_feed = compare_feeding(target, &cross, &tokens);
    eprintln!(
        "{name} f32: largest |logit| {scale:.1}; block vs one-token feeding: max diff {:e}, \
         argmax changed {}/{}",
        dense_feed.worst, dense_feed.argmax_changed, dense_feed.rows
    );
    assert!(dense_feed.worst <= 2e-4 && dense_feed.argmax_changed == 0);
    let follows_golden = scored
        .clone()
        .zip(&target_best)
        .filter(|&(i, &b)| tokens.get(i + 1).is_none_or(|&t| t as usize == b))
        .count();
    eprintln!(
        "{name}: f32 argmax follows the golden tokens at {follows_golden}/{} positions",
        target_best.len()
    );

    // (kind, type picked, least teacher-forced agreement, largest logit error / largest logit)
    for (kind, expected, min_agreement, max_error) in [
        (QuantKind::Q8_0, GgmlDType::Q8_0, 0.95, 0.05),
        (QuantKind::Q4, GgmlDType::Q4K, 0.80, 0.2),
        (QuantKind::Q4_0, GgmlDType::Q4_0, 0.80, 0.2),
    ] {
        let draft = target.quantize(kind).unwrap();
        assert_eq!(draft.quant_kind(), Some(expected));
        assert_eq!(draft.layer_ids(), target.layer_ids());
        assert_eq!(draft.vocab_size(), target.vocab_size());
        assert_eq!(draft.max_positions(), target.max_positions());

        let logits = logits_rows(
            &draft
                .forward(&tokens, &mut draft.new_cache(), &cross)
                .unwrap(),
        );
        let gap = largest_gap(&reference, &logits);
        let agree = scored
            .clone()
            .zip(&target_best)
            .filter(|&(i, &b)| argmax(&logits[i]) == b)
            .count();
        let agreement = agree as f64 / target_best.len() as f64;
        let feed = compare_feeding(&draft, &cross, &tokens);
        eprintln!(
            "{name} {expected:?}: max |logit - f32| {gap:.4}, teacher-forced argmax agreement \
             {agree}/{} = {agreement:.3}; block vs one-token feeding: max diff {:.4}, argmax \
             changed {}/{}",
            target_best.len(),
            feed.worst,
            feed.argmax_changed,
            feed.rows
        );
        assert!(
            gap.is_finite() && gap <= max_error * scale,
            "{name} {expected:?}: logits off by {gap}"
        );
        assert!(
            agreement >= min_agreement,
            "{name} {expected:?}: agreement {agreement} < {min_agreement}"
        );
        // Feeding in blocks stays within the quantization noise itself (see `compare_feeding`).
        assert!(
            feed.worst <= 2.0 * gap,
            "{name} {expected:?}: block vs one-token feeding differ by {}",
            feed.worst
        );
        assert!(
            feed.argmax_changed * 20 <= feed.rows,
            "{name} {expected:?}: argmax changed in {}/{} rows between ways of feeding",
            feed.argmax_changed,
            feed.rows
        );
    }

    // Quantizing made copies: the target's logits are what they were.
    let after = logits_rows(
        &target
            .forward(&tokens, &mut target.new_cache(), &cross)
            .unwrap(),
    );
    assert_eq!(largest_gap(&reference, &after), 0.0);
    assert_eq!(target.quant_kind(), None);
}

#[test]
fn tiny_en_quantized_drafts_follow_the_f32_target() {
    // sot, notimestamps; tiny's d_model 384 is padded to 512 for Q4K and the fast kernels.
    check_real_model("tiny.en", &[50257, 50362]);
}

#[test]
fn base_quantized_drafts_follow_the_f32_target() {
    // sot, en, transcribe, notimestamps; d_model 512 and MLP 2048 need no K padding.
    check_real_model("base", &[50258, 50259, 50359, 50363]);
}

/// A synthetic model on the CPU: (encoder-free) decoder, the target's cross K/V, and tokens.
fn synthetic(vocab: usize, d: usize, seed: u64) -> (tempfile::TempDir, TextDecoder, CrossKv) {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = common::synthetic::config(vocab, d, 1, 2);
    let vb = common::synthetic::build(tmp.path(), &cfg, seed);
    let dev = Device::Cpu;
    let decoder = TextDecoder::load(vb.pp("model.decoder"), &cfg).unwrap();
    let mut rng = common::ct2_writer::Lcg(seed + 1);
    let states: Vec<f32> = (0..1500 * d).map(|_| rng.uniform()).collect();
    let features = Tensor::from_vec(states, (1, 1500, d), &dev).unwrap();
    let cross = decoder.cross_kv(&features).unwrap();
    (tmp, decoder, cross)
}

#[test]
fn synthetic_odd_vocabulary_and_width_quantize_and_keep_cache_guarantees() {
    // 301 is odd and no multiple of 16: the padded head rows must be cut off again.
    for d in [64, 48] {
        check_synthetic(301, d);
    }
}

/// Quantizes a random model every way and checks shapes, closeness to f32, the feeding
/// guarantees and that the draft may use the target's cross K/V. `d` = 64 is whole blocks of
/// 32 but no multiple of 256 (Q4K pads it); 48 is not even whole blocks (every type pads it).
fn check_synthetic(vocab: usize, d: usize) {
    let (_tmp, target, cross) = synthetic(vocab, d, 21);
    let mut rng = common::ct2_writer::Lcg(9);
    let tokens: Vec<u32> = std::iter::once(vocab as u32 - 1)
        .chain((1..20).map(|_| rng.next_u32() % (vocab as u32 - 2)))
        .collect();
    let reference = logits_rows(
        &target
            .forward(&tokens, &mut target.new_cache(), &cross)
            .unwrap(),
    );
    let scale = reference
        .iter()
        .flatten()
        .fold(0.0f32, |m, v| m.max(v.abs()));
    for (kind, expected) in [
        (QuantKind::Q8_0, GgmlDType::Q8_0),
        (QuantKind::Q4, GgmlDType::Q4K),
        (QuantKind::Q4_0, GgmlDType::Q4_0),
    ] {
        let draft = target.quantize(kind).unwrap();
        assert_eq!(draft.quant_kind(), Some(expected));
        assert!(format!("{draft:?}").contains(&format!("{expected:?}")));
        let logits = logits_rows(
            &draft
                .forward(&tokens, &mut draft.new_cache(), &cross)
                .unwrap(),
        );
        assert_eq!(logits[0].len(), vocab);
        let gap = largest_gap(&reference, &logits);
        let feed = compare_feeding(&draft, &cross, &tokens);
        eprintln!(
            "synthetic vocab {vocab} d {d}, {expected:?}: max |logit - f32| {gap:.4} (largest \
             |logit| {scale:.2}); block vs one-token feeding: {feed:?}"
        );
        // Relative to the largest f32 logit: 8-bit weights stay within a few percent.
        let bound = if expected == GgmlDType::Q8_0 {
            0.03
        } else {
            0.2
        } * scale;
        assert!(gap < bound, "{expected:?}: max diff {gap} >= {bound}");

        // The draft's own cross K/V are the target's (those projections stay f32).
        let other = Tensor::ones((1, 1500, d), DType::F32, &Device::Cpu).unwrap();
        let own = draft.cross_kv(&other);
        let theirs = target.cross_kv(&other);
        let a = draft
            .forward(&tokens[..3], &mut draft.new_cache(), &own.unwrap())
            .unwrap();
        let b = draft
            .forward(&tokens[..3], &mut draft.new_cache(), &theirs.unwrap())
            .unwrap();
        assert_eq!(largest_gap(&logits_rows(&a), &logits_rows(&b)), 0.0);
    }
    // A quantized copy can be quantized again (from its dequantized weights).
    let twice = target
        .quantize(QuantKind::Q8_0)
        .unwrap()
        .quantize(QuantKind::Q4)
        .unwrap();
    assert_eq!(twice.quant_kind(), Some(GgmlDType::Q4K));
    let out = twice
        .forward(&tokens[..4], &mut twice.new_cache(), &cross)
        .unwrap();
    assert_eq!(out.dims(), &[4, vocab]);
}
