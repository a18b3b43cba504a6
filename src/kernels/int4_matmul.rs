//! A 4-bit matrix-vector product: the coarse vocabulary projection of the fused draft.
//!
//! The vocabulary projection is the largest single read of a draft step (51865 rows, almost
//! half the step's bytes). The draft only needs to know which few
//! tokens score highest, so [`FusedDraft`](super::fused_draft::FusedDraft) first scores all
//! of them with 4-bit weights (half the bytes) and then recomputes the best candidates with the
//! 8-bit weights. Weights are symmetric 4-bit (`-7..=7`) with one scale per row; the input is
//! the same 8-bit row as for [`Int8Matrix`](super::int8_matmul::Int8Matrix).
//!
//! Layout: tiles of 64 rows as the 8-bit matrix; two consecutive groups of 4 inputs share 256
//! bytes, the first group in the low nibbles and the second in the high ones, each nibble
//! holding `q + 8`. One 64-byte load thus unpacks (mask, shift, subtract 8) into two
//! `vpdpbusd` operands of 16 rows x 4 inputs.

use super::int8_matmul::{Int8Rows, IntKernels};
use crate::kernels::SendPtr;
use crate::kernels::WeightElement;

const TILE: usize = 64;
/// Inputs per pair of groups (one packed 256-byte block per tile).
const PAIR: usize = 8;

/// A `[rows, cols]` matrix in 4 bits, one scale per row, no bias.
#[derive(Debug, Clone)]
pub struct Int4Matrix {
    rows: usize,
    cols: usize,
    data: Vec<u8>,
    scale: Vec<f32>,
    /// `sum(q)` per row, to undo the +128 offset of the inputs.
    sum: Vec<i32>,
}

impl Int4Matrix {
    /// Rows held (output width).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Quantizes the row-major `w` (`[rows, cols]`, f32 or half precision, widened a row at a
    /// time); `cols` must be a multiple of 8.
    pub fn quantize<W: WeightElement>(w: &[W], rows: usize, cols: usize) -> Self {
        assert_eq!(w.len(), rows * cols, "weight is not [{rows}, {cols}]");
        assert!(
            cols.is_multiple_of(PAIR),
            "4-bit rows need a multiple of 8 inputs"
        );
        let padded = rows.div_ceil(TILE) * TILE;
        let mut data = vec![0x88u8; padded * cols / 2];
        let mut scale = vec![0f32; padded];
        let mut sum = vec![0i32; padded];
        let mut wide = vec![0f32; cols];
        for r in 0..rows {
            for (d, s) in wide.iter_mut().zip(&w[r * cols..(r + 1) * cols]) {
                *d = s.to_f32();
            }
            let row = &wide[..];
            let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
            if max == 0.0 || !max.is_finite() {
                continue;
            }
            scale[r] = max / 7.0;
            let inv = 7.0 / max;
            let (tile, lane) = (r / TILE, r % TILE);
            for (c, &v) in row.iter().enumerate() {
                let t = (v * inv).clamp(-7.0, 7.0);
                let q = (t + 0.5f32.copysign(t)) as i32;
                sum[r] += q;
                let (pair, within) = (c / PAIR, c % PAIR);
                let at = tile * TILE * cols / 2 + pair * TILE * 4 + lane * 4 + within % 4;
                let nibble = (q + 8) as u8;
                data[at] = if within < 4 {
                    (data[at] & 0xF0) | nibble
                } else {
                    (data[at] & 0x0F) | (nibble << 4)
                };
            }
        }
        Int4Matrix {
            rows,
            cols,
            data,
            scale,
            sum,
        }
    }

    /// `y[j] = x . w[j]` for the single row of `x` (an [`Int8Rows`] of this width).
    pub fn forward(&self, x: &Int8Rows, y: &mut [f32]) {
        let (data, scale) = x.row(0);
        assert_eq!(x.rows(), 1, "one input row");
        assert_eq!(data.len(), self.cols, "input quantized for another width");
        assert!(y.len() >= self.rows);
        let tiles = self.rows.div_ceil(TILE);
        let y_ptr = SendPtr(y.as_mut_ptr());
        let kernels = IntKernels::detect();
        let run = |range: std::ops::Range<usize>| {
            let y_ptr = &y_ptr;
            let mut acc = [0i32; TILE];
            for tile in range {
                let j0 = tile * TILE;
                let nr = TILE.min(self.rows - j0);
                let w = &self.data[j0 * self.cols / 2..(j0 + TILE) * self.cols / 2];
                tile_dots(kernels, data, w, &mut acc);
                for (jj, &a) in acc.iter().enumerate().take(nr) {
                    let j = j0 + jj;
                    // SAFETY: tiles cover disjoint outputs, each < rows <= y.len().
                    unsafe {
                        *y_ptr.0.add(j) = scale * self.scale[j] * (a - 128 * self.sum[j]) as f32
                    };
                }
            }
        };
        candle_core::utils::barrier_pool().execute_chunked(tiles, run);
    }
}

/// `acc[r] = sum_k u[k] * q[r][k]` for one packed tile.
fn tile_dots(kernels: IntKernels, x: &[u8], w: &[u8], acc: &mut [i32; TILE]) {
    debug_assert!(w.len() >= TILE * x.len() / 2);
    #[cfg(target_arch = "x86_64")]
    match kernels {
        IntKernels::Vnni => {
            // SAFETY: `IntKernels::detect` saw the features; `w` holds the tile, `x` whole
            // pairs.
            unsafe { x86::tile(x, w, acc) };
            return;
        }
        IntKernels::Avx2 => {
            // SAFETY: AVX2 was detected; bounds as above.
            unsafe { x86::tile_avx2(x, w, acc) };
            return;
        }
        IntKernels::Portable => {}
    }
    let _ = kernels;
    acc.iter_mut().for_each(|a| *a = 0);
    for (pair, xs) in x.chunks_exact(PAIR).enumerate() {
        let block = &w[pair * TILE * 4..(pair + 1) * TILE * 4];
        for (lane, a) in acc.iter_mut().enumerate() {
            for t in 0..4 {
                let b = block[lane * 4 + t];
                let lo = i32::from(b & 0x0F) - 8;
                let hi = i32::from(b >> 4) - 8;
                *a += i32::from(xs[t]) * lo + i32::from(xs[4 + t]) * hi;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{PAIR, TILE};
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn tile(x: &[u8], w: &[u8], out: &mut [i32; TILE]) {
        let mut acc = [_mm512_setzero_si512(); 4];
        let (mask, eight) = (_mm512_set1_epi8(0x0F), _mm512_set1_epi8(8));
        // SAFETY: `w` holds `x.len() / 8` blocks of 256 bytes; prefetches never fault.
        unsafe {
            let wp = w.as_ptr();
            for pair in 0..x.len() / PAIR {
                let xa =
                    _mm512_set1_epi32(x.as_ptr().add(pair * PAIR).cast::<i32>().read_unaligned());
                let xb = _mm512_set1_epi32(
                    x.as_ptr()
                        .add(pair * PAIR + 4)
                        .cast::<i32>()
                        .read_unaligned(),
                );
                let block = wp.add(pair * TILE * 4);
                _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(1024).cast());
                _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(1024 + 64).cast());
                _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(1024 + 128).cast());
                _mm_prefetch::<_MM_HINT_T0>(block.wrapping_add(1024 + 192).cast());
                for (c, a) in acc.iter_mut().enumerate() {
                    let v = _mm512_loadu_si512(block.add(64 * c).cast());
                    let lo = _mm512_sub_epi8(_mm512_and_si512(v, mask), eight);
                    let hi =
                        _mm512_sub_epi8(_mm512_and_si512(_mm512_srli_epi16::<4>(v), mask), eight);
                    *a = _mm512_dpbusd_epi32(*a, xa, lo);
                    *a = _mm512_dpbusd_epi32(*a, xb, hi);
                }
            }
            for (c, a) in acc.iter().enumerate() {
                _mm512_storeu_si512(out.as_mut_ptr().add(16 * c).cast(), *a);
            }
        }
    }

    /// The AVX2 tile: 32 bytes hold 8 rows x 4 inputs of both groups of a pair;
    /// `vpmaddubsw` of the unsigned inputs by the signed 4-bit weights adds two products of at
    /// most 255 * 8 in 16 bits, the two groups' pairs add without overflow, and `vpmaddwd` by
    /// ones widens them to the 32-bit sums.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn tile_avx2(x: &[u8], w: &[u8], out: &mut [i32; TILE]) {
        let mut acc = [_mm256_setzero_si256(); 8];
        let (mask, eight, ones) = (
            _mm256_set1_epi8(0x0F),
            _mm256_set1_epi8(8),
            _mm256_set1_epi16(1),
        );
        // SAFETY: `w` holds `x.len() / 8` blocks of 256 bytes.
        unsafe {
            let wp = w.as_ptr();
            for pair in 0..x.len() / PAIR {
                let at = x.as_ptr().add(pair * PAIR);
                let xa = _mm256_set1_epi32(at.cast::<i32>().read_unaligned());
                let xb = _mm256_set1_epi32(at.add(4).cast::<i32>().read_unaligned());
                let block = wp.add(pair * TILE * 4);
                for (c, a) in acc.iter_mut().enumerate() {
                    let v = _mm256_loadu_si256(block.add(32 * c).cast());
                    let lo = _mm256_sub_epi8(_mm256_and_si256(v, mask), eight);
                    let hi =
                        _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16::<4>(v), mask), eight);
                    let pairs = _mm256_add_epi16(
                        _mm256_maddubs_epi16(xa, lo),
                        _mm256_maddubs_epi16(xb, hi),
                    );
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(pairs, ones));
                }
            }
            for (c, a) in acc.iter().enumerate() {
                _mm256_storeu_si256(out.as_mut_ptr().add(8 * c).cast(), *a);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_data::uniform as data;

    #[test]
    fn close_to_f32_and_kernels_agree() {
        let (n, k) = (130, 96);
        let w = data(n * k, 1);
        let x = data(k, 2);
        let m = Int4Matrix::quantize(&w, n, k);
        let mut xr = Int8Rows::new();
        xr.set(&x, 1, k);
        let mut y = vec![0f32; n];
        m.forward(&xr, &mut y);
        for j in 0..n {
            let exact: f32 = (0..k).map(|t| x[t] * w[j * k + t]).sum();
            // 4-bit weights of values in [-1, 1]: step 1/7, error ~ sqrt(k) / 7 / sqrt(12).
            assert!((y[j] - exact).abs() < 0.6, "row {j}: {} vs {exact}", y[j]);
        }
        let mut want = [0i32; TILE];
        let (xd, _) = xr.row(0);
        tile_dots(IntKernels::Portable, xd, &m.data[..TILE * k / 2], &mut want);
        for kind in crate::kernels::int8_matmul::tests::available_kinds() {
            let mut got = [7i32; TILE];
            tile_dots(kind, xd, &m.data[..TILE * k / 2], &mut got);
            assert_eq!(got, want, "{kind:?}");
        }
    }
}
