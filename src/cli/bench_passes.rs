//! `whisper-spec bench --passes FILE`: the decoder's passes timed with the weights as published
//! and widened to f32, side by side in one process: a one-token step, verify passes of K
//! tokens (the speculative shapes), the fused 8-bit draft's step, and the encoder's 30 s
//! window, with the memory each storage's model holds. Rounds alternate between the storages
//! (the machine is noisy) and medians are reported; the two storages' logits are also compared
//! bit for bit, since the published storage is only a speed-up if it computes the same thing.

use std::path::Path;
use std::time::Instant;

use candle_core::Device;

use super::bench_stats::{median, peak_rss_mb, rss_mb};
use crate::audio::load_audio;
use crate::model::FusedDraft;
use crate::store::{Store, WeightStorage};
use crate::transcribe::Transcriber;

/// Verify-pass widths measured (K = draft tokens + 1).
const VERIFY_WIDTHS: [usize; 5] = [2, 3, 5, 8, 13];
/// Calls per timed measurement (the median of `rounds` such means is reported).
const CALLS: usize = 20;

/// One storage's model and what it measured.
struct Side {
    label: &'static str,
    model: Transcriber,
    resident_mb: Option<f64>,
    times: Vec<Vec<f64>>,
}

/// Runs the passes benchmark of `model` on the first window of `file`, `rounds` times.
pub fn run(model: &str, file: &Path, rounds: usize) -> anyhow::Result<()> {
    let device = Device::Cpu;
    let resolved = Store::from_env().resolve(model)?;
    let mut sides = Vec::new();
    for (label, storage) in [
        ("published", WeightStorage::Published),
        ("f32", WeightStorage::F32),
    ] {
        let before = rss_mb();
        let t = Transcriber::load_stored(&resolved.model, model, &device, storage)?;
        let resident_mb = rss_mb().zip(before).map(|(a, b)| a - b);
        sides.push(Side {
            label,
            model: t,
            resident_mb,
            times: Vec::new(),
        });
    }
    let audio = load_audio(file)?;
    let window = sides[0].model.first_window(&audio.samples);
    // A realistic prefix: the start of transcript and the window's own first tokens.
    let sot = sides[0].model.tokenizer().specials().sot;
    let crosses = sides
        .iter()
        .map(|s| Ok(s.model.encode_window(&window)?.cross))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let prefix: Vec<u32> = std::iter::once(sot)
        .chain((0..23).map(|i| 400 + i))
        .collect();
    let block: Vec<u32> = (500..513).collect();
    let names: Vec<String> = std::iter::once("encoder, 30 s window".to_string())
        .chain(std::iter::once("decoder step, 1 token".to_string()))
        .chain(
            VERIFY_WIDTHS
                .iter()
                .map(|k| format!("decoder verify, {k} tokens")),
        )
        .collect();
    for side in &mut sides {
        side.times = vec![Vec::new(); names.len()];
    }
    let time = |calls: usize, f: &mut dyn FnMut() -> anyhow::Result<()>| {
        let start = Instant::now();
        for _ in 0..calls {
            f()?;
        }
        anyhow::Ok(start.elapsed().as_secs_f64() * 1e3 / calls as f64)
    };
    let mut identical = true;
    for _ in 0..rounds {
        for (side, cross) in sides.iter_mut().zip(&crosses) {
            let t = &side.model;
            let dec = &t.model().decoder;
            side.times[0].push(time(1, &mut || {
                t.model().encode(&window, 3000)?;
                Ok(())
            })?);
            let mut cache = dec.new_cache();
            dec.forward(&prefix, &mut cache, cross)?;
            let base = cache.len();
            let widths = std::iter::once(1).chain(VERIFY_WIDTHS);
            for (i, k) in widths.enumerate() {
                side.times[i + 1].push(time(CALLS, &mut || {
                    dec.forward(&block[..k], &mut cache, cross)?;
                    cache.truncate(base);
                    Ok(())
                })?);
            }
        }
        // The same passes' logits, bit for bit.
        let logits = sides
            .iter()
            .zip(&crosses)
            .map(|(s, cross)| {
                let dec = &s.model.model().decoder;
                let mut cache = dec.new_cache();
                dec.forward(&prefix, &mut cache, cross)?;
                let l = dec.forward(&block[..8], &mut cache, cross)?;
                Ok(l.flatten_all()?
                    .to_vec1::<f32>()?
                    .into_iter()
                    .map(f32::to_bits)
                    .collect::<Vec<_>>())
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        identical &= logits[0] == logits[1];
    }
    // The fused 8-bit draft (the default draft on CPUs with AVX-512 VNNI) rounds the same
    // values from either storage; it is timed once, from the published model.
    let draft = FusedDraft::from_decoder(&sides[0].model.model().decoder)?;
    let draft_cross = draft.cross(&crosses[0])?;
    let mut state = draft.new_state();
    let mut logits = Vec::new();
    draft.forward_last(&prefix, &mut state, &draft_cross, &mut logits)?;
    let base = state.len();
    let mut draft_times = Vec::new();
    for _ in 0..rounds {
        draft_times.push(time(CALLS, &mut || {
            draft.forward_last(&[500], &mut state, &draft_cross, &mut logits)?;
            state.truncate(base);
            Ok(())
        })?);
    }

    println!(
        "{model}, {} (first window), medians of {rounds} rounds",
        file.display()
    );
    println!(
        "{:<28} {:>12} {:>12} {:>8}",
        "pass (ms)", sides[0].label, sides[1].label, "ratio"
    );
    for (i, name) in names.iter().enumerate() {
        let (a, b) = (
            median(sides[0].times[i].clone()),
            median(sides[1].times[i].clone()),
        );
        println!("{name:<28} {a:>12.2} {b:>12.2} {:>8.2}", a / b);
    }
    println!(
        "{:<28} {:>12.2}",
        "fused 8-bit draft step",
        median(draft_times)
    );
    let mb = |v: Option<f64>| v.map_or("?".to_string(), |v| format!("{v:.0}"));
    println!(
        "{:<28} {:>12} {:>12}",
        "model resident (MB)",
        mb(sides[0].resident_mb),
        mb(sides[1].resident_mb)
    );
    println!(
        "peak RSS of this process: {} MB; verify-8 logits identical: {identical}",
        mb(peak_rss_mb())
    );
    anyhow::ensure!(
        identical,
        "the published and f32 storages gave different logits"
    );
    Ok(())
}
