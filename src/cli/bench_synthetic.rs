//! `whisper-spec bench --synthetic NAME [--draft NAME] [--quantize q8_0|q4k]`: a model of the
//! real shape (random weights, [`crate::store::synthetic`]) measured at full size: built once
//! into the store, served by a hub on 127.0.0.1 and loaded through the normal hub download
//! path, then timed: load, encoder window, decoder step, verify passes of 2/4/8 tokens, the
//! draft's step, the bytes a step reads against the memory bandwidth measured in the same run,
//! peak memory, and whether speculative greedy decoding gives the target's own tokens on a
//! 64-token decode. From the measured costs it tabulates the speed-up the pair would give at
//! a range of acceptance rates, since random weights agree on nothing.

use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::Device;

use super::bench_stats::{
    median, memory_bandwidth_gbs, multiply_add_gflops, peak_rss_mb, reset_peak_rss, rss_mb,
};
use crate::decoding::draft::{Draft, DraftSpec};
use crate::decoding::greedy::decode_greedy;
use crate::decoding::row_check::multi_token_pass_difference;
use crate::decoding::sampling::Sampler;
use crate::decoding::speculative::{SpecConfig, decode_speculative};
use crate::decoding::{FilterOptions, LogitFilters, WindowTask};
use crate::model::linear::QuantKind;
use crate::store::hub::HubOptions;
use crate::store::local_hub::LocalHub;
use crate::store::synthetic::{Shape, write_repo};
use crate::store::{Store, catalog};
use crate::text::Task;
use crate::transcribe::Transcriber;

/// Verify-pass widths reported (K = draft tokens + 1).
const VERIFY_WIDTHS: [usize; 3] = [2, 4, 8];
/// Tokens of the exactness decode.
const IDENTICAL_TOKENS: usize = 64;
/// Tokens a 30 s window of speech decodes to, for the speed-up table (English read speech
/// runs 70-110 in our corpus).
const TOKENS_PER_WINDOW: f64 = 100.0;
/// Acceptance rates of the speed-up table.
const ACCEPTANCES: [f64; 4] = [0.6, 0.7, 0.8, 0.9];
/// Seconds each timed measurement aims for (calls are repeated until about this long).
const MEASURE_S: f64 = 1.0;

/// What `bench --synthetic` was asked.
pub struct SyntheticPlan<'a> {
    /// Target (catalog name).
    pub model: &'a str,
    /// `--draft` as given.
    pub draft: &'a str,
    /// `--quantize`.
    pub quantize: Option<QuantKind>,
    /// Rounds of each timing (medians reported).
    pub rounds: usize,
    /// Print the JSON summary.
    pub json: bool,
}

/// A model's synthetic repo: built into `<store>/synthetic/repos/<repo id>/` once.
fn ensure_repo(store: &Store, shape: &Shape) -> anyhow::Result<(String, PathBuf, f64)> {
    let entry = catalog::lookup(shape.name)
        .ok_or_else(|| anyhow::anyhow!("{} is not in the catalog", shape.name))?;
    let dir = store.root.join("synthetic").join("repos").join(entry.repo);
    let mut built_s = 0.0;
    if !dir.join(crate::store::layout::WEIGHTS).is_file() {
        let t0 = Instant::now();
        let tokenizer = store.resolve(shape.tokenizer_source())?.model.dir;
        eprintln!(
            "building synthetic {} (random weights, real shape) in {}",
            shape.name,
            dir.display()
        );
        write_repo(shape, &tokenizer, &dir, seed_of(shape.name))?;
        built_s = t0.elapsed().as_secs_f64();
    }
    Ok((entry.repo.to_string(), dir, built_s))
}

/// Each model's weights come from its own stream (a distil draft shares nothing with its
/// target, as a real one shares only its training).
fn seed_of(name: &str) -> u64 {
    name.bytes()
        .fold(17u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)))
}

/// The catalog name of the model-draft `spec` loads, if it is one.
fn draft_model_name(spec: &DraftSpec, target: &str) -> Option<String> {
    match spec {
        DraftSpec::Model(name) => Some(name.clone()),
        DraftSpec::Auto => catalog::distil_draft(target).map(str::to_string),
        _ => None,
    }
}

/// Bytes of weights per element as a step reads them.
fn weight_bytes(quantize: Option<QuantKind>, published_f16: bool) -> f64 {
    match quantize {
        Some(QuantKind::Q8_0) => 34.0 / 32.0,
        Some(QuantKind::Q4) => 144.0 / 256.0,
        Some(QuantKind::Q4_0) => 18.0 / 32.0,
        None if published_f16 => 2.0,
        None => 4.0,
    }
}

/// Elements of the matrices every decoder token passes through: per layer the self-attention's
/// four, the cross-attention's query and output, the MLP's two (4 d wide); then the tied
/// vocabulary projection.
fn decoder_matrix_elements(shape: &Shape) -> f64 {
    let (d, l) = (shape.d_model as f64, shape.decoder_layers as f64);
    l * (6.0 * d * d + 2.0 * d * 4.0 * d) + shape.vocab as f64 * d
}

/// Bytes one decoder step at position `position` reads: every per-step matrix (self-attention,
/// the cross-attention's query and output, the MLP, the tied vocabulary projection), the
/// cross-attention keys/values of the window (f32, or bf16 for a quantized target) and the
/// self-attention cache so far.
fn decoder_step_bytes(shape: &Shape, quantize: Option<QuantKind>, position: usize) -> f64 {
    let (d, l) = (shape.d_model as f64, shape.decoder_layers as f64);
    let w = weight_bytes(quantize, shape.published_f16);
    let matrices = decoder_matrix_elements(shape);
    let cross_kv = l * 2.0 * 1500.0 * d * if quantize.is_some() { 2.0 } else { 4.0 };
    let self_kv = l * 2.0 * position as f64 * d * 4.0;
    matrices * w + cross_kv + self_kv
}

/// Floating-point operations (two per multiply-add) of a decoder pass over `tokens` tokens
/// after `position` cached ones: every matrix once per token, and attention over the window's
/// 1500 frames and the cache (scores and weighted values).
fn decoder_pass_flops(shape: &Shape, tokens: usize, position: usize) -> f64 {
    let (d, l, k) = (
        shape.d_model as f64,
        shape.decoder_layers as f64,
        tokens as f64,
    );
    let matrices = decoder_matrix_elements(shape);
    // Token i sees the 1500 frames and position + i + 1 cached keys.
    let keys = k * (1500.0 + position as f64) + k * (k + 1.0) / 2.0;
    2.0 * k * matrices + 2.0 * 2.0 * keys * d * l
}

/// Mean milliseconds of `f` over enough calls to last about [`MEASURE_S`].
fn time_ms(mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<f64> {
    let t0 = Instant::now();
    f()?;
    let first = t0.elapsed().as_secs_f64();
    let calls = ((MEASURE_S / first.max(1e-6)) as usize).clamp(1, 50);
    let t0 = Instant::now();
    for _ in 0..calls {
        f()?;
    }
    Ok(t0.elapsed().as_secs_f64() * 1e3 / calls as f64)
}

/// 30 s of deterministic test audio: a gliding tone over noise (the encoder's cost does not
/// depend on what it hears; the decode needs only some window).
fn test_audio() -> Vec<f32> {
    let mut state = 1u32;
    (0..crate::audio::N_SAMPLES)
        .map(|i| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
            let t = i as f32 / 16_000.0;
            0.3 * (2.0 * std::f32::consts::PI * (200.0 + 20.0 * t) * t).sin() + 0.05 * noise
        })
        .collect()
}

/// Runs the benchmark; returns whether speculative decoding was identical.
pub fn run(plan: &SyntheticPlan<'_>) -> anyhow::Result<bool> {
    let shape = Shape::of(plan.model).ok_or_else(|| {
        anyhow::anyhow!(
            "--synthetic {}: no such catalog model; known shapes: {}",
            plan.model,
            crate::store::synthetic::SHAPES
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", ")
        )
    })?;
    let spec: DraftSpec = plan.draft.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    // First, before any model is in memory; its buffer is then dropped from the peak.
    let bandwidth_before = memory_bandwidth_gbs();
    // The f32 projections' arithmetic rate bounds the widest verify pass from below; the
    // quantized kernels have rates of their own, not measured here.
    let arithmetic = plan
        .quantize
        .is_none()
        .then(|| multiply_add_gflops(VERIFY_WIDTHS[VERIFY_WIDTHS.len() - 1]));
    reset_peak_rss();
    let home = Store::from_env();
    let mut repos = vec![ensure_repo(&home, &shape)?];
    if let Some(name) = draft_model_name(&spec, plan.model) {
        let draft_shape = Shape::of(&name).ok_or_else(|| {
            anyhow::anyhow!(
                "--draft {name}: with --synthetic the draft must be a catalog model too"
            )
        })?;
        repos.push(ensure_repo(&home, &draft_shape)?);
    }
    let build_s: f64 = repos.iter().map(|r| r.2).sum();
    let served: Vec<(String, PathBuf)> = repos.iter().map(|r| (r.0.clone(), r.1.clone())).collect();
    let mut hub = LocalHub::serve_repos(&served)?;
    let synthetic_root = home.root.join("synthetic");
    let store = Store {
        root: synthetic_root.join("store"),
        hub: HubOptions {
            endpoint: Some(hub.endpoint.clone()),
            cache_dir: synthetic_root.join("hf-cache"),
            token: None,
            offline: false,
            progress: home.hub.progress,
            revision: "main".into(),
        },
    };

    let device = Device::Cpu;
    let t0 = Instant::now();
    let resolved = store.resolve(plan.model)?;
    let fetch_s = t0.elapsed().as_secs_f64();
    let weights_mb = file_mb(&resolved.model.weights());
    let rss_before = rss_mb();
    let t0 = Instant::now();
    let target = match plan.quantize {
        Some(kind) => Transcriber::load_quantized(&resolved.model, plan.model, &device, kind)?,
        None => Transcriber::load(&resolved.model, plan.model, &device)?,
    };
    let load_s = t0.elapsed().as_secs_f64();
    let resident_mb = rss_mb().zip(rss_before).map(|(a, b)| a - b);
    let t0 = Instant::now();
    let draft = Draft::build(
        &spec,
        target.model(),
        &resolved.model,
        plan.model,
        &store,
        &device,
    )?
    .ok_or_else(|| {
        anyhow::anyhow!("bench --synthetic measures a pair: --draft none has nothing to draft")
    })?;
    let draft_load_s = t0.elapsed().as_secs_f64();
    hub.stop();
    let precision = match plan.quantize {
        Some(kind) => kind.label(),
        None if shape.published_f16 => "f16 (published, f32 compute)",
        None => "f32",
    };
    eprintln!(
        "{} ({precision}) with draft {}: fetched in {fetch_s:.1} s, loaded in {load_s:.1} s",
        plan.model,
        draft.label()
    );

    // One window, encoded as the transcriber does; the draft's cross-attention from it.
    let window = target.first_window(&test_audio());
    let mut encoder_s = Vec::new();
    let mut encoded = None;
    for _ in 0..plan.rounds.min(2) {
        let t0 = Instant::now();
        let features = target
            .model()
            .encode(&window, crate::audio::framing::N_FRAMES)?;
        encoder_s.push(t0.elapsed().as_secs_f64());
        encoded = Some(features);
    }
    let features = encoded.expect("at least one round");
    let decoder = &target.model().decoder;
    let cross = decoder.cross_kv(&features)?;
    let draft_cross = draft.cross_for_window(&cross, &features, &window)?;
    let pass_difference =
        multi_token_pass_difference(decoder, &cross, target.tokenizer().specials().sot)?;

    let tokenizer = target.tokenizer();
    let specials = *tokenizer.specials();
    let language = tokenizer.is_multilingual().then_some("en");
    let mut initial = tokenizer.sot_sequence(language, Task::Transcribe)?;
    initial.push(specials.no_timestamps);
    // Steps after a realistic prefix: the prompt and 20 text tokens.
    let prefix: Vec<u32> = initial.iter().copied().chain(400..420).collect();
    let block: Vec<u32> = (500..508).collect();
    let (mut step_ms, mut verify_ms, mut draft_ms) = (
        Vec::new(),
        vec![Vec::new(); VERIFY_WIDTHS.len()],
        Vec::new(),
    );
    let mut draft_logits = Vec::new();
    for _ in 0..plan.rounds {
        let mut cache = decoder.new_cache();
        decoder.forward(&prefix, &mut cache, &cross)?;
        let base = cache.len();
        step_ms.push(time_ms(|| {
            decoder.forward(&block[..1], &mut cache, &cross)?;
            cache.truncate(base);
            Ok(())
        })?);
        for (times, &k) in verify_ms.iter_mut().zip(&VERIFY_WIDTHS) {
            times.push(time_ms(|| {
                decoder.forward(&block[..k], &mut cache, &cross)?;
                cache.truncate(base);
                Ok(())
            })?);
        }
        let mut session = draft.session(&draft_cross)?;
        session.feed(&prefix, &mut draft_logits)?;
        let base = session.len();
        draft_ms.push(time_ms(|| {
            session.feed(&block[..1], &mut draft_logits)?;
            session.truncate(base);
            Ok(())
        })?);
    }

    // Exactness: greedy with end-of-text suppressed, so both decode the full length.
    let filters = LogitFilters::with_specials(
        specials,
        &[],
        &FilterOptions {
            sample_begin: initial.len(),
            suppress_tokens: Some(vec![specials.eot]),
            suppress_blank: false,
            timestamps: None,
        },
    );
    let task = WindowTask {
        decoder,
        cross: &cross,
        initial: &initial,
        sot_index: 0,
        filters: &filters,
        specials: &specials,
        sample_len: IDENTICAL_TOKENS,
    };
    let t0 = Instant::now();
    let alone = decode_greedy(&task)?;
    let alone_s = t0.elapsed().as_secs_f64();
    let mut session = draft.session(&draft_cross)?;
    let t0 = Instant::now();
    let (spec_decode, stats) = decode_speculative(
        &task,
        session.as_mut(),
        &SpecConfig::for_target(shape.decoder_layers),
        &mut Sampler::new(0),
    )?;
    let spec_s = t0.elapsed().as_secs_f64();
    let identical = alone.tokens == spec_decode.tokens && alone.tokens.len() >= IDENTICAL_TOKENS;
    drop(session);

    let peak = peak_rss_mb();
    // Again after the timings (the peak is read, so its buffer does not count): a machine's
    // bandwidth can move within minutes, and a step timed in a slow spell against a bound from
    // a fast one reads as a slow kernel. The bound takes the faster of the two; the run says
    // when they differ much.
    let bandwidth_after = memory_bandwidth_gbs();
    let bandwidth = bandwidth_before.max(bandwidth_after);
    let position = prefix.len() + 1;
    let bytes = decoder_step_bytes(&shape, plan.quantize, position);
    let step = median(step_ms);
    let verify: Vec<f64> = verify_ms.into_iter().map(median).collect();
    let draft_step = median(draft_ms);
    let encoder = median(encoder_s);
    let bound_ms = bytes / (bandwidth * 1e9) * 1e3;
    // A verify pass reads what a step reads and does `width` times its arithmetic: its bound
    // is the larger of the two times.
    let verify_bound_ms: Option<Vec<f64>> = arithmetic.map(|gflops| {
        VERIFY_WIDTHS
            .iter()
            .map(|&k| bound_ms.max(decoder_pass_flops(&shape, k, position) / gflops / 1e6))
            .collect()
    });

    println!(
        "{} + {} ({precision}), synthetic weights of the real shapes",
        plan.model,
        draft.label()
    );
    println!(
        "weights {weights_mb:.0} MB, resident after load {} MB, peak RSS {} MB; load {load_s:.2} s (draft {draft_load_s:.2} s)",
        fmt_opt(resident_mb),
        fmt_opt(peak)
    );
    println!("encoder, 30 s window        {:>10.2} s", encoder);
    println!("decoder step, 1 token       {step:>10.2} ms");
    for (k, v) in VERIFY_WIDTHS.iter().zip(&verify) {
        println!(
            "decoder verify, {k} tokens    {v:>10.2} ms  ({:.2}x a step)",
            v / step
        );
    }
    println!(
        "draft step                  {draft_step:>10.2} ms  ({:.3}x a step)",
        draft_step / step
    );
    println!(
        "bytes per step {:.0} MB at {bandwidth:.1} GB/s: bound {bound_ms:.2} ms, step {:.2}x the bound",
        bytes / 1e6,
        step / bound_ms
    );
    if (bandwidth_before - bandwidth_after).abs() > 0.15 * bandwidth {
        println!(
            "memory bandwidth moved during the run ({bandwidth_before:.1} GB/s before the timings, \
             {bandwidth_after:.1} after): ratios to the bounds are only as good as that"
        );
    }
    if let (Some(gflops), Some(bounds)) = (arithmetic, &verify_bound_ms) {
        let (widest, bound) = (
            VERIFY_WIDTHS[VERIFY_WIDTHS.len() - 1],
            bounds[bounds.len() - 1],
        );
        println!(
            "arithmetic at {widest} rows {gflops:.0} GFLOP/s (in cache): verify-{widest} bound {bound:.2} ms, \
             verify-{widest} {:.2}x its bound; bounds allow verify-{widest} / step >= {:.2}",
            verify[verify.len() - 1] / bound,
            bound / bound_ms
        );
    }
    println!(
        "{IDENTICAL_TOKENS}-token greedy decode: target alone {alone_s:.2} s, speculative {spec_s:.2} s \
         (acceptance {:.3} with random weights), identical {identical}",
        stats.acceptance_rate()
    );
    println!(
        "multi-token pass bit for bit its one-token steps: {}",
        pass_difference.as_deref().unwrap_or("yes")
    );
    let table = speedup_table(encoder, step, &verify, draft_step);
    println!(
        "expected speed-up from these costs ({TOKENS_PER_WINDOW} tokens per 30 s window; best draft length):"
    );
    println!(
        "{:>10} {:>8} {:>10} {:>12}",
        "acceptance", "drafts", "decoder x", "end-to-end x"
    );
    for row in &table {
        println!(
            "{:>10.1} {:>8} {:>10.2} {:>12.2}",
            row.acceptance, row.draft_tokens, row.decoder, row.end_to_end
        );
    }
    if plan.json {
        println!(
            "{}",
            serde_json::json!({
                "model": plan.model,
                "precision": precision,
                "draft": draft.label(),
                "build_s": build_s,
                "fetch_s": fetch_s,
                "load_s": load_s,
                "draft_load_s": draft_load_s,
                "weights_mb": weights_mb,
                "draft_weights_mb": repos.get(1).map(|r| file_mb(&r.1.join(crate::store::layout::WEIGHTS))),
                "resident_mb": resident_mb,
                "peak_rss_mb": peak,
                "encoder_window_s": encoder,
                "decoder_step_ms": step,
                "verify_ms": VERIFY_WIDTHS.iter().zip(&verify).map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
                "decoder_bytes": bytes,
                "bandwidth_gbs": bandwidth,
                "bandwidth_gbs_before": bandwidth_before,
                "bandwidth_gbs_after": bandwidth_after,
                "step_over_bound": step / bound_ms,
                "multiply_add_gflops": arithmetic,
                "verify_bound_ms": verify_bound_ms.as_ref().map(|b| VERIFY_WIDTHS.iter().zip(b).map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>()),
                "draft_step_ms": draft_step,
                "identical": identical,
                "multi_token_pass_exact": pass_difference.is_none(),
                "identical_tokens": alone.tokens.len(),
                "speedup_at_acceptance": table.iter().map(|r| (format!("{:.1}", r.acceptance), serde_json::json!({
                    "draft_tokens": r.draft_tokens, "decoder": r.decoder, "end_to_end": r.end_to_end,
                }))).collect::<serde_json::Map<_, _>>(),
            })
        );
    }
    Ok(identical)
}

/// One row of the speed-up table.
struct SpeedupRow {
    acceptance: f64,
    draft_tokens: usize,
    decoder: f64,
    end_to_end: f64,
}

/// The speed-up the measured costs give at each acceptance rate, with the best of the
/// measured draft lengths (K - 1 for each verify width K): a round of k proposals yields
/// (1 - a^(k+1)) / (1 - a) tokens on average (acceptances independent per token) and costs k
/// draft steps plus one verify pass of k + 1 tokens; the encoder's window is the same on both
/// sides.
fn speedup_table(
    encoder_s: f64,
    step_ms: f64,
    verify_ms: &[f64],
    draft_ms: f64,
) -> Vec<SpeedupRow> {
    ACCEPTANCES
        .iter()
        .map(|&a| {
            let (draft_tokens, round_ms_per_token) = VERIFY_WIDTHS
                .iter()
                .zip(verify_ms)
                .map(|(&width, &verify)| {
                    let k = width - 1;
                    let tokens = (1.0 - a.powi(width as i32)) / (1.0 - a);
                    (k, (k as f64 * draft_ms + verify) / tokens)
                })
                .min_by(|x, y| x.1.total_cmp(&y.1))
                .expect("verify widths");
            let alone = encoder_s * 1e3 + TOKENS_PER_WINDOW * step_ms;
            let with = encoder_s * 1e3 + TOKENS_PER_WINDOW * round_ms_per_token;
            SpeedupRow {
                acceptance: a,
                draft_tokens,
                decoder: step_ms / round_ms_per_token,
                end_to_end: alone / with,
            }
        })
        .collect()
}

fn file_mb(path: &Path) -> f64 {
    std::fs::metadata(path).map_or(0.0, |m| m.len() as f64 / 1e6)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("?".into(), |v| format!("{v:.0}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speedup_table_follows_the_round_arithmetic() {
        // A free draft and verify passes as cheap as a step: at acceptance 0.9 with 7
        // proposals a round yields (1 - 0.9^8) / 0.1 = 5.69 tokens for one step's cost.
        let rows = speedup_table(0.0, 10.0, &[10.0, 10.0, 10.0], 0.0);
        let last = rows.last().unwrap();
        assert_eq!(last.draft_tokens, 7);
        assert!((last.decoder - (1.0 - 0.9f64.powi(8)) / 0.1).abs() < 1e-9);
        assert!((last.end_to_end - last.decoder).abs() < 1e-9);
        // Expensive verify passes favour short drafts.
        let rows = speedup_table(0.0, 10.0, &[11.0, 30.0, 80.0], 1.0);
        assert_eq!(rows[0].draft_tokens, 1);
    }

    #[test]
    fn large_v3_step_reads_its_matrices_and_cross_attention() {
        let shape = Shape::of("large-v3").unwrap();
        let bytes = decoder_step_bytes(&shape, None, 0);
        // 32 x (6 d^2 + 8 d^2) + 51866 d f16 elements, plus 32 x 2 x 1500 x d f32.
        let d = 1280.0;
        let expected = (32.0 * 14.0 * d * d + 51866.0 * d) * 2.0 + 32.0 * 2.0 * 1500.0 * d * 4.0;
        assert_eq!(bytes, expected);
    }

    #[test]
    fn large_v3_pass_does_its_matrices_and_attention_per_token() {
        let shape = Shape::of("large-v3").unwrap();
        let d = 1280.0;
        let matrices = 32.0 * 14.0 * d * d + 51866.0 * d;
        // 8 tokens after 20 cached: 8 x 1520 + 36 keys per layer, scores and values.
        let expected = 2.0 * 8.0 * matrices + 4.0 * (8.0 * 1520.0 + 36.0) * d * 32.0;
        assert_eq!(decoder_pass_flops(&shape, 8, 20), expected);
        assert!(decoder_pass_flops(&shape, 8, 20) > 7.9 * decoder_pass_flops(&shape, 1, 27));
    }
}
