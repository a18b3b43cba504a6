//! The statistics the benchmarks report: medians of repeated runs, this process's peak
//! resident memory, and the memory bandwidth a decoder step is bounded by.

/// The median of `v` (0 for none).
pub(super) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Peak resident memory of this process in MB (Linux), from /proc.
pub(super) fn peak_rss_mb() -> Option<f64> {
    status_mb("VmHWM:")
}

/// Starts the peak resident memory over from the current resident memory (Linux: writing 5
/// to /proc/self/clear_refs), so that a probe's buffer is not counted as the model's. Where
/// that is not possible the peak simply keeps it.
pub(super) fn reset_peak_rss() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        tracing::debug!("cannot reset the peak RSS: {e}");
    }
}

/// Resident memory of this process now, in MB (Linux), from /proc.
pub(super) fn rss_mb() -> Option<f64> {
    status_mb("VmRSS:")
}

/// The kB figure of `field` in /proc/self/status, in MB.
fn status_mb(field: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Memory bandwidth in GB/s as every core reads it: the best of 20 passes summing a
/// 512 MiB buffer (far larger than any cache) split across the rayon pool, the way a decoder
/// step streams its weights.
pub(super) fn memory_bandwidth_gbs() -> f64 {
    use rayon::prelude::*;
    const WORDS: usize = 64 << 20;
    let buffer: Vec<u64> = (0..WORDS as u64).collect();
    let mut best = 0.0f64;
    for _ in 0..20 {
        let t0 = std::time::Instant::now();
        let sum = buffer
            .par_chunks(1 << 16)
            .map(|chunk| chunk.iter().fold(0u64, |a, &b| a.wrapping_add(b)))
            .reduce(|| 0, u64::wrapping_add);
        let seconds = t0.elapsed().as_secs_f64();
        std::hint::black_box(sum);
        best = best.max((WORDS * 8) as f64 / seconds / 1e9);
    }
    best
}

/// The rate (GFLOP/s, two per multiply-add) at which this machine's decoder projections do
/// arithmetic on `rows` rows when memory is not in the way: the best of 20 rounds of the
/// kernel a decoder pass runs (the packed one where the decoder packs its weights) over a
/// half-precision weight of the decoder's width that stays in cache (1 MB), across the same
/// thread pool as a decoder pass. A verify pass of `rows` tokens does at least its
/// multiply-adds at this rate, however fast memory is.
pub(super) fn multiply_add_gflops(rows: usize) -> f64 {
    use crate::kernels::packed_weight::{PackedWeight, worth_packing};
    use crate::kernels::small_matmul::matmul_nt;
    const K: usize = 1280;
    const N: usize = 384;
    const CALLS: usize = 200;
    let weight: Vec<half::f16> = (0..N * K)
        .map(|i| half::f16::from_f32((i % 251) as f32 / 251.0 - 0.5))
        .collect();
    let packed = worth_packing(K).then(|| PackedWeight::pack(&weight, N, K));
    let x: Vec<f32> = (0..rows * K).map(|i| (i % 97) as f32 / 97.0).collect();
    let mut y = vec![0f32; rows * N];
    let mut best = 0.0f64;
    for _ in 0..20 {
        let t0 = std::time::Instant::now();
        for _ in 0..CALLS {
            match &packed {
                Some(p) => p.matmul(&x, rows, None, &mut y),
                None => matmul_nt(&x, rows, K, &weight, N, None, &mut y),
            }
            std::hint::black_box(&mut y);
        }
        let seconds = t0.elapsed().as_secs_f64();
        best = best.max((2 * rows * K * N * CALLS) as f64 / seconds / 1e9);
    }
    best
}
