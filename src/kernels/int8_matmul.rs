//! `y = x W^T + b` with 8-bit weights *and* 8-bit activations: the arithmetic of the fused
//! speculative draft ([`FusedDraft`](super::fused_draft::FusedDraft)).
//!
//! A draft step is a pass over every weight of the decoder for one token, so its cost is the
//! bytes it reads. Here each weight is one byte with one f32 scale per output row (as
//! CTranslate2's int8), and each input row is rounded to 8 bits with its own scale just before
//! the product, so the inner loop is pure integer arithmetic: on CPUs with AVX-512 VNNI one
//! `vpdpbusd` multiplies and sums 64 byte pairs. That instruction takes one unsigned operand,
//! so inputs are stored offset by 128 (`u = x_q + 128`) and the offset's contribution,
//! `128 * sum(w_row)`, is taken back out with a per-row sum computed once.
//!
//! Rows are padded to whole groups of 4 inputs and the row count to whole tiles of 64 (zeros),
//! so the kernel never needs a remainder path. Without VNNI a portable
//! integer loop computes the same numbers (slowly); the draft that uses this is only chosen
//! automatically where VNNI exists.

use crate::kernels::SendPtr;
use crate::kernels::WeightElement;

/// Output rows per tile: four registers of 16 lanes.
const TILE: usize = 64;
/// Input rows computed together (their products share each loaded weight block).
const MR: usize = 4;
/// Inner dimension is taken 4 bytes at a time (one 32-bit lane of `vpdpbusd`).
const GROUP: usize = 4;

/// Which 8-bit kernels this CPU runs. Every kind gives the same integers, so the choice
/// changes speed only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntKernels {
    /// AVX-512 VNNI: `vpdpbusd` takes the unsigned inputs and signed weights as stored.
    Vnni,
    /// AVX2: `vpmaddubsw` on the inputs' magnitudes and the weights signed like the inputs
    /// (every pair sum then fits 16 bits), widened by `vpmaddwd`.
    Avx2,
    /// Plain loops.
    Portable,
}

impl IntKernels {
    /// The widest kind this CPU (or `WHISPER_SPEC_ISA`) allows.
    pub fn detect() -> Self {
        let cpu = super::CpuFeatures::get();
        if cpu.vnni {
            IntKernels::Vnni
        } else if cpu.avx2 {
            IntKernels::Avx2
        } else {
            IntKernels::Portable
        }
    }

    /// Whether the kernels run with SIMD (the fused 8-bit draft is worth it only then).
    pub fn is_simd(self) -> bool {
        self != IntKernels::Portable
    }
}

/// Rounds `x` symmetrically to 8 bits: returns `scale` with `x ~ scale * q`, `|q| <= 127`
/// (halves away from zero). An all-zero row gets scale 0 (and zeros).
pub(super) fn quantize_row(x: &[f32], out: &mut [i8]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if crate::kernels::Isa::detect() == crate::kernels::Isa::Avx512 {
        // SAFETY: detect() saw AVX-512F; the body is safe Rust.
        return unsafe { quantize_row_avx512(x, out) };
    }
    quantize_row_body(x, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn quantize_row_avx512(x: &[f32], out: &mut [i8]) -> f32 {
    quantize_row_body(x, out)
}

#[inline(always)]
fn quantize_row_body(x: &[f32], out: &mut [i8]) -> f32 {
    let max = abs_max(x);
    if max == 0.0 || !max.is_finite() {
        out.iter_mut().for_each(|q| *q = 0);
        return 0.0;
    }
    let inv = 127.0 / max;
    for (q, &v) in out.iter_mut().zip(x) {
        *q = round_scaled(v, inv);
    }
    max / 127.0
}

/// The largest `|v|` of `x` (NaN-blind, like `f32::max`). Sixteen running maxima instead of one,
/// so the loop vectorises: one chain would serialise on each `max`.
#[inline(always)]
fn abs_max(x: &[f32]) -> f32 {
    let mut lanes = [0f32; 16];
    let chunks = x.chunks_exact(16);
    let tail = chunks.remainder();
    for c in chunks {
        for (m, &v) in lanes.iter_mut().zip(c) {
            *m = m.max(v.abs());
        }
    }
    let m = lanes.iter().fold(0f32, |m, &v| m.max(v));
    tail.iter().fold(m, |m, v| m.max(v.abs()))
}

/// `round(v * inv)` to 8 bits, clamped to `-127..=127`, halves away from zero: `as` truncates
/// toward zero after the half is added, a rounding without libm's `roundf` call (no SSE4.1 in
/// the baseline target).
#[inline(always)]
pub(super) fn round_scaled(v: f32, inv: f32) -> i8 {
    let t = (v * inv).clamp(-127.0, 127.0);
    (t + 0.5f32.copysign(t)) as i8
}

/// `out[j] = sx * scale[j] * (acc[j] - 128 * sum[j]) + bias[j]`: integer sums back to f32.
#[inline(always)]
fn epilogue_body(acc: &[i32], sum: &[i32], scale: &[f32], bias: &[f32], sx: f32, out: &mut [f32]) {
    for ((((o, &a), &s), &c), &b) in out.iter_mut().zip(acc).zip(sum).zip(scale).zip(bias) {
        *o = sx * c * (a - 128 * s) as f32 + b;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn epilogue_avx512(
    acc: &[i32],
    sum: &[i32],
    scale: &[f32],
    bias: &[f32],
    sx: f32,
    out: &mut [f32],
) {
    epilogue_body(acc, sum, scale, bias, sx, out)
}

fn epilogue(
    wide: bool,
    acc: &[i32],
    sum: &[i32],
    scale: &[f32],
    bias: &[f32],
    sx: f32,
    out: &mut [f32],
) {
    #[cfg(target_arch = "x86_64")]
    if wide {
        // SAFETY: the caller saw AVX-512F (part of the VNNI features).
        unsafe { epilogue_avx512(acc, sum, scale, bias, sx, out) };
        return;
    }
    let _ = wide;
    epilogue_body(acc, sum, scale, bias, sx, out)
}

/// `bias` (`rows` long, or none: zeros) followed by zeros up to `len`, for kernels that compute
/// whole tiles of rows.
pub(super) fn padded_bias(bias: Option<&[f32]>, rows: usize, len: usize) -> Vec<f32> {
    let mut padded = vec![0f32; len];
    if let Some(bias) = bias {
        assert_eq!(bias.len(), rows, "bias is not {rows} long");
        padded[..rows].copy_from_slice(bias);
    }
    padded
}

/// A weight matrix `[rows, cols]` in 8 bits, one scale per row, and an optional f32 bias.
///
/// Stored packed for the kernel: tiles of 64 rows; inside a tile, for each group of 4 inputs,
/// the 4 bytes of each of the 64 rows in turn. So one 64-byte load holds 16 rows x 4 inputs,
/// exactly the operand of one `vpdpbusd` whose 16 lanes are 16 rows' partial sums, and a tile
/// is one contiguous stream of bytes.
#[derive(Debug, Clone)]
pub struct Int8Matrix {
    rows: usize,
    cols: usize,
    /// `cols` rounded up to whole groups.
    stride: usize,
    /// `rows` rounded up to whole tiles (zero rows beyond `rows`), packed as above.
    data: Vec<i8>,
    scale: Vec<f32>,
    /// `sum(row)`, to undo the +128 offset of the inputs.
    sum: Vec<i32>,
    /// Zero where the matrix has none.
    bias: Vec<f32>,
}

impl Int8Matrix {
    /// Quantizes the row-major `w` (`[rows, cols]`, f32 or half precision, widened a row at a
    /// time), keeping `bias` (`rows` long) in f32.
    pub fn quantize<W: WeightElement>(
        w: &[W],
        rows: usize,
        cols: usize,
        bias: Option<&[f32]>,
    ) -> Self {
        assert_eq!(w.len(), rows * cols, "weight is not [{rows}, {cols}]");
        let stride = cols.div_ceil(GROUP) * GROUP;
        let padded_rows = rows.div_ceil(TILE) * TILE;
        let mut data = vec![0i8; padded_rows * stride];
        let mut scale = vec![0f32; padded_rows];
        let mut sum = vec![0i32; padded_rows];
        let mut q = vec![0i8; cols];
        let mut wide = vec![0f32; cols];
        for r in 0..rows {
            for (d, s) in wide.iter_mut().zip(&w[r * cols..(r + 1) * cols]) {
                *d = s.to_f32();
            }
            scale[r] = quantize_row(&wide, &mut q);
            sum[r] = q.iter().map(|&v| i32::from(v)).sum();
            let (tile, lane) = (r / TILE, r % TILE);
            for (c, &v) in q.iter().enumerate() {
                data[tile * TILE * stride + (c / GROUP * TILE + lane) * GROUP + c % GROUP] = v;
            }
        }
        Int8Matrix {
            rows,
            cols,
            stride,
            data,
            scale,
            sum,
            bias: padded_bias(bias, rows, padded_rows),
        }
    }

    /// Output width.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input width.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Output `j` for input row `i` alone: the same value [`forward`](Self::forward) writes
    /// at `[i, j]`, for rescoring a few candidates.
    pub fn output(&self, x: &Int8Rows, i: usize, j: usize) -> f32 {
        assert!(j < self.rows, "output {j} of {}", self.rows);
        let (u, sx) = x.row(i);
        assert_eq!(u.len(), self.stride, "input quantized for another width");
        let (tile, lane) = (j / TILE, j % TILE);
        let base = tile * TILE * self.stride + lane * GROUP;
        let dot: i32 = u
            .chunks_exact(GROUP)
            .enumerate()
            .map(|(g, xs)| {
                let w = &self.data[base + g * TILE * GROUP..][..GROUP];
                xs.iter()
                    .zip(w)
                    .map(|(&a, &b)| i32::from(a) * i32::from(b))
                    .sum::<i32>()
            })
            .sum();
        sx * self.scale[j] * (dot - 128 * self.sum[j]) as f32 + self.bias[j]
    }

    /// `y[i, j] = x[i] . w[j] + b[j]` for every row `i` of `x` and every output `j`; `y` is
    /// `[x.rows(), self.rows()]` row-major.
    pub fn forward(&self, x: &Int8Rows, y: &mut [f32]) {
        assert_eq!(x.stride, self.stride, "input quantized for another width");
        assert_eq!(x.cols, self.cols, "input width differs from the weight's");
        let m = x.rows;
        assert!(y.len() >= m * self.rows, "output too small");
        let tiles = self.rows.div_ceil(TILE);
        let y_ptr = SendPtr(y.as_mut_ptr());
        let kernels = IntKernels::detect();
        let run = |range: std::ops::Range<usize>| {
            let y_ptr = &y_ptr;
            let mut acc = [[0i32; TILE]; MR];
            for tile in range {
                let j0 = tile * TILE;
                let nr = TILE.min(self.rows - j0);
                let w = &self.data[j0 * self.stride..(j0 + TILE) * self.stride];
                let mut i0 = 0;
                while i0 < m {
                    let mr = MR.min(m - i0);
                    let xs = &x.data[i0 * self.stride..(i0 + mr) * self.stride];
                    let sum = &self.sum[j0..j0 + TILE];
                    tile_dots(kernels, xs, mr, w, sum, self.stride, &mut acc);
                    for (i, row) in acc.iter().enumerate().take(mr) {
                        let sx = x.scale[i0 + i];
                        // SAFETY: tiles cover disjoint columns, so no two threads write the
                        // same elements; `(i0 + i) * rows + j0 + nr <= m * rows <= y.len()`.
                        let out = unsafe {
                            std::slice::from_raw_parts_mut(
                                y_ptr.0.add((i0 + i) * self.rows + j0),
                                nr,
                            )
                        };
                        let cols = j0..j0 + nr;
                        epilogue(
                            kernels == IntKernels::Vnni,
                            &row[..nr],
                            &self.sum[cols.clone()],
                            &self.scale[cols.clone()],
                            &self.bias[cols],
                            sx,
                            out,
                        );
                    }
                    i0 += mr;
                }
            }
        };
        if tiles == 1 || self.rows * self.stride * m < 256 * 1024 {
            run(0..tiles);
        } else {
            candle_core::utils::barrier_pool().execute_chunked(tiles, run);
        }
    }
}

/// Elements from which [`Int8Rows::set`] rounds rows on the pool's threads.
const PARALLEL_ROUNDING: usize = 64 * 1024;

/// Input rows rounded to 8 bits for [`Int8Matrix::forward`]: one scale per row, values stored
/// offset by 128 (see the module notes), rows padded with the offset (zero) to whole groups.
/// A buffer meant to be reused step after step.
#[derive(Debug, Clone, Default)]
pub struct Int8Rows {
    rows: usize,
    cols: usize,
    stride: usize,
    data: Vec<u8>,
    scale: Vec<f32>,
    scratch: Vec<i8>,
}

impl Int8Rows {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rounds the `rows` rows of `x` (`[rows, cols]` row-major) to 8 bits.
    pub fn set(&mut self, x: &[f32], rows: usize, cols: usize) {
        assert!(x.len() >= rows * cols, "input is not [{rows}, {cols}]");
        let stride = cols.div_ceil(GROUP) * GROUP;
        self.rows = rows;
        self.cols = cols;
        self.stride = stride;
        self.data.clear();
        self.data.resize(rows * stride, 128);
        self.scale.resize(rows, 0.0);
        let one_row = |r: usize, data: &mut [u8], scratch: &mut [i8]| -> f32 {
            let scale = quantize_row(&x[r * cols..(r + 1) * cols], scratch);
            for (u, &q) in data.iter_mut().zip(scratch.iter()) {
                *u = (q as u8) ^ 0x80;
            }
            scale
        };
        if rows * cols < PARALLEL_ROUNDING {
            self.scratch.resize(cols, 0);
            for r in 0..rows {
                let data = &mut self.data[r * stride..(r + 1) * stride];
                self.scale[r] = one_row(r, data, &mut self.scratch);
            }
            return;
        }
        // A whole encoder window (1500 rows): rounding takes a fifth of the product's time on
        // one thread, so the pool shares it.
        let data = SendPtr(self.data.as_mut_ptr());
        let scales = SendPtr(self.scale.as_mut_ptr());
        candle_core::utils::barrier_pool().execute_chunked(rows, |range| {
            let (data, scales) = (&data, &scales);
            let mut scratch = vec![0i8; cols];
            for r in range {
                // SAFETY: each row index is given to one thread; row `r` owns bytes
                // `r * stride..(r + 1) * stride` of `data` and element `r` of `scale`, both
                // sized for `rows` rows above.
                unsafe {
                    let row = std::slice::from_raw_parts_mut(data.0.add(r * stride), stride);
                    *scales.0.add(r) = one_row(r, row, &mut scratch);
                }
            }
        });
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row `i`: its bytes (offset by 128, padded to whole groups) and its scale.
    pub fn row(&self, i: usize) -> (&[u8], f32) {
        (
            &self.data[i * self.stride..(i + 1) * self.stride],
            self.scale[i],
        )
    }
}

/// `acc[i][r] = sum_k u[i][k] * w[r][k]` for `mr` input rows (`stride` apart) and one packed
/// tile of 64 weight rows, whose sums are `sum`.
fn tile_dots(
    kernels: IntKernels,
    x: &[u8],
    mr: usize,
    w: &[i8],
    sum: &[i32],
    stride: usize,
    acc: &mut [[i32; TILE]; MR],
) {
    debug_assert!(x.len() >= mr * stride && w.len() >= TILE * stride && sum.len() >= TILE);
    #[cfg(target_arch = "x86_64")]
    match kernels {
        IntKernels::Vnni => {
            // SAFETY: `IntKernels::detect` saw the features; the assert above bounds every
            // load.
            unsafe {
                match mr {
                    1 => x86::tile::<1>(x.as_ptr(), w.as_ptr(), stride, acc),
                    2 => x86::tile::<2>(x.as_ptr(), w.as_ptr(), stride, acc),
                    3 => x86::tile::<3>(x.as_ptr(), w.as_ptr(), stride, acc),
                    _ => x86::tile::<4>(x.as_ptr(), w.as_ptr(), stride, acc),
                }
            }
            return;
        }
        IntKernels::Avx2 => {
            let mut i = 0;
            while i < mr {
                let (x, out) = (x[i * stride..].as_ptr(), &mut acc[i..]);
                // SAFETY: AVX2 was detected; rows `i..` of `x` and the tile are in bounds
                // (the assert above).
                unsafe {
                    if mr - i >= 2 {
                        x86::tile_avx2::<2>(x, w.as_ptr(), stride, out);
                    } else {
                        x86::tile_avx2::<1>(x, w.as_ptr(), stride, out);
                    }
                }
                i += 2;
            }
            // The kernel multiplied the inputs less their offset: add it back.
            for row in acc.iter_mut().take(mr) {
                for (a, &s) in row.iter_mut().zip(sum) {
                    *a += 128 * s;
                }
            }
            return;
        }
        IntKernels::Portable => {}
    }
    let _ = (kernels, sum);
    for (i, row) in acc.iter_mut().enumerate().take(mr) {
        let xr = &x[i * stride..(i + 1) * stride];
        row.iter_mut().for_each(|a| *a = 0);
        for (g, xg) in xr.chunks_exact(GROUP).enumerate() {
            let wg = &w[g * TILE * GROUP..(g + 1) * TILE * GROUP];
            for (a, wr) in row.iter_mut().zip(wg.chunks_exact(GROUP)) {
                *a += xg
                    .iter()
                    .zip(wr)
                    .map(|(&u, &v)| i32::from(u) * i32::from(v))
                    .sum::<i32>();
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{GROUP, MR, TILE};
    use std::arch::x86_64::*;

    /// Bytes ahead of the current position to prefetch: the loop is memory-bound and reads
    /// one contiguous stream, 256 bytes per step.
    const AHEAD: usize = 1024;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile<const M: usize>(
        x: *const u8,
        w: *const i8,
        stride: usize,
        out: &mut [[i32; TILE]; MR],
    ) {
        let mut acc = [[_mm512_setzero_si512(); 4]; M];
        // SAFETY: the tile holds `stride / 4` groups of 256 bytes; each row of x `stride`
        // bytes; prefetches never fault.
        unsafe {
            for g in 0..stride / GROUP {
                let wg = w.add(g * TILE * GROUP);
                _mm_prefetch::<_MM_HINT_T0>(wg.wrapping_add(AHEAD).cast());
                _mm_prefetch::<_MM_HINT_T0>(wg.wrapping_add(AHEAD + 64).cast());
                _mm_prefetch::<_MM_HINT_T0>(wg.wrapping_add(AHEAD + 128).cast());
                _mm_prefetch::<_MM_HINT_T0>(wg.wrapping_add(AHEAD + 192).cast());
                let wv = [
                    _mm512_loadu_si512(wg.cast()),
                    _mm512_loadu_si512(wg.add(64).cast()),
                    _mm512_loadu_si512(wg.add(128).cast()),
                    _mm512_loadu_si512(wg.add(192).cast()),
                ];
                for (i, row) in acc.iter_mut().enumerate() {
                    let xv = _mm512_set1_epi32(
                        x.add(i * stride + g * GROUP).cast::<i32>().read_unaligned(),
                    );
                    for (a, &b) in row.iter_mut().zip(&wv) {
                        *a = _mm512_dpbusd_epi32(*a, xv, b);
                    }
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (c, a) in row.iter().enumerate() {
                // SAFETY: 16 lanes into 16 elements of the row.
                unsafe { _mm512_storeu_si512(out[i].as_mut_ptr().add(16 * c).cast(), *a) };
            }
        }
    }

    /// `out[i][r] = sum_k (u[i][k] - 128) * w[r][k]` for `M` (1 or 2) input rows and one
    /// packed tile: each input byte less its offset is a signed value `q` (|q| <= 127, as are
    /// the weights), and `vpmaddubsw(|q|, sign(w, q))` adds two products of at most 127 * 127
    /// in 16 bits without saturating; `vpmaddwd` by ones widens the pairs to the 32-bit sum of
    /// the group's four. A 32-byte load holds 8 rows x 4 inputs, so the tile is eight loads a
    /// group, taken as two halves of four to keep the accumulators in registers.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tile_avx2<const M: usize>(
        x: *const u8,
        w: *const i8,
        stride: usize,
        out: &mut [[i32; TILE]],
    ) {
        let ones = _mm256_set1_epi16(1);
        let offset = _mm256_set1_epi8(-128);
        for half in 0..2 {
            let mut acc = [[_mm256_setzero_si256(); 4]; M];
            // SAFETY: the tile holds `stride / 4` groups of 256 bytes, each row of x `stride`
            // bytes (the caller's bounds).
            unsafe {
                for g in 0..stride / GROUP {
                    let wg = w.add(g * TILE * GROUP + half * 128);
                    let mut q = [_mm256_setzero_si256(); M];
                    let mut magnitude = [_mm256_setzero_si256(); M];
                    for i in 0..M {
                        let u = x.add(i * stride + g * GROUP).cast::<i32>().read_unaligned();
                        q[i] = _mm256_xor_si256(_mm256_set1_epi32(u), offset);
                        magnitude[i] = _mm256_abs_epi8(q[i]);
                    }
                    for c in 0..4 {
                        let wv = _mm256_loadu_si256(wg.add(32 * c).cast());
                        for i in 0..M {
                            let pairs =
                                _mm256_maddubs_epi16(magnitude[i], _mm256_sign_epi8(wv, q[i]));
                            acc[i][c] = _mm256_add_epi32(acc[i][c], _mm256_madd_epi16(pairs, ones));
                        }
                    }
                }
                for (i, row) in acc.iter().enumerate() {
                    for (c, a) in row.iter().enumerate() {
                        let at = out[i].as_mut_ptr().add(half * 32 + 8 * c);
                        _mm256_storeu_si256(at.cast(), *a);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::kernels::test_data::uniform as data;

    #[test]
    fn close_to_the_f32_product_for_every_shape() {
        for &(m, k, n) in &[
            (1, 64, 4),
            (1, 384, 7),
            (3, 100, 9),
            (5, 512, 33),
            (9, 70, 130),
        ] {
            let x = data(m * k, 1 + k as u32);
            let w = data(n * k, 2 + n as u32);
            let b = data(n, 3);
            let q = Int8Matrix::quantize(&w, n, k, Some(&b));
            let mut xr = Int8Rows::new();
            xr.set(&x, m, k);
            let mut y = vec![0f32; m * n];
            q.forward(&xr, &mut y);
            for i in 0..m {
                for j in 0..n {
                    let exact: f32 =
                        (0..k).map(|t| x[i * k + t] * w[j * k + t]).sum::<f32>() + b[j];
                    // Two 8-bit roundings of values in [-1, 1]: error ~ sqrt(k) * 2 / 254.
                    let tol = 0.02 * (k as f32).sqrt();
                    assert!(
                        (y[i * n + j] - exact).abs() < tol,
                        "m{m} k{k} n{n} [{i},{j}]: {} vs {exact}",
                        y[i * n + j]
                    );
                }
            }
            // Single outputs, for rescoring, are the same numbers.
            for i in 0..m {
                for j in 0..n {
                    assert_eq!(
                        q.output(&xr, i, j),
                        y[i * n + j],
                        "m{m} k{k} n{n} [{i},{j}]"
                    );
                }
            }
            // A row's result does not depend on the other rows given with it.
            let mut one = Int8Rows::new();
            let mut y1 = vec![0f32; n];
            one.set(&x[(m - 1) * k..], 1, k);
            q.forward(&one, &mut y1);
            assert_eq!(&y[(m - 1) * n..], &y1[..], "m{m} k{k} n{n}");
        }
    }

    #[test]
    fn every_kernel_kind_gives_the_portable_integers() {
        for (m, k) in [(1, 64), (2, 192), (3, 192), (4, 384), (3, 18)] {
            let x = data(m * k, 7 + k as u32);
            let w = data(TILE * k, 8);
            let q = Int8Matrix::quantize(&w, TILE, k, None);
            let mut xr = Int8Rows::new();
            xr.set(&x, m, k);
            let mut want = [[0; TILE]; MR];
            let d = (&xr.data, &q.data, &q.sum, q.stride);
            tile_dots(IntKernels::Portable, d.0, m, d.1, d.2, d.3, &mut want);
            for kind in available_kinds() {
                let mut got = [[7; TILE]; MR];
                tile_dots(kind, d.0, m, d.1, d.2, d.3, &mut got);
                assert_eq!(got[..m], want[..m], "{kind:?}, {m} rows of {k}");
            }
        }
    }

    /// The kinds this CPU can run.
    pub(crate) fn available_kinds() -> Vec<IntKernels> {
        let cpu = crate::kernels::CpuFeatures::get();
        let mut kinds = vec![IntKernels::Portable];
        if cpu.avx2 {
            kinds.push(IntKernels::Avx2);
        }
        if cpu.vnni {
            kinds.push(IntKernels::Vnni);
        }
        kinds
    }

    #[test]
    fn zero_rows_give_the_bias() {
        let w = data(8 * 64, 5);
        let q = Int8Matrix::quantize(&w, 8, 64, Some(&[1.5; 8]));
        let mut xr = Int8Rows::new();
        xr.set(&[0.0; 64], 1, 64);
        let mut y = vec![0f32; 8];
        q.forward(&xr, &mut y);
        assert_eq!(y, vec![1.5; 8]);
    }
}
