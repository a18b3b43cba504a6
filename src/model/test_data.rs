//! Deterministic inputs for the CPU kernels' unit tests (matmul, attention, 8- and 4-bit).

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
