//! `y = x W^T (+ b)` on the CPU: every dense projection of the model, and above all the
//! decoder's, which see a few rows at a time.
//!
//! A decoder step multiplies one row (a speculative verify pass 2 to 13 rows) by every weight
//! matrix, so its cost is reading the weights once from memory. A general GEMM (candle's
//! `gemm` crate) is tuned for many rows, and a few rows through it cost several times one row,
//! which eats what speculative decoding saves. This kernel streams each weight row once and
//! multiplies it by all the rows of `x` while it is in registers, so 5 rows cost little more
//! than 1 (figures: docs/MEASUREMENTS.md).
//!
//! Every output element is one dot product computed the same way whatever the number of rows
//! or their position in a tile: lane `l` of a SIMD accumulator sums the products at
//! `k = l, l + W, l + 2W, ...` in increasing `k` with fused multiply-adds, then the lanes are
//! added in a fixed tree, then the bias. So a row's result does not depend on the other rows:
//! a block of tokens gets bit-for-bit the projections of the same tokens fed one at a time,
//! which is what makes the target's verify pass agree with its own one-token steps.
//!
//! Many rows work too: the kernel walks the weight in tiles and runs every row past each tile
//! while it sits in L1, so it also beats candle's GEMM on the encoder's 1500 frames and on
//! prompt passes.
//!
//! Work is split over output columns on candle's barrier pool, the same threads that run
//! candle's quantized kernels, so dense and quantized projections never oversubscribe cores.
//!
//! The decoder keeps its per-token weights in the order the grouped tiles read them
//! ([`packed_weight`](super::packed_weight), the same arithmetic over the same span kernel);
//! this file's row-major entry points serve every other weight and every other CPU.

use candle_core::{Device, Result, Storage, Tensor};

use crate::kernels::{Isa, SendPtr, WeightElement};

/// Most rows of `x` and of `W` multiplied together in registers: a tile of accumulators is
/// 4 x 4, or with AVX-512's 32 registers 8 x 3 when there are more than four rows (each weight
/// vector loaded and widened once for eight rows instead of twice); AVX2's 16 registers hold
/// 4 x 3 for four rows or more.
pub(super) const MR: usize = 8;
pub(super) const NR: usize = 4;

/// Columns of the tile of more than four rows on AVX-512 (and NEON); the groups of a packed
/// weight ([`packed_weight`](super::packed_weight)) are made of these tiles.
pub(super) const WIDE_NR: usize = 3;

/// Size of a block of rows of `x` (in floats) kept in L2 while the weight tiles stream past.
pub(super) const ROW_BLOCK_FLOATS: usize = 128 * 1024;

/// `x @ weight^T (+ bias)` over the last dimension of `x` for f32 inputs on the CPU, with the
/// weight in f32 or in the half precision it was published in (widened in registers, the same
/// bits as its f32 copy); `None` when the input is not such (the caller uses candle).
/// `weight` is `[n, k]`, `bias` `[n]`; the result has `x`'s shape with the last dimension `n`.
pub fn try_forward(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Option<Tensor>> {
    use candle_core::DType;
    let dims = x.dims();
    let Some((&k, lead)) = dims.split_last() else {
        return Ok(None);
    };
    let m: usize = lead.iter().product();
    if m == 0 || !x.device().is_cpu() || x.dtype() != DType::F32 {
        return Ok(None);
    }
    let (n, wk) = weight.dims2()?;
    let weight_type_ok = matches!(weight.dtype(), DType::F32 | DType::F16 | DType::BF16);
    if wk != k || !weight_type_ok || !weight.is_contiguous() {
        return Ok(None);
    }
    let x = x.contiguous()?;
    let bias = bias
        .map(|b| b.to_dtype(DType::F32)?.contiguous())
        .transpose()?;
    let mut y = vec![0f32; m * n];
    {
        let (xs, xl) = x.storage_and_layout();
        let (ws, wl) = weight.storage_and_layout();
        let (Storage::Cpu(xs), Storage::Cpu(ws)) = (&*xs, &*ws) else {
            return Ok(None);
        };
        let xd = &xs.as_slice::<f32>()?[xl.start_offset()..xl.start_offset() + m * k];
        let bias_guard = bias.as_ref().map(|b| b.storage_and_layout());
        let bd = match &bias_guard {
            Some((bs, bl)) => {
                let Storage::Cpu(bs) = &**bs else {
                    return Ok(None);
                };
                Some(&bs.as_slice::<f32>()?[bl.start_offset()..bl.start_offset() + n])
            }
            None => None,
        };
        let range = wl.start_offset()..wl.start_offset() + n * k;
        match weight.dtype() {
            DType::F16 => matmul_nt(xd, m, k, &ws.as_slice::<half::f16>()?[range], n, bd, &mut y),
            DType::BF16 => matmul_nt(
                xd,
                m,
                k,
                &ws.as_slice::<half::bf16>()?[range],
                n,
                bd,
                &mut y,
            ),
            _ => matmul_nt(xd, m, k, &ws.as_slice::<f32>()?[range], n, bd, &mut y),
        }
    }
    let mut shape = dims.to_vec();
    *shape.last_mut().expect("rank >= 1") = n;
    Tensor::from_vec(y, shape, &Device::Cpu).map(Some)
}

/// `y[i, j] = sum_k x[i, k] * w[j, k] (+ bias[j])` for `x` `[m, k]`, `w` `[n, k]`, `y` `[m, n]`,
/// all row-major. Parallel over `j`; each `y[i, j]` is computed the same way for any `m`, and
/// for any weight element type (a half-precision weight gives the bits of its f32 copy).
///
/// Half-precision weights are widened in registers as each tile reads them, for every block of
/// rows (again for each block: the conversion is cheap next to the multiply-adds, and a
/// separate widening pass into an f32 buffer stalls on memory where this overlaps it).
pub fn matmul_nt<W: WeightElement>(
    x: &[f32],
    m: usize,
    k: usize,
    w: &[W],
    n: usize,
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    assert!(x.len() >= m * k && w.len() >= n * k && y.len() >= m * n);
    assert!(bias.is_none_or(|b| b.len() >= n));
    let kernel = Isa::detect();
    let (tile_rows, tile_cols) = kernel.tile_shape(m);
    let tiles = n.div_ceil(tile_cols);
    let y_ptr = SendPtr(y.as_mut_ptr());
    // Rows are taken in blocks small enough (at most 512 KB of x) to stay in L2 while every
    // weight tile of this thread passes by; a decoder pass is a single block. Without this,
    // the encoder's 1500 rows were re-read from memory for every tile of four weight rows.
    let block_rows = (ROW_BLOCK_FLOATS / k.max(1)).max(tile_rows) / tile_rows * tile_rows;
    let run = |range: std::ops::Range<usize>| {
        let mut b0 = 0;
        while b0 < m {
            let b1 = m.min(b0 + block_rows);
            for tile in range.clone() {
                let j0 = tile * tile_cols;
                let nr = tile_cols.min(n - j0);
                let mut i0 = b0;
                while i0 < b1 {
                    let mr = tile_rows.min(b1 - i0);
                    let mut out = [[0f32; NR]; MR];
                    kernel.tile(&x[i0 * k..], mr, k, &w[j0 * k..], nr, &mut out);
                    store_tile(&out, (mr, nr), (i0, j0), bias, &y_ptr, n);
                    i0 += mr;
                }
            }
            b0 = b1;
        }
    };
    // A pass over a few hundred KB of weights is too short to be worth waking another thread.
    if n * k * size_of::<W>() < 256 * 1024 {
        run(0..tiles);
    } else {
        candle_core::utils::barrier_pool().execute_chunked(tiles, run);
    }
}

/// Writes a tile's `mr x nr` results (plus the bias) at rows `i0..`, columns `j0..` of `y`
/// (row length `n`).
#[inline(always)]
pub(super) fn store_tile(
    out: &[[f32; NR]; MR],
    (mr, nr): (usize, usize),
    (i0, j0): (usize, usize),
    bias: Option<&[f32]>,
    y: &SendPtr<f32>,
    n: usize,
) {
    for (i, row) in out.iter().enumerate().take(mr) {
        for (jj, &v) in row.iter().enumerate().take(nr) {
            let j = j0 + jj;
            let v = match bias {
                Some(b) => v + b[j],
                None => v,
            };
            // SAFETY: tiles cover disjoint columns `j0..j0 + nr`, so no two threads write the
            // same `y[i0 + i, j]`; the index is < m * n.
            unsafe { *y.0.add((i0 + i) * n + j) = v };
        }
    }
}

impl Isa {
    /// Rows and columns of the register tile for `m` rows of `x`. Only speed depends on it:
    /// every element is the same multiply-add chain and lane reduction in any tile.
    fn tile_shape(self, m: usize) -> (usize, usize) {
        match self {
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 if m > 4 => (MR, WIDE_NR),
            // AVX2 has 16 registers: 4 x 3 accumulators, three weight vectors and one of x.
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 if m > 3 => (4, 3),
            // NEON's 32 registers hold the 8 x 3 tile as AVX-512's do.
            #[cfg(target_arch = "aarch64")]
            Isa::Neon if m > 4 => (MR, WIDE_NR),
            _ => (4, 4),
        }
    }

    /// Dot products of rows `0..mr` of `x` (row stride `k`) with rows `0..nr` of `w` (row
    /// stride `k`) into `out[i][j]`.
    fn tile<W: WeightElement>(
        self,
        x: &[f32],
        mr: usize,
        k: usize,
        w: &[W],
        nr: usize,
        out: &mut [[f32; NR]; MR],
    ) {
        debug_assert!(x.len() >= (mr - 1) * k + k && w.len() >= (nr - 1) * k + k);
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: detect() saw AVX-512F; the asserts above keep every load in bounds.
            Isa::Avx512 => unsafe { x86::dispatch_avx512(x, mr, k, w, nr, out) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: detect() saw AVX2 and FMA; loads stay in bounds as above.
            Isa::Avx2 => unsafe { x86::dispatch_avx2(x, mr, k, w, nr, out) },
            #[cfg(target_arch = "aarch64")]
            // SAFETY: Advanced SIMD is on every AArch64 CPU; loads stay in bounds as above.
            Isa::Neon => unsafe { arm::dispatch_neon(x, mr, k, w, nr, out) },
            Isa::Portable => portable_tile(x, mr, k, w, nr, out),
        }
    }
}

/// Plain Rust: eight interleaved partial sums per dot product, added pairwise at the end.
fn portable_tile<W: WeightElement>(
    x: &[f32],
    mr: usize,
    k: usize,
    w: &[W],
    nr: usize,
    out: &mut [[f32; NR]; MR],
) {
    const L: usize = 8;
    for i in 0..mr {
        let xr = &x[i * k..i * k + k];
        for j in 0..nr {
            let wr = &w[j * k..j * k + k];
            let mut acc = [0f32; L];
            for (kk, (a, b)) in xr.iter().zip(wr).enumerate() {
                acc[kk % L] += a * b.to_f32();
            }
            let mut width = L;
            while width > 1 {
                width /= 2;
                for l in 0..width {
                    acc[l] += acc[l + width];
                }
            }
            out[i][j] = acc[0];
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    //! The SIMD tiles. Each is generic over the tile size so the accumulators stay in registers;
    //! a remainder tile (fewer rows or columns) runs the same per-element arithmetic.

    use super::{MR, NR, tail};
    use crate::kernels::WeightElement;
    use std::arch::x86_64::*;

    /// How many weight rows ahead of the current one to prefetch (two tiles).
    const AHEAD: usize = 2 * NR;

    macro_rules! dispatch {
        ($name:ident, $tile:ident, $wide:ident, $feat:literal) => {
            #[target_feature(enable = $feat)]
            pub(super) unsafe fn $name<W: WeightElement>(
                x: &[f32],
                mr: usize,
                k: usize,
                w: &[W],
                nr: usize,
                out: &mut [[f32; NR]; MR],
            ) {
                let (x, w) = (x.as_ptr(), w.as_ptr());
                // SAFETY: the caller checked bounds and the CPU features.
                unsafe {
                    match (mr, nr) {
                        (4, 4) => $tile::<4, 4, W>(x, k, w, out),
                        (4, 3) => $tile::<4, 3, W>(x, k, w, out),
                        (4, 2) => $tile::<4, 2, W>(x, k, w, out),
                        (4, 1) => $tile::<4, 1, W>(x, k, w, out),
                        (3, 4) => $tile::<3, 4, W>(x, k, w, out),
                        (3, 3) => $tile::<3, 3, W>(x, k, w, out),
                        (3, 2) => $tile::<3, 2, W>(x, k, w, out),
                        (3, 1) => $tile::<3, 1, W>(x, k, w, out),
                        (2, 4) => $tile::<2, 4, W>(x, k, w, out),
                        (2, 3) => $tile::<2, 3, W>(x, k, w, out),
                        (2, 2) => $tile::<2, 2, W>(x, k, w, out),
                        (2, 1) => $tile::<2, 1, W>(x, k, w, out),
                        (1, 4) => $tile::<1, 4, W>(x, k, w, out),
                        (1, 3) => $tile::<1, 3, W>(x, k, w, out),
                        (1, 2) => $tile::<1, 2, W>(x, k, w, out),
                        (1, 1) => $tile::<1, 1, W>(x, k, w, out),
                        _ => $wide(x, mr, k, w, nr, out),
                    }
                }
            }
        };
    }

    dispatch!(dispatch_avx512, tile_avx512, wide_avx512, "avx512f");
    dispatch!(dispatch_avx2, tile_avx2, no_wide_tiles, "avx2,fma,f16c");

    /// The AVX-512 tiles of five to eight rows by one to three columns.
    #[target_feature(enable = "avx512f")]
    unsafe fn wide_avx512<W: WeightElement>(
        x: *const f32,
        mr: usize,
        k: usize,
        w: *const W,
        nr: usize,
        out: &mut [[f32; NR]; MR],
    ) {
        // SAFETY: as for the small tiles (the caller checked bounds and features).
        unsafe {
            match (mr, nr) {
                (8, 3) => tile_avx512::<8, 3, W>(x, k, w, out),
                (8, 2) => tile_avx512::<8, 2, W>(x, k, w, out),
                (8, 1) => tile_avx512::<8, 1, W>(x, k, w, out),
                (7, 3) => tile_avx512::<7, 3, W>(x, k, w, out),
                (7, 2) => tile_avx512::<7, 2, W>(x, k, w, out),
                (7, 1) => tile_avx512::<7, 1, W>(x, k, w, out),
                (6, 3) => tile_avx512::<6, 3, W>(x, k, w, out),
                (6, 2) => tile_avx512::<6, 2, W>(x, k, w, out),
                (6, 1) => tile_avx512::<6, 1, W>(x, k, w, out),
                (5, 3) => tile_avx512::<5, 3, W>(x, k, w, out),
                (5, 2) => tile_avx512::<5, 2, W>(x, k, w, out),
                (5, 1) => tile_avx512::<5, 1, W>(x, k, w, out),
                _ => unreachable!("AVX-512 tiles are at most 8 x 3 above four rows"),
            }
        }
    }

    /// AVX2 tiles are at most 4 x 4 (`Isa::tile_shape`).
    #[inline(always)]
    unsafe fn no_wide_tiles<W: WeightElement>(
        _: *const f32,
        _: usize,
        _: usize,
        _: *const W,
        _: usize,
        _: &mut [[f32; NR]; MR],
    ) {
        unreachable!("AVX2 tiles are at most 4 x 4")
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile_avx512<const M: usize, const N: usize, W: WeightElement>(
        x: *const f32,
        k: usize,
        w: *const W,
        out: &mut [[f32; NR]; MR],
    ) {
        let mut acc = [[_mm512_setzero_ps(); N]; M];
        // SAFETY: the caller checked bounds and features.
        unsafe { span_avx512::<M, N, W>(x, k, (w, k), 0..k, w.wrapping_add(AHEAD * k), &mut acc) };
        finish_avx512::<M, N>(&acc, out);
    }

    /// Adds the products of columns `span` (starting at a multiple of 16; ending at one, or at
    /// `k`, which takes the masked tail) to the M x N tile's per-lane sums `acc`. Rows of `x`
    /// are `k` long; `w` is `(first, stride)`: column `span.start` of the tile's first weight
    /// row, and the distance between its rows. `ahead` is read ahead (prefetched) the way `w`
    /// is read: the weights a later tile will want.
    ///
    /// # Safety
    /// AVX-512F; `M` rows of `x` and the `N` rows of `w` over `span` readable.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in crate::kernels) unsafe fn span_avx512<
        const M: usize,
        const N: usize,
        W: WeightElement,
    >(
        x: *const f32,
        k: usize,
        (w, stride): (*const W, usize),
        span: std::ops::Range<usize>,
        ahead: *const W,
        acc: &mut [[__m512; N]; M],
    ) {
        let whole = k / 16 * 16;
        let end = span.end.min(whole);
        let mut kk = span.start;
        // SAFETY (all loads): rows are `k` long and `kk + 16 <= k`, or masked to `k - kk`.
        unsafe {
            while kk < end {
                let mut wv = [_mm512_setzero_ps(); N];
                let at = kk - span.start;
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = W::load16(w.add(j * stride + at));
                    // The hardware prefetcher alone leaves the loop waiting on memory once it
                    // has work to do per byte (several rows of x). Never faults, even past
                    // the end.
                    _mm_prefetch::<_MM_HINT_T0>(ahead.wrapping_add(j * stride + at).cast());
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = _mm512_loadu_ps(x.add(i * k + kk));
                    for (a, &b) in row.iter_mut().zip(&wv) {
                        *a = _mm512_fmadd_ps(xv, b, *a);
                    }
                }
                kk += 16;
            }
            if span.end == k && kk < k {
                let mask: __mmask16 = (1u16 << (k - kk)) - 1;
                let mut wv = [_mm512_setzero_ps(); N];
                for (j, v) in wv.iter_mut().enumerate() {
                    let row = w.add(j * stride + kk - span.start);
                    *v = W::load16(tail::<16, W>(row, k - kk).as_ptr());
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = _mm512_maskz_loadu_ps(mask, x.add(i * k + kk));
                    for (a, &b) in row.iter_mut().zip(&wv) {
                        *a = _mm512_fmadd_ps(xv, b, *a);
                    }
                }
            }
        }
    }

    /// The lane sums of a tile's accumulators into `out[i][j]`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(in crate::kernels) fn finish_avx512<const M: usize, const N: usize>(
        acc: &[[__m512; N]; M],
        out: &mut [[f32; NR]; MR],
    ) {
        // Through memory once: the reduction's narrower instructions can only name the first 16
        // vector registers, and the register allocator would otherwise confine the
        // accumulators to those 16 for the whole loop and spill the rest of an 8 x 3 tile
        // (half its multiply-adds then load and store their accumulator).
        let acc = std::hint::black_box(acc);
        // The accumulators in row-major `[MR][NR]` order, reduced sixteen at a time.
        let mut all = [_mm512_setzero_ps(); MR * NR];
        for (i, row) in acc.iter().enumerate() {
            for (j, a) in row.iter().enumerate() {
                all[i * NR + j] = *a;
            }
        }
        let used = (M * NR).div_ceil(16);
        let mut sums = [0f32; MR * NR];
        for (half, part) in all.chunks_exact(16).enumerate().take(used) {
            let part: &[__m512; 16] = part.try_into().expect("chunks of 16");
            sums[half * 16..half * 16 + 16].copy_from_slice(&reduce16(part));
        }
        for (i, row) in out.iter_mut().enumerate().take(M) {
            for (j, o) in row.iter_mut().enumerate().take(N) {
                *o = sums[i * NR + j];
            }
        }
    }

    /// The lane sums of 16 vectors at once: `out[v] = sum of the lanes of a[v]`, added in the
    /// halving order (lane i + lane i+8, then i + i+4, i + i+2, i + i+1), the order a single
    /// `_mm512_reduce_add_ps` uses, in 45 instructions instead of 16 separate reductions (which
    /// cost as much as a third of a 4x4 tile's multiply-adds at K = 512). Each sum still
    /// involves only its own vector, so results do not depend on what shares the call.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(super) fn reduce16(a: &[__m512; 16]) -> [f32; 16] {
        // 1. Pairs of vectors: [a.q0 + a.q2, a.q1 + a.q3, b.q0 + b.q2, b.q1 + b.q3].
        let w: [__m512; 8] = std::array::from_fn(|k| {
            let (x, y) = (a[2 * k], a[2 * k + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0b01_00_01_00>(x, y),
                _mm512_shuffle_f32x4::<0b11_10_11_10>(x, y),
            )
        });
        // 2. Each 128-bit quarter: one vector's four partial sums (i + i+4).
        let z: [__m512; 4] = std::array::from_fn(|m| {
            let (x, y) = (w[2 * m], w[2 * m + 1]);
            _mm512_add_ps(
                _mm512_shuffle_f32x4::<0b10_00_10_00>(x, y),
                _mm512_shuffle_f32x4::<0b11_01_11_01>(x, y),
            )
        });
        // 3. i + i+2 within each quarter, two vectors' pairs per quarter.
        let u: [__m512; 2] = std::array::from_fn(|p| {
            let (x, y) = (z[2 * p], z[2 * p + 1]);
            _mm512_add_ps(
                _mm512_shuffle_ps::<0b01_00_01_00>(x, y),
                _mm512_shuffle_ps::<0b11_10_11_10>(x, y),
            )
        });
        // 4. i + i+1: lane 4k + m holds the sum of vector 4m + k.
        let r = _mm512_add_ps(
            _mm512_shuffle_ps::<0b10_00_10_00>(u[0], u[1]),
            _mm512_shuffle_ps::<0b11_01_11_01>(u[0], u[1]),
        );
        let mut lanes = [0f32; 16];
        // SAFETY: 16 floats into a 16-float array.
        unsafe { _mm512_storeu_ps(lanes.as_mut_ptr(), r) };
        std::array::from_fn(|v| lanes[(v % 4) * 4 + v / 4])
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile_avx2<const M: usize, const N: usize, W: WeightElement>(
        x: *const f32,
        k: usize,
        w: *const W,
        out: &mut [[f32; NR]; MR],
    ) {
        let mut acc = [[_mm256_setzero_ps(); N]; M];
        let whole = k / 8 * 8;
        let mut kk = 0;
        // SAFETY (all loads): rows are `k` long and `kk + 8 <= k`, or masked to `k - kk`.
        unsafe {
            while kk < whole {
                let mut wv = [_mm256_setzero_ps(); N];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = W::load8(w.add(j * k + kk));
                    if kk % 16 == 0 {
                        _mm_prefetch::<_MM_HINT_T0>(w.wrapping_add((j + AHEAD) * k + kk).cast());
                    }
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = _mm256_loadu_ps(x.add(i * k + kk));
                    for (a, &b) in row.iter_mut().zip(&wv) {
                        *a = _mm256_fmadd_ps(xv, b, *a);
                    }
                }
                kk += 8;
            }
            if kk < k {
                let rest = (k - kk) as i32;
                let mask = _mm256_setr_epi32(
                    -((rest > 0) as i32),
                    -((rest > 1) as i32),
                    -((rest > 2) as i32),
                    -((rest > 3) as i32),
                    -((rest > 4) as i32),
                    -((rest > 5) as i32),
                    -((rest > 6) as i32),
                    0,
                );
                let mut wv = [_mm256_setzero_ps(); N];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = W::load8(tail::<8, W>(w.add(j * k + kk), k - kk).as_ptr());
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = _mm256_maskload_ps(x.add(i * k + kk), mask);
                    for (a, &b) in row.iter_mut().zip(&wv) {
                        *a = _mm256_fmadd_ps(xv, b, *a);
                    }
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (j, a) in row.iter().enumerate() {
                out[i][j] = hsum256(*a);
            }
        }
    }

    /// Sum of the 8 lanes in a fixed order: halves, then pairs, then the last two.
    #[target_feature(enable = "avx2")]
    #[inline]
    fn hsum256(v: __m256) -> f32 {
        let lo = _mm256_castps256_ps128(v);
        let hi = _mm256_extractf128_ps::<1>(v);
        let s = _mm_add_ps(lo, hi);
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s));
        _mm_cvtss_f32(s)
    }
}

/// The last `rest < L` elements of a row at `p`, followed by zeros (as a masked load gives
/// them).
///
/// # Safety
/// `rest` elements must be readable at `p`.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
#[inline(always)]
unsafe fn tail<const L: usize, W: Copy>(p: *const W, rest: usize) -> [W; L] {
    // SAFETY: the caller guarantees `rest` readable elements; bit pattern zero is 0.0 in every
    // element type used here.
    unsafe {
        let mut buf: [W; L] = std::mem::zeroed();
        std::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), rest.min(L));
        buf
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    //! The Advanced SIMD tiles: four-lane accumulators, 8 x 3 at most (28 of the 32 vector
    //! registers), each element the same chain of fused multiply-adds whatever the tile.

    use super::{MR, NR, tail};
    use crate::kernels::WeightElement;
    use std::arch::aarch64::*;

    /// Dot products of rows `0..mr` of `x` with rows `0..nr` of `w` into `out[i][j]`.
    ///
    /// # Safety
    /// `mr` rows of `x` and `nr` rows of `w`, each `k` long, must be readable.
    pub(super) unsafe fn dispatch_neon<W: WeightElement>(
        x: &[f32],
        mr: usize,
        k: usize,
        w: &[W],
        nr: usize,
        out: &mut [[f32; NR]; MR],
    ) {
        let (x, w) = (x.as_ptr(), w.as_ptr());
        macro_rules! shapes {
            ($($m:literal => [$($n:literal),*]),* $(,)?) => {
                match (mr, nr) {
                    // SAFETY: the caller guarantees the rows.
                    $($(($m, $n) => unsafe { tile::<$m, $n, W>(x, k, w, out) },)*)*
                    _ => unreachable!("tiles are at most 8 x 3, or 4 x 4"),
                }
            };
        }
        shapes!(
            8 => [3, 2, 1],
            7 => [3, 2, 1],
            6 => [3, 2, 1],
            5 => [3, 2, 1],
            4 => [4, 3, 2, 1],
            3 => [4, 3, 2, 1],
            2 => [4, 3, 2, 1],
            1 => [4, 3, 2, 1],
        )
    }

    #[inline(always)]
    unsafe fn tile<const M: usize, const N: usize, W: WeightElement>(
        x: *const f32,
        k: usize,
        w: *const W,
        out: &mut [[f32; NR]; MR],
    ) {
        // SAFETY (every intrinsic here): Advanced SIMD is part of every AArch64 CPU.
        let mut acc = unsafe { [[vdupq_n_f32(0.0); N]; M] };
        let whole = k / 4 * 4;
        let mut kk = 0;
        // SAFETY (all loads): rows are `k` long and `kk + 4 <= k`, or copied out padded.
        unsafe {
            while kk < whole {
                let mut wv = [vdupq_n_f32(0.0); N];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = W::load4(w.add(j * k + kk));
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = vld1q_f32(x.add(i * k + kk));
                    for (a, &b) in row.iter_mut().zip(&wv) {
                        *a = vfmaq_f32(*a, xv, b);
                    }
                }
                kk += 4;
            }
            if kk < k {
                let mut wv = [vdupq_n_f32(0.0); N];
                for (j, v) in wv.iter_mut().enumerate() {
                    *v = W::load4(tail::<4, W>(w.add(j * k + kk), k - kk).as_ptr());
                }
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = vld1q_f32(tail::<4, f32>(x.add(i * k + kk), k - kk).as_ptr());
                    for (a, &b) in row.iter_mut().zip(&wv) {
                        *a = vfmaq_f32(*a, xv, b);
                    }
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (j, a) in row.iter().enumerate() {
                // The four lanes added pairwise, always the same instruction.
                out[i][j] = unsafe { vaddvq_f32(*a) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_data::uniform as data;

    fn reference(x: &[f32], m: usize, k: usize, w: &[f32], n: usize, b: &[f32]) -> Vec<f64> {
        let mut y = vec![0f64; m * n];
        for i in 0..m {
            for j in 0..n {
                let dot: f64 = (0..k)
                    .map(|kk| x[i * k + kk] as f64 * w[j * k + kk] as f64)
                    .sum();
                y[i * n + j] = dot + b[j] as f64;
            }
        }
        y
    }

    /// Every shape class: tails in k (not a multiple of 16 or 8), n (not a multiple of the
    /// tile), m (remainder rows), and a size that crosses the threading threshold.
    #[test]
    fn matches_f64_reference_and_rows_are_independent() {
        for isa in Isa::available() {
            isa.forced(reference_check);
        }
    }

    fn reference_check() {
        for &(m, k, n) in &[
            (1, 5, 3),
            (3, 37, 9),
            (5, 384, 130),
            (13, 512, 515),
            (16, 200, 1030),
            // Five to eight rows over a long k (the packed weights' spans, tested in
            // packed_weight.rs, against these), with a masked tail and a partial tile.
            (8, 2100, 53),
            (5, 4096, 29),
            (6, 1100, 20),
        ] {
            let x = data(m * k, 1);
            let w = data(n * k, 2);
            let b = data(n, 3);
            let mut y = vec![0f32; m * n];
            matmul_nt(&x, m, k, &w, n, Some(&b), &mut y);
            let want = reference(&x, m, k, &w, n, &b);
            for (got, want) in y.iter().zip(&want) {
                let tol = 1e-5 * (k as f64).sqrt() * 4.0;
                assert!(
                    (*got as f64 - want).abs() <= tol,
                    "{m}x{k}x{n}: {got} vs {want}"
                );
            }
            // Each row alone gives the same bits as inside the block.
            for i in 0..m {
                let mut row = vec![0f32; n];
                matmul_nt(&x[i * k..(i + 1) * k], 1, k, &w, n, Some(&b), &mut row);
                assert_eq!(row, y[i * n..(i + 1) * n], "{m}x{k}x{n} row {i}");
            }
        }
    }

    /// Half-precision weights give the bits of their f32 copy for every shape class (one row,
    /// several row blocks, tails in k and n) with every kernel body this CPU runs, and a row
    /// alone gives the bits it gets inside a block.
    #[test]
    fn half_precision_weights_give_the_bits_of_their_f32_copy() {
        for isa in Isa::available() {
            isa.forced(half_precision_check);
        }
    }

    fn half_precision_check() {
        for &(m, k, n) in &[
            (1, 5, 3),
            (1, 512, 515),
            (3, 37, 9),
            (8, 384, 130),
            (13, 100, 31),
            (40, 200, 67),
            (7, 2085, 40),
        ] {
            let x = data(m * k, 1);
            let w32 = data(n * k, 2);
            let b = data(n, 3);
            let w16: Vec<half::f16> = w32.iter().map(|&v| half::f16::from_f32(v)).collect();
            let wb16: Vec<half::bf16> = w32.iter().map(|&v| half::bf16::from_f32(v)).collect();
            let wide16: Vec<f32> = w16.iter().map(|v| v.to_f32()).collect();
            let wideb16: Vec<f32> = wb16.iter().map(|v| v.to_f32()).collect();
            let run = |w: &dyn Fn(&mut [f32])| {
                let mut y = vec![0f32; m * n];
                w(&mut y);
                y.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            };
            let from_f16 = run(&|y| matmul_nt(&x, m, k, &w16, n, Some(&b), y));
            let from_f32 = run(&|y| matmul_nt(&x, m, k, &wide16, n, Some(&b), y));
            assert_eq!(from_f16, from_f32, "f16 {m}x{k}x{n}");
            let from_bf16 = run(&|y| matmul_nt(&x, m, k, &wb16, n, None, y));
            let from_f32 = run(&|y| matmul_nt(&x, m, k, &wideb16, n, None, y));
            assert_eq!(from_bf16, from_f32, "bf16 {m}x{k}x{n}");
            let last = run(&|y| matmul_nt(&x[(m - 1) * k..], 1, k, &w16, n, Some(&b), y));
            assert_eq!(
                last[..n],
                from_f16[(m - 1) * n..],
                "last row alone {m}x{k}x{n}"
            );
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sixteen_reductions_at_once_add_in_the_single_reduction_order() {
        use std::arch::x86_64::*;
        if Isa::detect() != Isa::Avx512 {
            return;
        }
        // Values of very different magnitudes, so any other order of the additions would
        // round differently somewhere.
        let d: Vec<f32> = data(16 * 16 * 50, 9)
            .iter()
            .enumerate()
            .map(|(i, x)| x * 10f32.powi((i % 7) as i32 - 3))
            .collect();
        for chunk in d.chunks_exact(256) {
            // SAFETY: AVX-512F checked above; loads of 16 floats from 256.
            let (a, want) = unsafe {
                let a: [__m512; 16] =
                    std::array::from_fn(|v| _mm512_loadu_ps(chunk[16 * v..].as_ptr()));
                let want: [f32; 16] = std::array::from_fn(|v| _mm512_reduce_add_ps(a[v]));
                (a, want)
            };
            // SAFETY: as above.
            let got = unsafe { x86::reduce16(&a) };
            assert_eq!(got.map(f32::to_bits), want.map(f32::to_bits));
        }
    }

    #[test]
    fn tensor_entry_point_keeps_shape_and_declines_other_dtypes() {
        let w = Tensor::from_vec(data(6 * 8, 4), (6, 8), &Device::Cpu).unwrap();
        let b = Tensor::from_vec(data(6, 5), 6, &Device::Cpu).unwrap();
        let x = Tensor::from_vec(data(3 * 8, 6), (1, 3, 8), &Device::Cpu).unwrap();
        let y = try_forward(&x, &w, Some(&b)).unwrap().unwrap();
        assert_eq!(y.dims(), &[1, 3, 6]);
        let want = x
            .broadcast_matmul(&w.t().unwrap())
            .unwrap()
            .broadcast_add(&b)
            .unwrap();
        let diff = (y - want).unwrap().abs().unwrap().max_all().unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-5);
        let f64_input = x.to_dtype(candle_core::DType::F64).unwrap();
        assert!(try_forward(&f64_input, &w, None).unwrap().is_none());
    }
}
