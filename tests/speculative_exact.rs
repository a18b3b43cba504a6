//! Speculative greedy decoding equals target-only greedy decoding token for token, with the
//! same bits of sum and average log-probability and of the no-speech probability, on random
//! synthetic models: a different random draft on the target's encoder output (shared), a
//! draft with its own encoder (separate), a layer subset of the target, the fused 8-bit copy
//! of the target, and the target itself (which must have every proposal accepted). 200+
//! seeded cases over audio, gamma and timestamps on/off; then windows that run into the
//! decoder's 448-position limit (prompts filling the context, sample_len ending at the limit
//! and either side of it, whole windows from a short prompt) on models with heads 8, 24, 32
//! and 64 wide.

mod common;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use whisper_spec::decoding::draft_session::{DecoderDraft, DraftSession, FusedDraftSession};
use whisper_spec::decoding::filters::{FilterOptions, LogitFilters};
use whisper_spec::decoding::greedy::{WindowDecode, decode_greedy};
use whisper_spec::decoding::sampling::Sampler;
use whisper_spec::decoding::speculative::{SpecConfig, decode_speculative};
use whisper_spec::decoding::task::WindowTask;
use whisper_spec::model::{AudioEncoder, FusedDraft, TextDecoder, WhisperConfig};

use common::synthetic::{VOCAB, long_prompt, specials};

struct Model {
    encoder: AudioEncoder,
    decoder: TextDecoder,
    vb_cfg: (VarBuilder<'static>, WhisperConfig),
}

fn model(dir: &std::path::Path, d: usize, dec_layers: usize, seed: u64) -> Model {
    model_with_heads(dir, d, 2, dec_layers, seed)
}

/// A random model of width `d` with `heads` attention heads (each `d / heads` wide) in the
/// encoder and the decoder.
fn model_with_heads(
    dir: &std::path::Path,
    d: usize,
    heads: usize,
    dec_layers: usize,
    seed: u64,
) -> Model {
    let mut cfg = common::synthetic::config(VOCAB, d, 1, dec_layers);
    cfg.encoder_attention_heads = heads;
    cfg.decoder_attention_heads = heads;
    let vb = common::synthetic::build(dir, &cfg, seed);
    Model {
        encoder: AudioEncoder::load(vb.pp("model.encoder"), &cfg).unwrap(),
        decoder: TextDecoder::load(vb.pp("model.decoder"), &cfg).unwrap(),
        vb_cfg: (vb, cfg),
    }
}

fn mel(seed: u64) -> Tensor {
    let mut rng = common::ct2_writer::Lcg(seed);
    let data: Vec<f32> = (0..80 * 3000).map(|_| rng.uniform()).collect();
    Tensor::from_vec(data, (1, 80, 3000), &Device::Cpu).unwrap()
}

/// The speculative window's scores are the target's, bit for bit: sum and average
/// log-probability and the no-speech probability.
fn assert_same_scores(spec: &WindowDecode, reference: &WindowDecode, what: &str) {
    assert_eq!(
        spec.sum_logprob.to_bits(),
        reference.sum_logprob.to_bits(),
        "{what}: sum_logprob {} vs {}",
        spec.sum_logprob,
        reference.sum_logprob
    );
    assert_eq!(
        spec.avg_logprob.to_bits(),
        reference.avg_logprob.to_bits(),
        "{what}: avg_logprob {} vs {}",
        spec.avg_logprob,
        reference.avg_logprob
    );
    assert_eq!(
        spec.no_speech_prob.to_bits(),
        reference.no_speech_prob.to_bits(),
        "{what}: no_speech_prob {} vs {}",
        spec.no_speech_prob,
        reference.no_speech_prob
    );
}

#[test]
fn speculative_greedy_equals_target_greedy_on_random_models() {
    let tmp = tempfile::tempdir().unwrap();
    let target = model(&tmp.path().join("target"), 32, 2, 1);
    let shared_draft = model(&tmp.path().join("draft"), 32, 1, 2);
    let separate_draft = model(&tmp.path().join("separate"), 24, 1, 3);
    let (vb, cfg) = &target.vb_cfg;
    let subset = TextDecoder::load_layers(vb.pp("model.decoder"), cfg, &[1]).unwrap();
    let int8 = FusedDraft::from_decoder(&target.decoder).unwrap();
    let sp = specials();
    let mut rng = common::ct2_writer::Lcg(99);
    let mut sampler = Sampler::new(0);
    let (mut cases, mut self_proposed, mut self_accepted) = (0, 0, 0);
    let mut total_accepted = [0usize; 5];

    for case in 0..52 {
        let mel = mel(1000 + case);
        let features = target.encoder.forward(&mel).unwrap();
        let target_cross = target.decoder.cross_kv(&features).unwrap();
        let shared_cross = shared_draft.decoder.cross_kv(&features).unwrap();
        let separate_cross = separate_draft
            .decoder
            .cross_kv(&separate_draft.encoder.forward(&mel).unwrap())
            .unwrap();
        let subset_cross = subset.cross_kv(&features).unwrap();
        let int8_cross_attention = int8.cross(&target_cross).unwrap();
        let timestamps = case % 2 == 0;
        let mut initial = vec![sp.sot];
        if case % 3 == 0 {
            // A previous-text prompt before the start of transcript.
            initial = vec![sp.prev, 17, 42, 99, sp.sot];
        }
        if !timestamps {
            initial.push(sp.no_timestamps);
        }
        let sot_index = initial.iter().position(|&t| t == sp.sot).unwrap();
        let filters = LogitFilters::with_specials(
            sp,
            &[220, sp.eot],
            &FilterOptions::new(initial.len(), &[1, 2, 3, 50], timestamps),
        );
        let sample_len = if case % 5 == 0 { 40 } else { 120 };
        let task = WindowTask {
            decoder: &target.decoder,
            cross: &target_cross,
            initial: &initial,
            sot_index,
            filters: &filters,
            specials: &sp,
            sample_len,
        };
        let reference = decode_greedy(&task).unwrap();
        let mut drafts: [(&str, Box<dyn DraftSession>); 5] = [
            (
                "shared",
                Box::new(DecoderDraft::new(&shared_draft.decoder, &shared_cross)),
            ),
            (
                "separate",
                Box::new(DecoderDraft::new(&separate_draft.decoder, &separate_cross)),
            ),
            (
                "subset",
                Box::new(DecoderDraft::new(&subset, &subset_cross)),
            ),
            (
                "self",
                Box::new(DecoderDraft::new(&target.decoder, &target_cross)),
            ),
            (
                "int8",
                Box::new(FusedDraftSession::new(&int8, &int8_cross_attention)),
            ),
        ];
        for (k, (name, draft)) in drafts.iter_mut().enumerate() {
            let gamma = 1 + (rng.next_u32() % 8) as usize;
            let cfg = SpecConfig {
                gamma,
                adaptive: case % 4 != 1,
                // The draft reads all, none or part of the previous-text prompt; the target as
                // its own draft reads all of it, so that every proposal must stand.
                draft_prompt_tokens: match (case / 3 + k as u64) % 3 {
                    _ if *name == "self" => None,
                    0 => None,
                    1 => Some(0),
                    _ => Some(2),
                },
                // Stopping a round on an unsure draft token changes the rounds, never the text.
                draft_confidence: [0.0, 0.3, 0.6, 0.9][(case as usize + k) % 4],
                ..SpecConfig::default()
            };
            let (spec, stats) =
                decode_speculative(&task, draft.as_mut(), &cfg, &mut sampler).unwrap();
            assert_eq!(
                spec.tokens, reference.tokens,
                "case {case}, draft {name}, gamma {gamma}, timestamps {timestamps}"
            );
            assert_eq!(spec.finished, reference.finished, "case {case} {name}");
            assert_same_scores(&spec, &reference, &format!("case {case}, draft {name}"));
            total_accepted[k] += stats.accepted_tokens;
            if *name == "self" {
                self_proposed += stats.draft_tokens;
                self_accepted += stats.accepted_tokens;
            }
            cases += 1;
        }
    }
    eprintln!(
        "{cases} cases; accepted tokens per draft (shared, separate, subset, self, int8): {total_accepted:?}"
    );
    assert!(cases >= 200);
    assert!(self_proposed > 0);
    assert_eq!(
        self_accepted, self_proposed,
        "the target as its own draft is always right"
    );
}

#[test]
fn speculative_greedy_equals_target_greedy_at_the_position_limit_and_other_head_widths() {
    let tmp = tempfile::tempdir().unwrap();
    let sp = specials();
    let mut rng = common::ct2_writer::Lcg(7);
    let mut sampler = Sampler::new(0);
    let (mut limit_hits, mut subset_accepted) = (0, 0);
    // (d_model, heads): head widths 8, 24, 32 and 64 (Whisper's; here one head alone).
    for (m, (d, heads)) in [(32, 4), (48, 2), (64, 2), (64, 1)].into_iter().enumerate() {
        let dir = tmp.path().join(format!("model{m}"));
        let target = model_with_heads(&dir, d, heads, 2, 10 + m as u64);
        // The target's second layer alone: a draft that is right part of the time.
        let (vb, cfg) = &target.vb_cfg;
        let subset = TextDecoder::load_layers(vb.pp("model.decoder"), cfg, &[1]).unwrap();
        let max_positions = target.decoder.max_positions();
        assert_eq!(max_positions, 448);
        // The 8-bit cross-attention kernel takes heads of a multiple of 16 wide.
        let int8 = (d / heads)
            .is_multiple_of(16)
            .then(|| FusedDraft::from_decoder(&target.decoder).unwrap());
        let mel = mel(2000 + m as u64);
        let features = target.encoder.forward(&mel).unwrap();
        let target_cross = target.decoder.cross_kv(&features).unwrap();
        let subset_cross = subset.cross_kv(&features).unwrap();
        let int8_cross = int8.as_ref().map(|f| f.cross(&target_cross).unwrap());

        // (prompt length, sample_len, timestamps, end-of-text suppressed): prompts that fill
        // the context to its last position and one before, sample_len ending exactly at the
        // limit and one either side, and (for two of the models, to keep the test quick) a
        // whole 448-position window from a short prompt.
        let limit_at = |prompt: usize| max_positions + 1 - prompt;
        let mut cases = vec![
            (448, 224, false, false),
            (447, 224, true, false),
            (420, 224, true, false),
            (400, limit_at(400), false, true),
            (400, limit_at(400) - 1, false, true),
            (400, limit_at(400) + 1, true, false),
        ];
        if m % 3 == 0 {
            cases.push((3, 448, false, true));
        }
        for (case, &(prompt_len, sample_len, timestamps, no_eot)) in cases.iter().enumerate() {
            let (initial, sot_index) = long_prompt(prompt_len, timestamps, &mut rng);
            let suppress: &[u32] = if no_eot {
                &[1, 2, 3, sp.eot]
            } else {
                &[1, 2, 3]
            };
            let filters = LogitFilters::with_specials(
                sp,
                &[220, sp.eot],
                &FilterOptions::new(initial.len(), suppress, timestamps),
            );
            let task = WindowTask {
                decoder: &target.decoder,
                cross: &target_cross,
                initial: &initial,
                sot_index,
                filters: &filters,
                specials: &sp,
                sample_len,
            };
            let reference = decode_greedy(&task).unwrap();
            let at_limit = initial.len() + reference.tokens.len() == max_positions + 1;
            if no_eot {
                // Only a length limit can end the window: the context, or sample_len first.
                assert!(!reference.finished);
                assert_eq!(
                    reference.tokens.len(),
                    sample_len.min(limit_at(prompt_len)),
                    "model {m}, case {case}"
                );
            }
            limit_hits += usize::from(at_limit && !reference.finished);

            let mut drafts: Vec<(&str, Box<dyn DraftSession>)> = vec![
                (
                    "subset",
                    Box::new(DecoderDraft::new(&subset, &subset_cross)),
                ),
                (
                    "self",
                    Box::new(DecoderDraft::new(&target.decoder, &target_cross)),
                ),
            ];
            if let (Some(int8), Some(cross)) = (&int8, &int8_cross) {
                drafts.push(("int8", Box::new(FusedDraftSession::new(int8, cross))));
            }
            for (k, (name, draft)) in drafts.iter_mut().enumerate() {
                let gamma = [1, 3, 8][(case + k + m) % 3];
                let cfg = SpecConfig {
                    gamma,
                    adaptive: (case + k) % 2 == 0,
                    ..SpecConfig::default()
                };
                let (spec, stats) =
                    decode_speculative(&task, draft.as_mut(), &cfg, &mut sampler).unwrap();
                let what = format!(
                    "model {m} (d {d}, head width {}), case {case} (prompt {prompt_len}, \
                     sample_len {sample_len}, timestamps {timestamps}), draft {name}, gamma {gamma}",
                    d / heads
                );
                assert_eq!(spec.tokens, reference.tokens, "{what}");
                assert_eq!(spec.finished, reference.finished, "{what}");
                assert_same_scores(&spec, &reference, &what);
                if *name == "self" {
                    assert_eq!(stats.accepted_tokens, stats.draft_tokens, "{what}");
                }
                if *name == "subset" {
                    subset_accepted += stats.accepted_tokens;
                }
            }
        }
    }
    eprintln!(
        "{limit_hits} windows ended at the 448-position limit; the layer-subset draft had \
         {subset_accepted} proposals accepted"
    );
    assert!(subset_accepted > 0);
    // At least the full prompts, the suppressed-EOT windows of sample_len ending at the limit
    // and the whole windows.
    assert!(
        limit_hits >= 4 * 2 + 2,
        "{limit_hits} windows reached the limit"
    );
}
