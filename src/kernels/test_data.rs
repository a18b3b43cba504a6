//! Deterministic inputs for the CPU kernels' unit tests (matmul, attention, 8- and 4-bit), and
//! the f64 attention they are checked against.

/// `len` values in [-1, 1] from an xorshift generator seeded by `seed`.
pub(crate) fn uniform(len: usize, seed: u32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 17;
            s ^= s << 5;
            (s as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect()
}

/// One head's attention for the query `q` in f64: `softmax(scale * q . k_t) . v_t` over keys
/// `0..keys`, with `key(t, e)` and `value(t, e)` reading the kernel's own layouts.
pub(crate) fn attention_f64(
    q: &[f32],
    keys: usize,
    scale: f32,
    key: impl Fn(usize, usize) -> f32,
    value: impl Fn(usize, usize) -> f32,
) -> Vec<f64> {
    let hd = q.len();
    let scores: Vec<f64> = (0..keys)
        .map(|t| {
            (0..hd)
                .map(|e| f64::from(q[e]) * f64::from(key(t, e)))
                .sum::<f64>()
                * f64::from(scale)
        })
        .collect();
    let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let p: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
    let sum: f64 = p.iter().sum();
    (0..hd)
        .map(|e| (0..keys).map(|t| p[t] / sum * f64::from(value(t, e))).sum())
        .collect()
}
