//! Speculative beam search equals target-only beam search token for token, with the same bits
//! of sum and average log-probability and of the no-speech probability, on random synthetic
//! models: beam sizes 2, 5 and 8, draft lengths 1, 3 and 8 (fixed and adapting), timestamps on
//! and off, patience 1 and 2, previous-text prompts, end-of-text anywhere in the tree, and
//! windows that run into the decoder's 448-position limit; drafts that are often wrong (a
//! different random model on the target's encoder output, the target's second layer alone),
//! the fused 8-bit copy of the target, and the target itself (whose proposals all stand). The
//! token tree's logits are checked against plain decodes row by row, and the batched target
//! search against the one-at-a-time one.

mod common;

use candle_core::{DType, Device, IndexOp, Tensor};
use candle_nn::VarBuilder;
use whisper_spec::decoding::beam::{BeamPasses, decode_beam, decode_beam_with};
use whisper_spec::decoding::draft_session::{DecoderDraft, DraftSession, FusedDraftSession};
use whisper_spec::decoding::filters::{FilterOptions, LogitFilters};
use whisper_spec::decoding::greedy::WindowDecode;
use whisper_spec::decoding::speculative::{SpecConfig, SpecStats};
use whisper_spec::decoding::speculative_beam::decode_speculative_beam;
use whisper_spec::decoding::task::WindowTask;
use whisper_spec::model::{
    AudioEncoder, CrossKv, FusedDraft, FusedDraftCrossKv, KvCache, TextDecoder, TreeNode,
};

use common::synthetic::{VOCAB, long_prompt, specials};

struct Model {
    encoder: AudioEncoder,
    decoder: TextDecoder,
    subset: TextDecoder,
}

/// A random model of width `d` with `heads` heads and two decoder layers, and its second
/// decoder layer alone (a draft that is right part of the time). End-of-text's row of the tied
/// embedding is scaled up, so that its logit swings widely and it is often among the best
/// candidates: hypotheses then finish anywhere, inside the draft's trees too.
fn model(dir: &std::path::Path, d: usize, heads: usize, seed: u64) -> Model {
    let mut cfg = common::synthetic::config(VOCAB, d, 1, 2);
    cfg.encoder_attention_heads = heads;
    cfg.decoder_attention_heads = heads;
    common::synthetic::write_model(dir, &cfg, seed);
    let mut tensors =
        candle_core::safetensors::load(dir.join("model.safetensors"), &Device::Cpu).unwrap();
    let name = "model.decoder.embed_tokens.weight";
    let eot = specials().eot as usize;
    let table = &tensors[name];
    let rows: Vec<Tensor> = (0..VOCAB)
        .map(|t| {
            let row = table.get(t).unwrap();
            if t == eot {
                (row + (table.get(250).unwrap() * 0.9).unwrap()).unwrap()
            } else {
                row
            }
        })
        .collect();
    let boosted = Tensor::stack(&rows, 0).unwrap();
    tensors.insert(name.to_string(), boosted);
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &Device::Cpu);
    Model {
        encoder: AudioEncoder::load(vb.pp("model.encoder"), &cfg).unwrap(),
        decoder: TextDecoder::load(vb.pp("model.decoder"), &cfg).unwrap(),
        subset: TextDecoder::load_layers(vb.pp("model.decoder"), &cfg, &[1]).unwrap(),
    }
}

fn mel(seed: u64) -> Tensor {
    let mut rng = common::ct2_writer::Lcg(seed);
    let data: Vec<f32> = (0..80 * 3000).map(|_| rng.uniform()).collect();
    Tensor::from_vec(data, (1, 80, 3000), &Device::Cpu).unwrap()
}

fn assert_same(spec: &WindowDecode, reference: &WindowDecode, what: &str) {
    assert_eq!(spec.tokens, reference.tokens, "{what}: tokens");
    assert_eq!(spec.finished, reference.finished, "{what}: finished");
    for (name, a, b) in [
        ("sum_logprob", spec.sum_logprob, reference.sum_logprob),
        ("avg_logprob", spec.avg_logprob, reference.avg_logprob),
        (
            "no_speech_prob",
            spec.no_speech_prob,
            reference.no_speech_prob,
        ),
    ] {
        assert_eq!(a.to_bits(), b.to_bits(), "{what}: {name} {a} vs {b}");
    }
}

/// The drafts of one window, by name: each a factory of fresh sessions.
enum DraftKind<'a> {
    Decoder(&'a TextDecoder, &'a CrossKv),
    Int8(&'a FusedDraft, &'a FusedDraftCrossKv),
}

fn run(
    task: &WindowTask<'_>,
    draft: &DraftKind<'_>,
    beam_size: usize,
    patience: f64,
    cfg: &SpecConfig,
) -> (WindowDecode, SpecStats) {
    let mut sessions = 0;
    let mut new_session = || -> candle_core::Result<Box<dyn DraftSession + '_>> {
        sessions += 1;
        Ok(match *draft {
            DraftKind::Decoder(d, c) => Box::new(DecoderDraft::new(d, c)),
            DraftKind::Int8(d, c) => Box::new(FusedDraftSession::new(d, c)),
        })
    };
    let out = decode_speculative_beam(task, beam_size, patience, &mut new_session, cfg).unwrap();
    assert!(
        sessions <= beam_size,
        "{sessions} draft sessions for {beam_size} beams"
    );
    out
}

#[test]
fn speculative_beam_search_equals_target_beam_search_on_random_models() {
    let tmp = tempfile::tempdir().unwrap();
    let target = model(&tmp.path().join("target"), 32, 2, 1);
    let other = model(&tmp.path().join("other"), 32, 2, 2);
    let int8 = FusedDraft::from_decoder(&target.decoder).unwrap();
    let sp = specials();
    let (mut cases, mut self_proposed, mut self_accepted) = (0, 0, 0);
    let mut accepted = [0usize; 4];
    let mut finished_early = 0;

    for case in 0..18u64 {
        let mel = mel(3000 + case);
        let features = target.encoder.forward(&mel).unwrap();
        let cross = target.decoder.cross_kv(&features).unwrap();
        let other_cross = other.decoder.cross_kv(&features).unwrap();
        let subset_cross = target.subset.cross_kv(&features).unwrap();
        let int8_cross = int8.cross(&cross).unwrap();
        let timestamps = case % 2 == 0;
        let mut initial = vec![sp.sot];
        if case % 3 == 0 {
            initial = vec![sp.prev, 17, 42, 99, sp.sot];
        }
        if !timestamps {
            initial.push(sp.no_timestamps);
        }
        let sot_index = initial.iter().position(|&t| t == sp.sot).unwrap();
        // Half the windows allow only twelve text tokens, so that end-of-text is often among
        // the best candidates and hypotheses finish inside the draft's tree.
        let suppress: Vec<u32> = if case % 4 < 2 {
            (0..sp.eot).filter(|t| t % 25 != 0).collect()
        } else {
            vec![1, 2, 3, 50]
        };
        let filters = LogitFilters::with_specials(
            sp,
            &[220, sp.eot],
            &FilterOptions::new(initial.len(), &suppress, timestamps),
        );
        let task = WindowTask {
            decoder: &target.decoder,
            cross: &cross,
            initial: &initial,
            sot_index,
            filters: &filters,
            specials: &sp,
            sample_len: if case % 5 == 0 { 12 } else { 60 },
        };
        let beam_size = [2, 5, 8][case as usize % 3];
        let patience = if case % 4 == 3 { 2.0 } else { 1.0 };
        let reference = decode_beam(&task, beam_size, patience).unwrap();
        if case % 6 == 0 {
            let alone = decode_beam_with(&task, beam_size, patience, BeamPasses::OneByOne).unwrap();
            assert_same(
                &reference,
                &alone,
                &format!("case {case}: batched vs one by one"),
            );
        }
        finished_early += usize::from(reference.tokens.len() < task.sample_len);
        let drafts = [
            ("other", DraftKind::Decoder(&other.decoder, &other_cross)),
            ("subset", DraftKind::Decoder(&target.subset, &subset_cross)),
            ("int8", DraftKind::Int8(&int8, &int8_cross)),
            ("self", DraftKind::Decoder(&target.decoder, &cross)),
        ];
        for (k, (name, draft)) in drafts.iter().enumerate() {
            let gamma = [1, 3, 8][(case as usize + k) % 3];
            let cfg = SpecConfig {
                gamma,
                adaptive: (case as usize + k) % 2 == 1,
                draft_prompt_tokens: match (case as usize + k) % 3 {
                    _ if *name == "self" => None,
                    0 => None,
                    1 => Some(0),
                    _ => Some(2),
                },
                ..SpecConfig::default()
            };
            let (spec, stats) = run(&task, draft, beam_size, patience, &cfg);
            let what = format!(
                "case {case}, beams {beam_size}, patience {patience}, draft {name}, gamma {gamma}, \
                 adaptive {}, timestamps {timestamps}",
                cfg.adaptive
            );
            assert_same(&spec, &reference, &what);
            accepted[k] += stats.accepted_tokens;
            if *name == "self" {
                self_proposed += stats.draft_tokens;
                self_accepted += stats.accepted_tokens;
                // Every round accepts whole draft lengths, so the target runs fewer passes.
                if reference.forward_passes > 2 * (gamma + 1) {
                    assert!(
                        stats.target_calls < reference.forward_passes,
                        "{what}: {} target passes vs {}",
                        stats.target_calls,
                        reference.forward_passes
                    );
                }
            }
            cases += 1;
        }
    }
    eprintln!(
        "{cases} cases, {finished_early} windows ended before sample_len; accepted nodes per \
         draft (other, subset, int8, self): {accepted:?}; self {self_accepted}/{self_proposed}"
    );
    assert!(finished_early > 0, "some windows end on end-of-text");
    assert!(self_accepted > 0 && accepted[2] > 0);
}

#[test]
fn speculative_beam_search_equals_target_beam_search_at_the_position_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let sp = specials();
    let mut rng = common::ct2_writer::Lcg(11);
    let mut limit_hits = 0;
    // Head widths 8 and 32.
    for (m, (d, heads)) in [(32, 4), (64, 2)].into_iter().enumerate() {
        let target = model(&tmp.path().join(format!("m{m}")), d, heads, 20 + m as u64);
        let features = target.encoder.forward(&mel(4000 + m as u64)).unwrap();
        let cross = target.decoder.cross_kv(&features).unwrap();
        let subset_cross = target.subset.cross_kv(&features).unwrap();
        // (prompt length, sample_len, timestamps): prompts that leave 1, 2 and 30 positions,
        // end-of-text suppressed so only a limit ends the window.
        for (case, &(prompt_len, sample_len, timestamps)) in [
            (447, 224, false),
            (446, 224, true),
            (418, 224, true),
            (418, 31, false),
        ]
        .iter()
        .enumerate()
        {
            let (initial, sot_index) = long_prompt(prompt_len, timestamps, &mut rng);
            let filters = LogitFilters::with_specials(
                sp,
                &[220, sp.eot],
                &FilterOptions::new(initial.len(), &[1, 2, 3, sp.eot], timestamps),
            );
            let task = WindowTask {
                decoder: &target.decoder,
                cross: &cross,
                initial: &initial,
                sot_index,
                filters: &filters,
                specials: &sp,
                sample_len,
            };
            let beam_size = [2, 5, 8][(case + m) % 3];
            let reference = decode_beam(&task, beam_size, 1.0).unwrap();
            assert!(!reference.finished || reference.tokens.len() <= sample_len);
            limit_hits += usize::from(
                initial.len() + reference.tokens.len() >= target.decoder.max_positions(),
            );
            for (name, draft) in [
                ("subset", DraftKind::Decoder(&target.subset, &subset_cross)),
                ("self", DraftKind::Decoder(&target.decoder, &cross)),
            ] {
                for gamma in [1, 3, 8] {
                    let cfg = SpecConfig {
                        gamma,
                        adaptive: gamma == 3,
                        ..SpecConfig::default()
                    };
                    let (spec, _) = run(&task, &draft, beam_size, 1.0, &cfg);
                    let what = format!(
                        "model {m}, case {case} (prompt {prompt_len}, sample_len {sample_len}), \
                         beams {beam_size}, draft {name}, gamma {gamma}"
                    );
                    assert_same(&spec, &reference, &what);
                }
            }
        }
    }
    assert!(
        limit_hits >= 4,
        "{limit_hits} windows reached the 448-position limit"
    );
}

/// Every node of a token tree over several roots gets bit for bit the logits of a plain decode
/// of its prefix, and the keys and values it hands back extend a root's cache to what a plain
/// decode leaves.
#[test]
fn a_token_trees_rows_are_bitwise_plain_decodes() {
    let tmp = tempfile::tempdir().unwrap();
    for (m, (d, heads)) in [(32, 2), (64, 1)].into_iter().enumerate() {
        let target = model(&tmp.path().join(format!("t{m}")), d, heads, 40 + m as u64);
        let features = target.encoder.forward(&mel(50 + m as u64)).unwrap();
        let cross = target.decoder.cross_kv(&features).unwrap();
        let dec = &target.decoder;
        let prefixes: [&[u32]; 3] = [&[301, 5, 6, 7], &[301, 5, 9, 10], &[301, 11, 12, 13, 14]];
        let fill = |p: &[u32]| {
            let mut c = dec.new_cache();
            dec.forward(p, &mut c, &cross).unwrap();
            c
        };
        let mut roots: Vec<KvCache> = prefixes.iter().map(|p| fill(p)).collect();
        let node = |root, parent, token| TreeNode {
            root,
            parent,
            token,
        };
        // Root 0: 20 -> (21 -> 23 -> 24, 22); root 1: none; root 2: 30, 31 -> 32 (two tops).
        let nodes = [
            node(0, None, 20),
            node(0, Some(0), 21),
            node(0, Some(0), 22),
            node(2, None, 30),
            node(0, Some(1), 23),
            node(2, None, 31),
            node(2, Some(5), 32),
            node(0, Some(4), 24),
        ];
        let (logits, kv) = {
            let mut refs: Vec<&mut KvCache> = roots.iter_mut().collect();
            dec.forward_tree(&nodes, &mut refs, &cross).unwrap()
        };
        assert_eq!(
            roots.iter().map(KvCache::len).collect::<Vec<_>>(),
            vec![4, 4, 5]
        );
        let bits = |t: Tensor| -> Vec<u32> {
            t.to_vec1::<f32>()
                .unwrap()
                .into_iter()
                .map(f32::to_bits)
                .collect()
        };
        for (n, nd) in nodes.iter().enumerate() {
            let mut path = vec![n];
            while let Some(p) = nodes[*path.last().unwrap()].parent {
                path.push(p);
            }
            path.reverse();
            let mut seq = prefixes[nd.root].to_vec();
            seq.extend(path.iter().map(|&i| nodes[i].token));
            // One token at a time from an empty cache, as plain decoding runs.
            let mut cache = dec.new_cache();
            let mut last = None;
            for &t in &seq {
                last = Some(dec.forward(&[t], &mut cache, &cross).unwrap());
            }
            assert!(
                bits(last.unwrap().i(0).unwrap()) == bits(logits.i(n).unwrap()),
                "model {m}: node {n} logits differ from a plain decode"
            );
            // The root's cache extended by the path continues exactly as the plain cache.
            let mut extended = roots[nd.root].fork().unwrap();
            kv.extend_cache(&mut extended, &path).unwrap();
            assert_eq!(extended.len(), seq.len());
            let next_plain = dec.forward(&[7], &mut cache, &cross).unwrap();
            let next_tree = dec.forward(&[7], &mut extended, &cross).unwrap();
            assert!(
                bits(next_plain.i(0).unwrap()) == bits(next_tree.i(0).unwrap()),
                "model {m}: node {n}'s extended cache differs"
            );
        }
    }
}
