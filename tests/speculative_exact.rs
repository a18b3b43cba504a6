//! Speculative greedy decoding equals target-only greedy decoding token for token, on random
//! synthetic models: a different random draft on the target's encoder output (shared), a
//! draft with its own encoder (separate), a layer subset of the target, the fused 8-bit copy
//! of the target, and the target itself (which must have every proposal accepted). 200+ seeded cases over audio, gamma and
//! timestamps on/off.

mod common;

use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use whisper_spec::decoding::draft_session::{DecoderDraft, DraftSession, FusedDraftSession};
use whisper_spec::decoding::filters::{FilterOptions, LogitFilters};
use whisper_spec::decoding::greedy::decode_greedy;
use whisper_spec::decoding::sampling::Sampler;
use whisper_spec::decoding::speculative::{SpecConfig, decode_speculative};
use whisper_spec::decoding::task::WindowTask;
use whisper_spec::model::{AudioEncoder, FusedDraft, TextDecoder, WhisperConfig};
use whisper_spec::text::SpecialTokens;

const VOCAB: usize = 400;

fn specials() -> SpecialTokens {
    SpecialTokens {
        eot: 300,
        sot: 301,
        translate: 302,
        transcribe: 303,
        sot_lm: Some(304),
        prev: 305,
        no_speech: Some(306),
        no_timestamps: 307,
        timestamp_begin: 308,
        vocab_size: VOCAB,
    }
}

struct Model {
    encoder: AudioEncoder,
    decoder: TextDecoder,
    vb_cfg: (VarBuilder<'static>, WhisperConfig),
}

fn model(dir: &std::path::Path, d: usize, dec_layers: usize, seed: u64) -> Model {
    let cfg = common::synthetic::config(VOCAB, d, 1, dec_layers);
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
            assert!(
                (spec.sum_logprob - reference.sum_logprob).abs() < 1e-3,
                "case {case} {name}: logprob {} vs {}",
                spec.sum_logprob,
                reference.sum_logprob
            );
            assert!(
                (spec.no_speech_prob - reference.no_speech_prob).abs() < 1e-5,
                "case {case} {name}: no-speech {} vs {}",
                spec.no_speech_prob,
                reference.no_speech_prob
            );
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
