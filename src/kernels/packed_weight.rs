//! A weight matrix stored in the order the few-row projection kernel reads it, so a decoder
//! pass streams it from memory front to back.
//!
//! Five to eight rows of x over a long `k` do not fit L1 together with the weight lines asked
//! for ahead, so the kernel here takes the weight's tiles in groups, one span of `k` at a time
//! (x's span stays in L1; partial sums wait in memory between spans). Over a row-major
//! `[n, k]` weight that walks memory in short pieces: three rows' worth of one span, then the
//! next tiles' pieces, then back for the next span. Each piece is its own stream to the
//! hardware prefetcher and to the DRAM pages, and at eight rows, where the multiply-adds keep
//! the core busy, the loads wait. Stored as the kernel reads it, the matrix is one run of
//! addresses: group by group (24 rows), span by span, each span's rows side by side.
//!
//! The arithmetic is [`small_matmul`](super::small_matmul)'s (its span kernel runs every
//! tile): every output element is the same chain of multiply-adds over the same lanes in
//! increasing `k`, then the same reduction, whatever the number of rows, so a verify pass still
//! gives bit for bit the rows of one-token steps, and the results are the bits of the
//! row-major kernel on the same weights. Only the order in which the elements sit in memory
//! changes. A matrix whose `k` is one span (at most [`K_SPAN`]) has its rows in row-major order
//! already; only longer ones are worth packing ([`worth_packing`]).

use half::{bf16, f16};

use super::WeightElement;
use super::small_matmul::{self, WIDE_NR};
#[cfg(target_arch = "x86_64")]
use super::{
    Isa, SendPtr,
    small_matmul::{MR, NR, ROW_BLOCK_FLOATS, store_tile},
};

/// Widest `k` a tile of five to eight rows takes in one go on AVX-512. Eight rows of x are
/// 40 KB at Whisper large's k = 1280 and 160 KB at its MLP's k = 5120, against an L1 of 48 KB:
/// x then leaves no room for the weight lines asked for ahead, or does not fit at all, and
/// every tile re-reads it from L2. Over a longer `k` the tiles go in groups of
/// [`SPAN_GROUP`], one span of at most `K_SPAN` columns (8 rows: 32 KB of x) at a time.
const K_SPAN: usize = 1024;

const _: () = assert!(
    K_SPAN.is_multiple_of(16),
    "spans start where a 16-lane step starts"
);

/// Tiles that share each span of x (their partial sums wait in memory between spans).
const SPAN_GROUP: usize = 8;

/// Rows of the weight in one group: the tiles that share each span of `x`.
const GROUP_ROWS: usize = SPAN_GROUP * WIDE_NR;

/// The width of the spans `k` columns are taken in: equal spans of at most [`K_SPAN`], each a
/// whole number of 16-lane steps (one span, possibly wider than `k`, up to `K_SPAN`).
fn span_width(k: usize) -> usize {
    k.div_ceil(k.div_ceil(K_SPAN).max(1)).next_multiple_of(16)
}

/// Whether a `[_, k]` weight is stored differently from row-major once packed: `k` spans more
/// than one span, and the CPU runs the kernel that reads spans (AVX-512).
pub fn worth_packing(k: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    let reads_spans = Isa::detect() == Isa::Avx512;
    #[cfg(not(target_arch = "x86_64"))]
    let reads_spans = false;
    reads_spans && k.div_ceil(span_width(k)) > 1
}

/// An `[n, k]` weight in group-and-span order (see the module documentation).
#[derive(Debug, Clone)]
pub struct PackedWeight<W> {
    data: Vec<W>,
    n: usize,
    k: usize,
}

impl<W: WeightElement> PackedWeight<W> {
    /// Packs the row-major `[n, k]` weight `w`.
    pub fn pack(w: &[W], n: usize, k: usize) -> Self {
        assert_eq!(w.len(), n * k, "a [{n}, {k}] weight");
        let span = span_width(k);
        let mut data = Vec::with_capacity(n * k);
        for r0 in (0..n).step_by(GROUP_ROWS) {
            let rows = GROUP_ROWS.min(n - r0);
            for k0 in (0..k).step_by(span) {
                let k1 = k.min(k0 + span);
                for r in r0..r0 + rows {
                    data.extend_from_slice(&w[r * k + k0..r * k + k1]);
                }
            }
        }
        PackedWeight { data, n, k }
    }

    /// Output rows `n` and inputs `k`.
    pub fn dims(&self) -> (usize, usize) {
        (self.n, self.k)
    }

    /// The width of the spans the weight is stored in ([`span_width`] of its `k`).
    fn span(&self) -> usize {
        span_width(self.k)
    }

    /// Where element `(r, k0)` is, `k0` the start of a span: rows of a span are contiguous
    /// from there, `min(span, k - k0)` apart.
    fn offset(&self, r: usize, k0: usize) -> usize {
        let (g0, rows) = self.group(r / GROUP_ROWS);
        g0 * self.k + rows * k0 + (r - g0) * self.span().min(self.k - k0)
    }

    /// First row and row count of group `g`.
    fn group(&self, g: usize) -> (usize, usize) {
        let r0 = g * GROUP_ROWS;
        (r0, GROUP_ROWS.min(self.n - r0))
    }

    /// Row `r` in row-major order (`k` elements) into `out`.
    pub fn row_into(&self, r: usize, out: &mut [W]) {
        assert!(r < self.n && out.len() == self.k);
        let span = self.span();
        for k0 in (0..self.k).step_by(span) {
            let k1 = self.k.min(k0 + span);
            let at = self.offset(r, k0);
            out[k0..k1].copy_from_slice(&self.data[at..at + k1 - k0]);
        }
    }

    /// The whole weight in row-major order.
    pub fn unpack(&self) -> Vec<W> {
        let mut w = vec![self.data[0]; self.n * self.k];
        for (r, row) in w.chunks_exact_mut(self.k).enumerate() {
            self.row_into(r, row);
        }
        w
    }

    /// `y = x W^T (+ bias)` for `x` `[m, k]`, `y` `[m, n]`: the bits
    /// [`small_matmul::matmul_nt`] gives on the row-major weight.
    pub fn matmul(&self, x: &[f32], m: usize, bias: Option<&[f32]>, y: &mut [f32]) {
        assert!(x.len() >= m * self.k && y.len() >= m * self.n);
        assert!(bias.is_none_or(|b| b.len() >= self.n));
        #[cfg(target_arch = "x86_64")]
        if Isa::detect() == Isa::Avx512 {
            return self.matmul_avx512(x, m, bias, y);
        }
        // Weights are packed only where the AVX-512 kernel runs; another kernel (a test that
        // forces one) gets the weight back in row-major order.
        small_matmul::matmul_nt(x, m, self.k, &self.unpack(), self.n, bias, y);
    }

    /// [`matmul`](Self::matmul) on AVX-512: parallel over groups, rows in blocks of [`MR`].
    #[cfg(target_arch = "x86_64")]
    fn matmul_avx512(&self, x: &[f32], m: usize, bias: Option<&[f32]>, y: &mut [f32]) {
        let (n, k) = (self.n, self.k);
        let groups = n.div_ceil(GROUP_ROWS);
        let y_ptr = SendPtr(y.as_mut_ptr());
        let block_rows = (ROW_BLOCK_FLOATS / k.max(1)).max(MR) / MR * MR;
        let run = |range: std::ops::Range<usize>| {
            let mut outs = [[[0f32; NR]; MR]; SPAN_GROUP];
            for b0 in (0..m).step_by(block_rows) {
                let b1 = m.min(b0 + block_rows);
                for g in range.clone() {
                    for i0 in (b0..b1).step_by(MR) {
                        let rows = (&x[i0 * k..], i0, MR.min(b1 - i0));
                        self.group_rows(rows, g, bias, &y_ptr, &mut outs);
                    }
                }
            }
        };
        if n * k * size_of::<W>() < 256 * 1024 {
            run(0..groups);
        } else {
            candle_core::utils::barrier_pool().execute_chunked(groups, run);
        }
    }

    /// Rows `i0..i0 + mr` of `x` (at most [`MR`]; `x` starts at row `i0`) against group `g`,
    /// into those rows of `y` (row length `n`), through the scratch tiles `outs`.
    #[cfg(target_arch = "x86_64")]
    fn group_rows(
        &self,
        (x, i0, mr): (&[f32], usize, usize),
        g: usize,
        bias: Option<&[f32]>,
        y: &SendPtr<f32>,
        outs: &mut [[[f32; NR]; MR]; SPAN_GROUP],
    ) {
        let (r0, rows) = self.group(g);
        // SAFETY: the caller saw AVX-512; x holds `mr` rows of `k`, and the group's data is in
        // bounds by construction.
        unsafe {
            x86::group(
                x.as_ptr(),
                mr,
                self.k,
                self.span(),
                self.group_data(g),
                rows,
                outs,
            )
        };
        for (t, out) in outs.iter().enumerate() {
            let j0 = r0 + t * WIDE_NR;
            if j0 >= r0 + rows {
                break;
            }
            let nr = WIDE_NR.min(r0 + rows - j0);
            store_tile(out, (mr, nr), (i0, j0), bias, y, self.n);
        }
    }

    /// Group `g`'s elements (its spans one after another).
    #[cfg(target_arch = "x86_64")]
    fn group_data(&self, g: usize) -> &[W] {
        let (r0, rows) = self.group(g);
        &self.data[r0 * self.k..(r0 + rows) * self.k]
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::super::small_matmul::x86::{finish_avx512, span_avx512};
    use super::{MR, NR, SPAN_GROUP, WIDE_NR};
    use crate::kernels::WeightElement;
    use std::arch::x86_64::*;
    use std::mem::MaybeUninit;

    /// How far ahead of the tile being read the next weights are asked for, in tiles (one or
    /// four were slower from memory at 8 rows).
    const AHEAD_TILES: usize = 2;

    /// `mr` rows of `x` (row length `k`) against one group of `rows` packed weight rows, span
    /// by span (`span` wide), into `out[tile]`.
    ///
    /// # Safety
    /// AVX-512F; `mr` rows of `x`; `w` the group's `rows * k` elements.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn group<W: WeightElement>(
        x: *const f32,
        mr: usize,
        k: usize,
        span: usize,
        w: &[W],
        rows: usize,
        out: &mut [[[f32; NR]; MR]; SPAN_GROUP],
    ) {
        debug_assert_eq!(w.len(), rows * k);
        let w = w.as_ptr();
        // SAFETY: as the caller guarantees.
        unsafe {
            match mr {
                1 => rows_group::<1, W>(x, k, span, w, rows, out),
                2 => rows_group::<2, W>(x, k, span, w, rows, out),
                3 => rows_group::<3, W>(x, k, span, w, rows, out),
                4 => rows_group::<4, W>(x, k, span, w, rows, out),
                5 => rows_group::<5, W>(x, k, span, w, rows, out),
                6 => rows_group::<6, W>(x, k, span, w, rows, out),
                7 => rows_group::<7, W>(x, k, span, w, rows, out),
                8 => rows_group::<8, W>(x, k, span, w, rows, out),
                _ => unreachable!("at most {MR} rows at a time"),
            }
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn rows_group<const M: usize, W: WeightElement>(
        x: *const f32,
        k: usize,
        span: usize,
        w: *const W,
        rows: usize,
        out: &mut [[[f32; NR]; MR]; SPAN_GROUP],
    ) {
        let tiles = rows.div_ceil(WIDE_NR);
        // Each tile's sums start at zero in its first span (not a fill of the whole array at
        // every call: that showed in profiles at eight rows).
        let mut sums = [const { MaybeUninit::<[[__m512; WIDE_NR]; M]>::uninit() }; SPAN_GROUP];
        for k0 in (0..k).step_by(span) {
            let k1 = k.min(k0 + span);
            let width = k1 - k0;
            // The span's rows sit side by side, `width` apart.
            let block = w.wrapping_add(rows * k0);
            for (t, tile_sums) in sums.iter_mut().enumerate().take(tiles) {
                let tile_sums = if k0 == 0 {
                    tile_sums.write([[_mm512_setzero_ps(); WIDE_NR]; M])
                } else {
                    // SAFETY: written in the first span.
                    unsafe { tile_sums.assume_init_mut() }
                };
                let wt = block.wrapping_add(t * WIDE_NR * width);
                let ahead = wt.wrapping_add(AHEAD_TILES * WIDE_NR * width);
                let nr = WIDE_NR.min(rows - t * WIDE_NR);
                // SAFETY: the tile's `nr` rows over the span are inside the group.
                unsafe {
                    match nr {
                        3 => span_avx512::<M, 3, W>(x, k, (wt, width), k0..k1, ahead, tile_sums),
                        2 => partial::<M, 2, W>(x, k, (wt, width), k0..k1, ahead, tile_sums),
                        _ => partial::<M, 1, W>(x, k, (wt, width), k0..k1, ahead, tile_sums),
                    }
                }
            }
        }
        for (tile_sums, o) in sums.iter().zip(out.iter_mut()).take(tiles) {
            // SAFETY: every tile below `tiles` was written in the first span (k > 0).
            finish_avx512::<M, WIDE_NR>(unsafe { tile_sums.assume_init_ref() }, o);
        }
    }

    /// A tile of `N` < 3 weight rows (the group's last), through the first `N` sums.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn partial<const M: usize, const N: usize, W: WeightElement>(
        x: *const f32,
        k: usize,
        w: (*const W, usize),
        span: std::ops::Range<usize>,
        ahead: *const W,
        sums: &mut [[__m512; WIDE_NR]; M],
    ) {
        let mut acc: [[__m512; N]; M] =
            std::array::from_fn(|i| std::array::from_fn(|j| sums[i][j]));
        // SAFETY: as the caller guarantees.
        unsafe { span_avx512::<M, N, W>(x, k, w, span, ahead, &mut acc) };
        for (row, a) in sums.iter_mut().zip(acc) {
            row[..N].copy_from_slice(&a);
        }
    }
}

/// A packed weight in whichever element type the matrix was stored in.
#[derive(Debug, Clone)]
pub enum PackedMatrix {
    F32(PackedWeight<f32>),
    F16(PackedWeight<f16>),
    BF16(PackedWeight<bf16>),
}

impl PackedMatrix {
    /// Packs a contiguous `[n, k]` CPU tensor of f32, f16 or bf16 when that changes its layout
    /// ([`worth_packing`]); `None` otherwise.
    pub fn from_tensor(w: &candle_core::Tensor) -> candle_core::Result<Option<Self>> {
        use candle_core::DType;
        let (n, k) = w.dims2()?;
        if !w.device().is_cpu() || !worth_packing(k) {
            return Ok(None);
        }
        let w = w.contiguous()?;
        Ok(match w.dtype() {
            DType::F32 => Some(super::with_cpu_slice::<f32, _>(&w, |s| {
                PackedMatrix::F32(PackedWeight::pack(s, n, k))
            })?),
            DType::F16 => Some(super::with_cpu_slice::<f16, _>(&w, |s| {
                PackedMatrix::F16(PackedWeight::pack(s, n, k))
            })?),
            DType::BF16 => Some(super::with_cpu_slice::<bf16, _>(&w, |s| {
                PackedMatrix::BF16(PackedWeight::pack(s, n, k))
            })?),
            _ => None,
        })
    }

    /// Output rows and inputs.
    pub fn dims(&self) -> (usize, usize) {
        match self {
            PackedMatrix::F32(p) => p.dims(),
            PackedMatrix::F16(p) => p.dims(),
            PackedMatrix::BF16(p) => p.dims(),
        }
    }

    /// The row-major `[n, k]` weight in its element type.
    pub fn unpack(&self) -> candle_core::Result<candle_core::Tensor> {
        let cpu = &candle_core::Device::Cpu;
        let dims = self.dims();
        match self {
            PackedMatrix::F32(p) => candle_core::Tensor::from_vec(p.unpack(), dims, cpu),
            PackedMatrix::F16(p) => candle_core::Tensor::from_vec(p.unpack(), dims, cpu),
            PackedMatrix::BF16(p) => candle_core::Tensor::from_vec(p.unpack(), dims, cpu),
        }
    }

    /// Rows `ids`, widened to f32, one after another (`ids.len() * k`); `None` if an id is out
    /// of range.
    pub fn rows_f32(&self, ids: &[u32]) -> Option<Vec<f32>> {
        fn rows<W: WeightElement>(p: &PackedWeight<W>, ids: &[u32]) -> Option<Vec<f32>> {
            let (n, k) = p.dims();
            let mut row = vec![p.data[0]; k];
            let mut out = Vec::with_capacity(ids.len() * k);
            for &id in ids {
                if id as usize >= n {
                    return None;
                }
                p.row_into(id as usize, &mut row);
                out.extend(row.iter().map(|v| v.to_f32()));
            }
            Some(out)
        }
        match self {
            PackedMatrix::F32(p) => rows(p, ids),
            PackedMatrix::F16(p) => rows(p, ids),
            PackedMatrix::BF16(p) => rows(p, ids),
        }
    }

    /// `out[j] = x . W[j]` for each `j` in `ids` (`x` one row of `k`): the bits
    /// [`matmul`](Self::matmul) gives output `j`, without a bias. Ids must be in range.
    pub fn row_scores(&self, x: &[f32], ids: &[u32], out: &mut [f32]) {
        fn scores<W: WeightElement>(p: &PackedWeight<W>, x: &[f32], ids: &[u32], out: &mut [f32]) {
            let mut row = vec![p.data[0]; p.k];
            for &j in ids {
                p.row_into(j as usize, &mut row);
                let o = &mut out[j as usize..=j as usize];
                small_matmul::matmul_nt(x, 1, p.k, &row, 1, None, o);
            }
        }
        match self {
            PackedMatrix::F32(p) => scores(p, x, ids, out),
            PackedMatrix::F16(p) => scores(p, x, ids, out),
            PackedMatrix::BF16(p) => scores(p, x, ids, out),
        }
    }

    /// `y = x W^T (+ bias)`, `x` `[m, k]`.
    pub fn matmul(&self, x: &[f32], m: usize, bias: Option<&[f32]>, y: &mut [f32]) {
        match self {
            PackedMatrix::F32(p) => p.matmul(x, m, bias, y),
            PackedMatrix::F16(p) => p.matmul(x, m, bias, y),
            PackedMatrix::BF16(p) => p.matmul(x, m, bias, y),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::Isa;
    use crate::kernels::test_data::uniform as data;

    /// Every shape class packed and multiplied gives the bits of the row-major kernel: rows
    /// 1 to 13 and 20 (more than one row tile), `k` over one to five spans with and without a
    /// tail, `n` with partial tiles and a partial last group; f32 and f16 weights; each row
    /// alone as inside the block; and the rows and the whole matrix come back unchanged.
    #[test]
    fn packed_weights_give_the_bits_of_the_row_major_kernel() {
        for isa in Isa::available() {
            isa.forced(packed_check);
        }
    }

    fn packed_check() {
        for &(k, n) in &[
            (1100, 53),
            (2085, 40),
            (1280, 25),
            (4096, 7),
            (2048, 48),
            (1030, 1),
        ] {
            let w32 = data(n * k, 2);
            let w16: Vec<f16> = w32.iter().map(|&v| f16::from_f32(v)).collect();
            let b = data(n, 3);
            let p32 = PackedWeight::pack(&w32, n, k);
            let p16 = PackedWeight::pack(&w16, n, k);
            assert_eq!(p32.unpack(), w32, "{k}x{n} unpacks");
            for m in (1..=13).chain([20]) {
                let x = data(m * k, 1);
                let mut want = vec![0f32; m * n];
                let mut got = vec![0f32; m * n];
                small_matmul::matmul_nt(&x, m, k, &w32, n, Some(&b), &mut want);
                p32.matmul(&x, m, Some(&b), &mut got);
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&got), bits(&want), "f32 {m}x{k}x{n}");
                small_matmul::matmul_nt(&x, m, k, &w16, n, None, &mut want);
                p16.matmul(&x, m, None, &mut got);
                assert_eq!(bits(&got), bits(&want), "f16 {m}x{k}x{n}");
                let mut alone = vec![0f32; n];
                p16.matmul(&x[(m - 1) * k..], 1, None, &mut alone);
                assert_eq!(
                    bits(&alone),
                    bits(&got[(m - 1) * n..]),
                    "last row {m}x{k}x{n}"
                );
            }
        }
    }

    #[test]
    fn rows_come_back_widened_and_out_of_range_ids_are_refused() {
        let (n, k) = (30, 2100);
        let w: Vec<f16> = data(n * k, 4).iter().map(|&v| f16::from_f32(v)).collect();
        let p = PackedMatrix::F16(PackedWeight::pack(&w, n, k));
        let rows = p.rows_f32(&[29, 0, 24]).unwrap();
        for (i, &r) in [29usize, 0, 24].iter().enumerate() {
            let want: Vec<f32> = w[r * k..(r + 1) * k].iter().map(|v| v.to_f32()).collect();
            assert_eq!(rows[i * k..(i + 1) * k], want[..], "row {r}");
        }
        assert!(p.rows_f32(&[30]).is_none());
    }
}
