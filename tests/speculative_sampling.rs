//! Speculative sampling is the target's own sampling. On a small-vocabulary random model, in
//! 6 000 runs of three tokens per configuration (each run its own random stream), the
//! speculative output equals the target alone's token for token, with the same
//! log-probability bits; and the samples follow the target's exact distribution (computed by
//! enumeration): a chi-square test on the joint of the first two tokens and on the third
//! token's marginal must pass (p > 0.001), and must fail for the draft's distribution, so the
//! statistic can tell the two models apart. Configurations: temperatures 1, 0.6 and 0.2, draft
//! lengths 1, 2 and 4, a draft-confidence bar, and openai's timestamp rules on and off.

mod common;

use std::collections::HashMap;

use candle_core::{Device, IndexOp, Tensor};
use statrs::distribution::{ChiSquared, ContinuousCDF};
use whisper_spec::decoding::draft_session::DecoderDraft;
use whisper_spec::decoding::filters::{FilterOptions, LogitFilters};
use whisper_spec::decoding::greedy::decode_target;
use whisper_spec::decoding::sampling::{Sampler, tempered_probs};
use whisper_spec::decoding::speculative::{SpecConfig, decode_speculative};
use whisper_spec::decoding::task::WindowTask;
use whisper_spec::model::{AudioEncoder, CrossKv, TextDecoder};
use whisper_spec::text::SpecialTokens;

const VOCAB: usize = 40;
const SAMPLES: usize = 6_000;

fn specials() -> SpecialTokens {
    SpecialTokens {
        eot: 30,
        sot: 31,
        translate: 32,
        transcribe: 33,
        sot_lm: None,
        prev: 34,
        no_speech: None,
        no_timestamps: 35,
        timestamp_begin: 36,
        vocab_size: VOCAB,
    }
}

struct Setup {
    target: TextDecoder,
    target_cross: CrossKv,
    draft: TextDecoder,
    draft_cross: CrossKv,
    filters: LogitFilters,
    initial: Vec<u32>,
    /// Sampling temperature of the runs and of the exact laws.
    temperature: f32,
}

/// Which draft proposes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Draft {
    /// A one-layer random model of its own.
    Random,
    /// The target's first layer alone: closer to the target, so that at low temperatures,
    /// where two unrelated models almost never draw the same token, proposals still stand
    /// often enough to exercise both verdicts.
    TargetLayer,
}

/// The target and a draft on one random window, sampled at `temperature`, with openai's
/// timestamp rules when `timestamps` (the prompt then has no no-timestamps token).
fn setup(dir: &std::path::Path, temperature: f32, timestamps: bool, which: Draft) -> Setup {
    let build = |name: &str, seed: u64, layers: usize| {
        let cfg = common::synthetic::config(VOCAB, 16, 1, layers);
        (common::synthetic::build(&dir.join(name), &cfg, seed), cfg)
    };
    let (vb, cfg) = build("target", 21, 2);
    let encoder = AudioEncoder::load(vb.pp("model.encoder"), &cfg).unwrap();
    let target = TextDecoder::load(vb.pp("model.decoder"), &cfg).unwrap();
    let draft = match which {
        Draft::Random => {
            let (vb, cfg) = build("draft", 22, 1);
            TextDecoder::load(vb.pp("model.decoder"), &cfg).unwrap()
        }
        Draft::TargetLayer => TextDecoder::load_layers(vb.pp("model.decoder"), &cfg, &[0]).unwrap(),
    };
    let mut rng = common::ct2_writer::Lcg(5);
    let mel: Vec<f32> = (0..80 * 3000).map(|_| rng.uniform()).collect();
    let features = encoder
        .forward(&Tensor::from_vec(mel, (1, 80, 3000), &Device::Cpu).unwrap())
        .unwrap();
    let sp = specials();
    let initial = if timestamps {
        vec![sp.sot]
    } else {
        vec![sp.sot, sp.no_timestamps]
    };
    let filters = LogitFilters::with_specials(
        sp,
        &[7, sp.eot],
        &FilterOptions::new(initial.len(), &[1, 2], timestamps),
    );
    Setup {
        target_cross: target.cross_kv(&features).unwrap(),
        draft_cross: draft.cross_kv(&features).unwrap(),
        target,
        draft,
        filters,
        initial,
        temperature,
    }
}

/// `model`'s tempered, filtered next-token distribution after `prefix`.
fn model_probs(s: &Setup, model: &TextDecoder, cross: &CrossKv, prefix: &[u32]) -> Vec<f32> {
    let logits = model
        .forward(prefix, &mut model.new_cache(), cross)
        .unwrap();
    let mut row = logits
        .i(prefix.len() - 1)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    s.filters.apply(prefix, &mut row);
    let mut p = Vec::new();
    tempered_probs(&row, s.temperature, &mut p);
    p
}

/// Outcome cells of a run: first two tokens (end-of-text closes a sequence) and the third.
fn cells(tokens: &[u32], eot: u32) -> ((u32, u32), u32) {
    let at = |i: usize| tokens.get(i).copied().unwrap_or(eot);
    let first = at(0);
    let second = if first == eot { eot } else { at(1) };
    let third = if first == eot || second == eot {
        eot
    } else {
        at(2)
    };
    ((first, second), third)
}

/// Exact probabilities of the same cells, by enumeration over `model` (the target, or the
/// draft for the control).
fn exact(
    s: &Setup,
    model: &TextDecoder,
    cross: &CrossKv,
) -> (HashMap<(u32, u32), f64>, HashMap<u32, f64>) {
    let target_probs = |s: &Setup, prefix: &[u32]| model_probs(s, model, cross, prefix);
    let eot = specials().eot;
    let (mut pair, mut third) = (HashMap::new(), HashMap::new());
    let p1 = target_probs(s, &s.initial);
    for (a, &pa) in p1.iter().enumerate().filter(|(_, p)| **p > 0.0) {
        let a = a as u32;
        if a == eot {
            *pair.entry((eot, eot)).or_insert(0.0) += f64::from(pa);
            *third.entry(eot).or_insert(0.0) += f64::from(pa);
            continue;
        }
        let mut pre = s.initial.clone();
        pre.push(a);
        let p2 = target_probs(s, &pre);
        for (b, &pb) in p2.iter().enumerate().filter(|(_, p)| **p > 0.0) {
            let b = b as u32;
            let pab = f64::from(pa) * f64::from(pb);
            *pair.entry((a, b)).or_insert(0.0) += pab;
            if b == eot {
                *third.entry(eot).or_insert(0.0) += pab;
                continue;
            }
            let mut pre2 = pre.clone();
            pre2.push(b);
            for (c, &pc) in target_probs(s, &pre2).iter().enumerate() {
                if pc > 0.0 {
                    *third.entry(c as u32).or_insert(0.0) += pab * f64::from(pc);
                }
            }
        }
    }
    (pair, third)
}

/// Chi-square p-value of observed counts against expected probabilities; cells expecting
/// fewer than 5 are pooled.
fn p_value<K: std::hash::Hash + Eq + Copy>(
    observed: &HashMap<K, usize>,
    expected: &HashMap<K, f64>,
    n: usize,
) -> f64 {
    let (mut stat, mut dof) = (0.0, 0usize);
    let (mut pooled_obs, mut pooled_exp) = (0.0, 0.0);
    for (k, &p) in expected {
        let e = p * n as f64;
        let o = observed.get(k).copied().unwrap_or(0) as f64;
        if e < 5.0 {
            pooled_obs += o;
            pooled_exp += e;
        } else {
            stat += (o - e).powi(2) / e;
            dof += 1;
        }
    }
    if pooled_exp > 0.0 {
        stat += (pooled_obs - pooled_exp).powi(2) / pooled_exp.max(1e-9);
        dof += 1;
    }
    let unexpected: usize = observed
        .iter()
        .filter(|(k, _)| !expected.contains_key(k))
        .map(|(_, c)| *c)
        .sum();
    assert_eq!(unexpected, 0, "a sampled sequence has target probability 0");
    1.0 - ChiSquared::new((dof - 1) as f64).unwrap().cdf(stat)
}

type Law = (HashMap<(u32, u32), f64>, HashMap<u32, f64>);
type Counts = (HashMap<(u32, u32), usize>, HashMap<u32, usize>);

/// p-values of counted pair and third-token cells against `law`.
fn p_values(counts: &Counts, law: &Law) -> (f64, f64) {
    let n = counts.1.values().sum();
    (p_value(&counts.0, &law.0, n), p_value(&counts.1, &law.1, n))
}

/// `SAMPLES` speculative runs (draft length `gamma`, confidence bar `confidence`), each
/// checked token for token against the target alone on the same stream: the counted cells
/// and the draft's acceptance.
fn run(s: &Setup, gamma: usize, confidence: f32, seed: u64) -> (Counts, f64) {
    let sp = specials();
    let cfg = SpecConfig {
        gamma,
        adaptive: false,
        temperature: s.temperature,
        draft_confidence: confidence,
        ..SpecConfig::default()
    };
    let root = Sampler::new(seed);
    let (mut pairs, mut thirds) = (HashMap::new(), HashMap::new());
    let (mut proposed, mut accepted) = (0, 0);
    let task = WindowTask {
        decoder: &s.target,
        cross: &s.target_cross,
        initial: &s.initial,
        sot_index: 0,
        filters: &s.filters,
        specials: &sp,
        sample_len: 3,
    };
    for run in 0..SAMPLES {
        let mut stream = root.stream(run as u64);
        let (out, stats) = decode_speculative(
            &task,
            &mut DecoderDraft::new(&s.draft, &s.draft_cross),
            &cfg,
            &mut stream,
        )
        .unwrap();
        let alone = decode_target(&task, s.temperature, &mut stream).unwrap();
        assert_eq!(
            out.tokens, alone.tokens,
            "run {run}: speculative != target alone"
        );
        assert_eq!(
            out.sum_logprob.to_bits(),
            alone.sum_logprob.to_bits(),
            "run {run}: log-probability"
        );
        assert_eq!(
            out.avg_logprob.to_bits(),
            alone.avg_logprob.to_bits(),
            "run {run}: average log-probability"
        );
        assert_eq!(out.finished, alone.finished, "run {run}: finished");
        proposed += stats.draft_tokens;
        accepted += stats.accepted_tokens;
        let (pair, third) = cells(&out.tokens, sp.eot);
        *pairs.entry(pair).or_insert(0) += 1;
        *thirds.entry(third).or_insert(0) += 1;
    }
    ((pairs, thirds), accepted as f64 / proposed as f64)
}

/// Speculative sampling at `temperature` (with timestamp rules when `timestamps`) with
/// `which` draft, for each `(gamma, draft confidence, seed)` of `runs`: token for token the
/// target's own sampling, following the target's exact law and not the draft's.
fn check(temperature: f32, timestamps: bool, which: Draft, runs: &[(usize, f32, u64)]) {
    let tmp = tempfile::tempdir().unwrap();
    let s = setup(tmp.path(), temperature, timestamps, which);
    let target_law = exact(&s, &s.target, &s.target_cross);
    let draft_law = exact(&s, &s.draft, &s.draft_cross);
    for &(gamma, confidence, seed) in runs {
        let what = format!(
            "temperature {temperature}, timestamps {timestamps}, {which:?} draft, gamma {gamma}, \
             confidence {confidence}"
        );
        let (counts, acceptance) = run(&s, gamma, confidence, seed);
        let (p_pair, p_third) = p_values(&counts, &target_law);
        let (bad_pair, bad_third) = p_values(&counts, &draft_law);
        eprintln!(
            "{what}: p(pair) = {p_pair:.4}, p(third) = {p_third:.4}, acceptance {acceptance:.3}; \
             against the draft's law p = {bad_pair:.2e}, {bad_third:.2e}"
        );
        assert!(
            acceptance > 0.05 && acceptance < 0.95,
            "{what}: draft and target must disagree sometimes for the test to mean \
             anything: {acceptance}"
        );
        assert!(
            p_pair > 0.001,
            "{what}: joint of the first two tokens: p = {p_pair}"
        );
        assert!(p_third > 0.001, "{what}: third token: p = {p_third}");
        // The statistic can tell the models apart: the same samples fail the draft's law.
        assert!(
            bad_pair < 0.001 || bad_third < 0.001,
            "{what}: the test must tell the target's law from the draft's \
             (p = {bad_pair}, {bad_third})"
        );
    }
}

#[test]
fn speculative_sampling_is_the_targets_own_sampling_and_follows_its_distribution() {
    check(
        1.0,
        false,
        Draft::Random,
        &[(2, 0.0, 1), (1, 0.0, 3), (4, 0.0, 4), (2, 0.3, 2)],
    );
}

#[test]
fn at_lower_temperatures() {
    check(0.6, false, Draft::Random, &[(1, 0.0, 5), (4, 0.0, 6)]);
    check(0.2, false, Draft::TargetLayer, &[(1, 0.0, 7), (4, 0.0, 8)]);
}

#[test]
fn with_timestamp_rules() {
    check(1.0, true, Draft::Random, &[(1, 0.0, 9), (4, 0.0, 10)]);
    check(0.6, true, Draft::Random, &[(2, 0.0, 11)]);
    check(0.2, true, Draft::TargetLayer, &[(4, 0.0, 12)]);
}
