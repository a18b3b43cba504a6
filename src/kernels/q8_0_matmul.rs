//! `y = x W^T + b` with GGML `Q8_0` weights (blocks of 32 bytes, one f16 scale each) and input
//! rows rounded to 8 bits per block of 32: the arithmetic of `--quantize q8_0` and of the
//! `self-q8` draft.
//!
//! Written here rather than left to candle because candle 0.11's fast x86 kernel for `Q8_0`
//! works on a repacked copy of the blocks that it builds beside the blocks themselves (and
//! never frees them), so a `Q8_0` decoder held its weights twice: a gigabyte too many for
//! large-v3. This matrix holds one copy, already in the kernel's layout.
//!
//! The weights are GGML's own blocks (quantized by candle, so the numbers are `Q8_0`'s), stored
//! offset by 128 as unsigned bytes: `vpdpbusd` multiplies unsigned by signed bytes, and the
//! offset's share, `128 * sum(block of x)`, is one integer per input block, computed when the
//! input is rounded. Per block the integer dot product is exact; it is turned into f32 and
//! scaled by the two blocks' scales, and the blocks are summed in order with a multiply and an
//! add (no fused multiply-add), so every kernel kind and every row count gives the same bits:
//! an output row depends on its input row alone.

use half::f16;

use super::SendPtr;
use super::int8_matmul::{IntKernels, padded_bias};

/// Inputs per block (GGML's `QK8_0`).
pub const BLOCK: usize = 32;
/// Output rows per tile: one register of 16 lanes (two of 8 on AVX2).
const TILE: usize = 16;
/// Inner dimension taken 4 bytes at a time (one 32-bit lane of `vpdpbusd`).
const GROUP: usize = 4;
/// Bytes of one tile's block: 8 groups of 16 rows x 4 inputs.
const TILE_BLOCK: usize = TILE * BLOCK;
/// Input rows computed together (their products share each loaded weight block).
const MR: usize = 4;

/// A `[rows, cols]` weight in `Q8_0` blocks with an f32 bias, packed for the kernels.
#[derive(Debug, Clone)]
pub struct Q8Matrix {
    rows: usize,
    cols: usize,
    /// Blocks per row (`cols` rounded up to whole blocks, zeros beyond).
    blocks: usize,
    /// Tiles of 16 rows (zero rows beyond `rows`); inside a tile, block after block, and inside
    /// a block, group after group of the 16 rows' 4 bytes: `w + 128` as unsigned bytes.
    data: Vec<u8>,
    /// The blocks' scales in the same order: per tile, per block, 16 rows.
    scale: Vec<f16>,
    /// Zero where the matrix has none; zero rows beyond `rows`.
    bias: Vec<f32>,
}

impl Q8Matrix {
    /// An empty `[rows, cols]` matrix (all blocks zero) to be filled by [`set_rows`](Self::set_rows).
    pub fn zeros(rows: usize, cols: usize, bias: Option<&[f32]>) -> Self {
        let blocks = cols.div_ceil(BLOCK);
        let tiles = rows.div_ceil(TILE);
        Q8Matrix {
            rows,
            cols,
            blocks,
            data: vec![128; tiles * blocks * TILE_BLOCK],
            scale: vec![f16::ZERO; tiles * blocks * TILE],
            bias: padded_bias(bias, rows, tiles * TILE),
        }
    }

    /// Stores rows `first..` from GGML `Q8_0` bytes: per row, `blocks` blocks of a
    /// little-endian f16 scale and 32 signed bytes (what candle's `QTensor::data` gives).
    pub fn set_rows(&mut self, first: usize, ggml: &[u8]) {
        const BYTES: usize = 2 + BLOCK;
        let row_bytes = self.blocks * BYTES;
        assert_eq!(ggml.len() % row_bytes, 0, "not whole rows of Q8_0 blocks");
        let n = ggml.len() / row_bytes;
        assert!(
            first + n <= self.rows.div_ceil(TILE) * TILE,
            "rows beyond the matrix"
        );
        for (r, row) in (first..first + n).zip(ggml.chunks_exact(row_bytes)) {
            let (tile, lane) = (r / TILE, r % TILE);
            for (b, block) in row.chunks_exact(BYTES).enumerate() {
                let at = tile * self.blocks + b;
                self.scale[at * TILE + lane] = f16::from_le_bytes([block[0], block[1]]);
                let packed = &mut self.data[at * TILE_BLOCK..(at + 1) * TILE_BLOCK];
                for (c, &q) in block[2..].iter().enumerate() {
                    packed[(c / GROUP * TILE + lane) * GROUP + c % GROUP] = q ^ 0x80;
                }
            }
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

    /// The bias (`rows` long; zeros where the matrix has none).
    pub fn bias(&self) -> &[f32] {
        &self.bias[..self.rows]
    }

    /// Row `r` of the weight in f32 (`cols` long): each byte times its block's scale, as GGML
    /// dequantizes (a token lookup through a tied vocabulary projection).
    pub fn row(&self, r: usize) -> Vec<f32> {
        assert!(r < self.rows, "row {r} of {}", self.rows);
        let (tile, lane) = (r / TILE, r % TILE);
        let mut out = Vec::with_capacity(self.blocks * BLOCK);
        for b in 0..self.blocks {
            let at = tile * self.blocks + b;
            let d = self.scale[at * TILE + lane].to_f32();
            let packed = &self.data[at * TILE_BLOCK..(at + 1) * TILE_BLOCK];
            for c in 0..BLOCK {
                let q = (packed[(c / GROUP * TILE + lane) * GROUP + c % GROUP] ^ 0x80) as i8;
                out.push(f32::from(q) * d);
            }
        }
        out.truncate(self.cols);
        out
    }

    /// `y[i, j] = x[i] . w[j] + b[j]` for every row `i` of `x` and every output `j`; `y` is
    /// `[x.rows(), self.rows()]` row-major.
    pub fn forward(&self, x: &Q8Rows, y: &mut [f32]) {
        self.forward_with(IntKernels::detect(), x, y)
    }

    fn forward_with(&self, kernels: IntKernels, x: &Q8Rows, y: &mut [f32]) {
        assert_eq!(x.blocks, self.blocks, "input rounded for another width");
        let m = x.rows;
        assert!(y.len() >= m * self.rows, "output too small");
        let tiles = self.rows.div_ceil(TILE);
        let y_ptr = SendPtr(y.as_mut_ptr());
        let run = |range: std::ops::Range<usize>| {
            let y_ptr = &y_ptr;
            let mut acc = [[0f32; TILE]; MR];
            for tile in range {
                let j0 = tile * TILE;
                let nr = TILE.min(self.rows - j0);
                let blocks = tile * self.blocks..(tile + 1) * self.blocks;
                let w = &self.data[blocks.start * TILE_BLOCK..blocks.end * TILE_BLOCK];
                let scale = &self.scale[blocks.start * TILE..blocks.end * TILE];
                let mut i0 = 0;
                while i0 < m {
                    let mr = MR.min(m - i0);
                    tile_sums(kernels, x, i0, mr, w, scale, &mut acc);
                    for (i, row) in acc.iter().enumerate().take(mr) {
                        // SAFETY: tiles cover disjoint columns, so no two threads write the
                        // same elements; `(i0 + i) * rows + j0 + nr <= m * rows <= y.len()`.
                        let out = unsafe {
                            std::slice::from_raw_parts_mut(
                                y_ptr.0.add((i0 + i) * self.rows + j0),
                                nr,
                            )
                        };
                        for ((o, &a), &b) in out.iter_mut().zip(row).zip(&self.bias[j0..]) {
                            *o = a + b;
                        }
                    }
                    i0 += mr;
                }
            }
        };
        if tiles == 1 || self.data.len() * m < 256 * 1024 {
            run(0..tiles);
        } else {
            candle_core::utils::barrier_pool().execute_chunked(tiles, run);
        }
    }
}

/// Input rows rounded to 8 bits per block of 32 (each block its own f32 scale, its largest
/// magnitude / 127), for [`Q8Matrix::forward`]. A buffer meant to be reused step after step.
#[derive(Debug, Clone, Default)]
pub struct Q8Rows {
    rows: usize,
    blocks: usize,
    /// `[rows, blocks * 32]`, zeros beyond the real width.
    data: Vec<i8>,
    /// `[rows, blocks]`.
    scale: Vec<f32>,
    /// `128 * sum(block)`, `[rows, blocks]`: the share of the weights' +128 offset.
    offset: Vec<i32>,
}

impl Q8Rows {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rounds the `rows` rows of `x` (`[rows, cols]` row-major) to 8 bits. A block whose
    /// largest magnitude is zero or not finite becomes zeros.
    pub fn set(&mut self, x: &[f32], rows: usize, cols: usize) {
        assert!(x.len() >= rows * cols, "input is not [{rows}, {cols}]");
        let blocks = cols.div_ceil(BLOCK);
        let stride = blocks * BLOCK;
        self.rows = rows;
        self.blocks = blocks;
        self.data.clear();
        self.data.resize(rows * stride, 0);
        self.scale.clear();
        self.scale.resize(rows * blocks, 0.0);
        self.offset.clear();
        self.offset.resize(rows * blocks, 0);
        for r in 0..rows {
            let row = &x[r * cols..(r + 1) * cols];
            for (b, values) in row.chunks(BLOCK).enumerate() {
                let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
                if max == 0.0 || !max.is_finite() {
                    continue;
                }
                let inv = 127.0 / max;
                let out = &mut self.data[r * stride + b * BLOCK..][..values.len()];
                let mut sum = 0i32;
                for (q, &v) in out.iter_mut().zip(values) {
                    *q = super::int8_matmul::round_scaled(v, inv);
                    sum += i32::from(*q);
                }
                self.scale[r * blocks + b] = max / 127.0;
                self.offset[r * blocks + b] = 128 * sum;
            }
        }
    }

    /// Rows held.
    pub fn rows(&self) -> usize {
        self.rows
    }
}

/// `acc[i][r] = sum over blocks of (x[i0 + i] . w[r] in integers) * scale_w * scale_x`, the
/// blocks added in order, for `mr` input rows and one tile of 16 weight rows.
fn tile_sums(
    kernels: IntKernels,
    x: &Q8Rows,
    i0: usize,
    mr: usize,
    w: &[u8],
    scale: &[f16],
    acc: &mut [[f32; TILE]; MR],
) {
    let blocks = x.blocks;
    assert!(i0 + mr <= x.rows && mr <= MR);
    assert!(w.len() >= blocks * TILE_BLOCK && scale.len() >= blocks * TILE);
    let stride = blocks * BLOCK;
    let xs = &x.data[i0 * stride..(i0 + mr) * stride];
    let sx = &x.scale[i0 * blocks..(i0 + mr) * blocks];
    let off = &x.offset[i0 * blocks..(i0 + mr) * blocks];
    #[cfg(target_arch = "x86_64")]
    {
        let (xp, wp, sp) = (xs.as_ptr(), w.as_ptr(), scale.as_ptr());
        let (sxp, offp) = (sx.as_ptr(), off.as_ptr());
        match kernels {
            IntKernels::Vnni => {
                // SAFETY: `IntKernels` saw AVX-512 VNNI; the asserts above bound every read
                // (`mr` rows of `blocks` blocks of x, `blocks` blocks of the tile).
                unsafe {
                    match mr {
                        1 => x86::tile_vnni::<1>(xp, sxp, offp, wp, sp, blocks, acc),
                        2 => x86::tile_vnni::<2>(xp, sxp, offp, wp, sp, blocks, acc),
                        3 => x86::tile_vnni::<3>(xp, sxp, offp, wp, sp, blocks, acc),
                        _ => x86::tile_vnni::<4>(xp, sxp, offp, wp, sp, blocks, acc),
                    }
                }
                return;
            }
            IntKernels::Avx2 => {
                for (i, row) in acc.iter_mut().enumerate().take(mr) {
                    // SAFETY: AVX2, FMA and F16C were detected; row `i` is in bounds.
                    unsafe {
                        x86::tile_avx2(xp.add(i * stride), sxp.add(i * blocks), wp, sp, blocks, row)
                    };
                }
                return;
            }
            IntKernels::Portable => {}
        }
    }
    let _ = (kernels, off);
    for (i, row) in acc.iter_mut().enumerate().take(mr) {
        row.iter_mut().for_each(|a| *a = 0.0);
        for b in 0..blocks {
            let xb = &xs[i * stride + b * BLOCK..][..BLOCK];
            let wb = &w[b * TILE_BLOCK..(b + 1) * TILE_BLOCK];
            let dx = sx[i * blocks + b];
            for (r, a) in row.iter_mut().enumerate() {
                let mut dot = 0i32;
                for (c, &xv) in xb.iter().enumerate() {
                    let wv = (wb[(c / GROUP * TILE + r) * GROUP + c % GROUP] ^ 0x80) as i8;
                    dot += i32::from(xv) * i32::from(wv);
                }
                let s = scale[b * TILE + r].to_f32() * dx;
                *a += dot as f32 * s;
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{BLOCK, GROUP, MR, TILE, TILE_BLOCK};
    use half::f16;
    use std::arch::x86_64::*;

    /// Bytes ahead of the current block to prefetch: the loop reads one contiguous stream.
    const AHEAD: usize = 1024;

    /// `M` input rows against one tile: per block, eight `vpdpbusd` (unsigned weights, each
    /// row's 4 signed inputs broadcast) into two alternating accumulators, less the offset's
    /// share, to f32, times both scales, added to the row's sum.
    #[allow(clippy::too_many_arguments, clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni,f16c")]
    pub(super) unsafe fn tile_vnni<const M: usize>(
        x: *const i8,
        sx: *const f32,
        offset: *const i32,
        w: *const u8,
        scale: *const f16,
        blocks: usize,
        out: &mut [[f32; TILE]; MR],
    ) {
        let stride = blocks * BLOCK;
        let mut sum = [_mm512_setzero_ps(); M];
        // SAFETY: the caller bounds `blocks` blocks of the tile and of `M` rows of x.
        unsafe {
            for b in 0..blocks {
                let wb = w.add(b * TILE_BLOCK);
                for p in 0..TILE_BLOCK / 64 {
                    _mm_prefetch::<_MM_HINT_T0>(wb.wrapping_add(AHEAD + 64 * p).cast());
                }
                let mut even = [_mm512_setzero_si512(); M];
                let mut odd = [_mm512_setzero_si512(); M];
                for g in (0..BLOCK / GROUP).step_by(2) {
                    let w0 = _mm512_loadu_si512(wb.add(g * TILE * GROUP).cast());
                    let w1 = _mm512_loadu_si512(wb.add((g + 1) * TILE * GROUP).cast());
                    for i in 0..M {
                        let xb = x.add(i * stride + b * BLOCK + g * GROUP).cast::<i32>();
                        let x0 = _mm512_set1_epi32(xb.read_unaligned());
                        let x1 = _mm512_set1_epi32(xb.add(1).read_unaligned());
                        even[i] = _mm512_dpbusd_epi32(even[i], w0, x0);
                        odd[i] = _mm512_dpbusd_epi32(odd[i], w1, x1);
                    }
                }
                let dw = _mm512_cvtph_ps(_mm256_loadu_si256(scale.add(b * TILE).cast()));
                for i in 0..M {
                    let dot = _mm512_sub_epi32(
                        _mm512_add_epi32(even[i], odd[i]),
                        _mm512_set1_epi32(*offset.add(i * blocks + b)),
                    );
                    let s = _mm512_mul_ps(dw, _mm512_set1_ps(*sx.add(i * blocks + b)));
                    sum[i] = _mm512_add_ps(sum[i], _mm512_mul_ps(_mm512_cvtepi32_ps(dot), s));
                }
            }
            for i in 0..M {
                _mm512_storeu_ps(out[i].as_mut_ptr(), sum[i]);
            }
        }
    }

    /// One input row against one tile: per group, the row's 4 signed inputs broadcast, their
    /// magnitudes times the weights signed like them (`vpmaddubsw`: pairs of at most
    /// 127 * 127, no saturation), widened by `vpmaddwd`; then per block as the VNNI form.
    #[target_feature(enable = "avx2,fma,f16c")]
    pub(super) unsafe fn tile_avx2(
        x: *const i8,
        sx: *const f32,
        w: *const u8,
        scale: *const f16,
        blocks: usize,
        out: &mut [f32; TILE],
    ) {
        let ones = _mm256_set1_epi16(1);
        let offset = _mm256_set1_epi8(-128);
        let mut sum = [_mm256_setzero_ps(); 2];
        // SAFETY: the caller bounds `blocks` blocks of the tile and of the row.
        unsafe {
            for b in 0..blocks {
                let wb = w.add(b * TILE_BLOCK);
                let mut dot = [_mm256_setzero_si256(); 2];
                for g in 0..BLOCK / GROUP {
                    let q = _mm256_set1_epi32(
                        x.add(b * BLOCK + g * GROUP).cast::<i32>().read_unaligned(),
                    );
                    let magnitude = _mm256_abs_epi8(q);
                    for (h, d) in dot.iter_mut().enumerate() {
                        let u = _mm256_loadu_si256(wb.add(g * TILE * GROUP + 32 * h).cast());
                        let signed = _mm256_xor_si256(u, offset);
                        let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(signed, q));
                        *d = _mm256_add_epi32(*d, _mm256_madd_epi16(pairs, ones));
                    }
                }
                let dx = _mm256_set1_ps(*sx.add(b));
                for (h, (s, d)) in sum.iter_mut().zip(dot).enumerate() {
                    let dw = _mm256_cvtph_ps(_mm_loadu_si128(scale.add(b * TILE + 8 * h).cast()));
                    let product = _mm256_mul_ps(_mm256_cvtepi32_ps(d), _mm256_mul_ps(dw, dx));
                    *s = _mm256_add_ps(*s, product);
                }
            }
            _mm256_storeu_ps(out.as_mut_ptr(), sum[0]);
            _mm256_storeu_ps(out.as_mut_ptr().add(8), sum[1]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::int8_matmul::tests::available_kinds;
    use crate::kernels::test_data::uniform as data;
    use candle_core::quantized::{GgmlDType, QTensor};
    use candle_core::{Device, Tensor};

    /// `w` (`[n, k]`, `k` whole blocks) quantized by candle and packed.
    fn packed(w: &[f32], n: usize, k: usize, bias: Option<&[f32]>) -> Q8Matrix {
        let t = Tensor::from_vec(w.to_vec(), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::Q8_0).unwrap();
        let mut m = Q8Matrix::zeros(n, k, bias);
        m.set_rows(0, &q.data().unwrap());
        m
    }

    #[test]
    fn rows_are_ggml_dequantized_rows() {
        let (n, k) = (37, 96);
        let w = data(n * k, 3);
        let t = Tensor::from_vec(w.clone(), (n, k), &Device::Cpu).unwrap();
        let q = QTensor::quantize(&t, GgmlDType::Q8_0).unwrap();
        let dense = q
            .dequantize(&Device::Cpu)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap();
        let m = packed(&w, n, k, None);
        for (r, want) in dense.iter().enumerate() {
            assert_eq!(&m.row(r), want, "row {r}");
        }
    }

    #[test]
    fn close_to_the_dequantized_product_and_row_independent() {
        for &(m, k, n) in &[(1, 64, 4), (3, 96, 17), (5, 512, 33), (9, 160, 130)] {
            let x = data(m * k, 1 + k as u32);
            let w = data(n * k, 2 + n as u32);
            let b = data(n, 3);
            let q = packed(&w, n, k, Some(&b));
            let mut xr = Q8Rows::new();
            xr.set(&x, m, k);
            let mut y = vec![0f32; m * n];
            q.forward(&xr, &mut y);
            for i in 0..m {
                for j in 0..n {
                    let row = q.row(j);
                    let exact: f32 = (0..k).map(|t| x[i * k + t] * row[t]).sum::<f32>() + b[j];
                    // The inputs' 8-bit rounding: half a step of 1/127 per product.
                    let tol = 0.01 * (k as f32).sqrt();
                    let got = y[i * n + j];
                    assert!(
                        (got - exact).abs() < tol,
                        "m{m} k{k} n{n} [{i},{j}]: {got} vs {exact}"
                    );
                }
            }
            // A row's result does not depend on the other rows given with it.
            for i in 0..m {
                let mut one = Q8Rows::new();
                one.set(&x[i * k..(i + 1) * k], 1, k);
                let mut y1 = vec![0f32; n];
                q.forward(&one, &mut y1);
                assert_eq!(&y[i * n..(i + 1) * n], &y1[..], "m{m} k{k} n{n} row {i}");
            }
        }
    }

    #[test]
    fn every_kernel_kind_gives_the_portable_bits() {
        for (m, k, n) in [
            (1, 32, 16),
            (2, 192, 16),
            (3, 96, 40),
            (4, 384, 16),
            (7, 256, 33),
        ] {
            let x = data(m * k, 7 + k as u32);
            let w = data(n * k, 8);
            let q = packed(&w, n, k, Some(&data(n, 9)));
            let mut xr = Q8Rows::new();
            xr.set(&x, m, k);
            let mut want = vec![0f32; m * n];
            q.forward_with(IntKernels::Portable, &xr, &mut want);
            for kind in available_kinds() {
                let mut got = vec![f32::NAN; m * n];
                q.forward_with(kind, &xr, &mut got);
                let same = got
                    .iter()
                    .zip(&want)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{kind:?}, {m} rows of {k} x {n}");
            }
        }
    }

    #[test]
    fn widths_that_are_not_whole_blocks_are_zero_padded() {
        // 40 inputs: a whole block and 8 of the next, zeros beyond.
        let (n, k) = (5, 40);
        let w = data(n * k, 4);
        let padded: Vec<f32> = w
            .chunks_exact(k)
            .flat_map(|r| r.iter().copied().chain([0.0; 24]))
            .collect();
        let t = Tensor::from_vec(padded, (n, 64), &Device::Cpu).unwrap();
        let bytes = QTensor::quantize(&t, GgmlDType::Q8_0)
            .unwrap()
            .data()
            .unwrap()
            .into_owned();
        let mut q = Q8Matrix::zeros(n, k, None);
        q.set_rows(0, &bytes);
        assert_eq!(q.row(2).len(), k);
        let x = data(2 * k, 6);
        let mut xr = Q8Rows::new();
        xr.set(&x, 2, k);
        let mut y = vec![0f32; 2 * n];
        q.forward(&xr, &mut y);
        let exact: f32 = (0..k).map(|t| x[t] * q.row(0)[t]).sum();
        assert!((y[0] - exact).abs() < 0.1, "{} vs {exact}", y[0]);
        // Zero inputs give the bias (here none), whatever the weights.
        xr.set(&[0.0; 40], 1, k);
        q.forward(&xr, &mut y[..n]);
        assert!(y[..n].iter().all(|&v| v == 0.0));
    }
}
