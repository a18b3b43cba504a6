//! Softmax attention for the decoder's few query rows, over the self-attention cache or the
//! encoder's 1500 frames.
//!
//! During decoding each layer attends 1 (a step) to 13 (a verify pass) query rows per head.
//! Through candle that is four small batched GEMMs plus a mask, a softmax and a copy of the
//! whole cache per call, and every extra row of a verify pass cost a sizeable part of a
//! one-token step, mostly in these shapes. This kernel reads each
//! head's keys and values once for all rows and writes the heads' outputs straight into the
//! `[rows, d_model]` layout the output projection wants.
//!
//! Like [`small_matmul`](super::small_matmul), every row is computed on its own in a fixed
//! order: a score is a fused multiply-add chain over the head dimension, the softmax sums in
//! sixteen fixed lanes, an output element is a multiply-add chain over the keys in order. So a
//! row's output depends only on its query and the keys it may see, never on how many rows share
//! the call: a causal block of tokens gets bit-for-bit the attention of the same tokens fed one
//! at a time. With the projections that makes a whole decoder pass row-independent.

use crate::kernels::{Isa, SendPtr};

/// How keys and values may be stored: f32, or bf16 (the `--quantize` decoder's cross-attention
/// keys and values: half the bytes a step reads, at the precision its 8-bit products already
/// have). A bf16 is the high half of the f32 of the same value, so widening is a shift, which
/// the plain loops below vectorise like a load.
pub trait CacheElement: Copy + Send + Sync + 'static {
    /// The value as f32 (exact).
    fn widen(self) -> f32;
}

impl CacheElement for f32 {
    #[inline(always)]
    fn widen(self) -> f32 {
        self
    }
}

impl CacheElement for half::bf16 {
    #[inline(always)]
    fn widen(self) -> f32 {
        f32::from_bits(u32::from(self.to_bits()) << 16)
    }
}

/// Longest head this kernel handles (Whisper's are all 64).
pub const MAX_HEAD_DIM: usize = 128;

/// Keys are read in blocks of this many positions, all query rows of a chunk at once.
const KEY_BLOCK: usize = 64;

/// One attention call: `heads` heads of `head_dim`, `rows` query rows, `keys` key positions.
///
/// Layouts (f32, row-major): `q` is `[rows, heads * head_dim]`; keys are stored transposed, head
/// `h`, dimension `e`, position `t` at `kt[h * kt_head + e * kt_row + t]`; values are
/// `v[h * v_head + t * head_dim + e]`. The output has `q`'s layout.
#[derive(Debug, Clone, Copy)]
pub struct Attend<'a, E: CacheElement = f32> {
    /// Queries `[rows, heads * head_dim]`.
    pub q: &'a [f32],
    /// Number of query rows.
    pub rows: usize,
    /// Number of heads.
    pub heads: usize,
    /// Width of each head.
    pub head_dim: usize,
    /// Transposed keys (see the layout above).
    pub kt: &'a [E],
    /// Distance between heads in `kt`.
    pub kt_head: usize,
    /// Distance between dimensions of one head in `kt` (at least `keys`).
    pub kt_row: usize,
    /// Values (see the layout above).
    pub v: &'a [E],
    /// Distance between heads in `v`.
    pub v_head: usize,
    /// Key positions the last row sees.
    pub keys: usize,
    /// Causal: row `i` sees the first `keys - rows + 1 + i` keys (new tokens appended at the
    /// end); otherwise every row sees all `keys`.
    pub causal: bool,
    /// Factor applied to each score before the softmax.
    pub scale: f32,
}

impl<E: CacheElement> Attend<'_, E> {
    /// Keys row `i` may see.
    fn visible(&self, i: usize) -> usize {
        if self.causal {
            self.keys + 1 + i - self.rows
        } else {
            self.keys
        }
    }

    fn check(&self, out: &[f32]) {
        let (h, hd, t) = (self.heads, self.head_dim, self.keys);
        assert!(
            hd > 0 && hd <= MAX_HEAD_DIM,
            "head_dim {hd} not in 1..={MAX_HEAD_DIM}"
        );
        assert!(
            self.rows > 0 && (!self.causal || self.rows <= t),
            "rows/keys mismatch"
        );
        assert!(self.q.len() >= self.rows * h * hd && out.len() >= self.rows * h * hd);
        assert!(
            self.kt_row >= t
                && self.kt.len() >= (h - 1) * self.kt_head + (hd - 1) * self.kt_row + t
        );
        assert!(self.v.len() >= (h - 1) * self.v_head + t * hd);
    }
}

/// Computes `out[i, head h] = softmax(scale * q[i, h] . K_h^T over visible keys) V_h` for every
/// row and head. Parallel over heads and chunks of rows.
pub fn attend<E: CacheElement>(a: &Attend<'_, E>, out: &mut [f32]) {
    a.check(out);
    let kernel = Isa::detect();
    let chunks = a.rows.div_ceil(ROWS);
    let units = a.heads * chunks;
    let out_ptr = SendPtr(out.as_mut_ptr());
    let run = |range: std::ops::Range<usize>| {
        let out_ptr = &out_ptr;
        let mut scratch = vec![0f32; ROWS * a.keys];
        for unit in range {
            let (h, r0) = (unit / chunks, (unit % chunks) * ROWS);
            let rn = ROWS.min(a.rows - r0);
            let mut o = [[0f32; MAX_HEAD_DIM]; ROWS];
            kernel.head_rows(a, h, r0, rn, &mut scratch, &mut o);
            let width = a.heads * a.head_dim;
            for (r, row) in o.iter().enumerate().take(rn) {
                let at = (r0 + r) * width + h * a.head_dim;
                // SAFETY: each (head, row) unit writes its own `head_dim` elements of `out`,
                // in bounds by `check`; no two units share one.
                unsafe {
                    std::ptr::copy_nonoverlapping(row.as_ptr(), out_ptr.0.add(at), a.head_dim)
                };
            }
        }
    };
    // Self-attention over a short cache is a few microseconds: not worth another thread.
    if a.heads * a.keys * a.head_dim * a.rows < 128 * 1024 {
        run(0..units);
    } else {
        candle_core::utils::barrier_pool().execute_chunked(units, run);
    }
}

/// Query rows handled together: their scores share each loaded block of keys and their
/// outputs each loaded value row, so a verify pass of up to 8 rows reads the encoder's keys
/// and values once, not once per 4 rows.
const ROWS: usize = 8;

/// Keys per block when more than 4 rows share it: 8 rows x 32 keys of accumulators fill half
/// the 32 vector registers of AVX-512, where 64 keys would spill.
const WIDE_KEY_BLOCK: usize = 32;

impl Isa {
    /// [`head_rows`] compiled for this instruction set.
    fn head_rows<E: CacheElement>(
        self,
        a: &Attend<'_, E>,
        h: usize,
        r0: usize,
        rn: usize,
        scratch: &mut [f32],
        o: &mut [[f32; MAX_HEAD_DIM]; ROWS],
    ) {
        match self {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: detect() saw the features; the body is safe Rust.
            Isa::Avx512 => unsafe { head_rows_avx512(a, h, r0, rn, scratch, o) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            Isa::Avx2 => unsafe { head_rows_avx2(a, h, r0, rn, scratch, o) },
            // Portable, and NEON: the AArch64 baseline, which the plain loops vectorise with.
            _ => head_rows(a, h, r0, rn, scratch, o),
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,fma")]
fn head_rows_avx512<E: CacheElement>(
    a: &Attend<'_, E>,
    h: usize,
    r0: usize,
    rn: usize,
    s: &mut [f32],
    o: &mut [[f32; MAX_HEAD_DIM]; ROWS],
) {
    head_rows(a, h, r0, rn, s, o)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn head_rows_avx2<E: CacheElement>(
    a: &Attend<'_, E>,
    h: usize,
    r0: usize,
    rn: usize,
    s: &mut [f32],
    o: &mut [[f32; MAX_HEAD_DIM]; ROWS],
) {
    head_rows(a, h, r0, rn, s, o)
}

/// Rows `r0..r0 + rn` of head `h` into `o[r][..head_dim]`; `s` holds their scores
/// (`[ROWS, keys]`). Written as plain loops of `mul_add` over contiguous runs so that the
/// compiler vectorises them with the caller's instruction set; vectorising an element-wise
/// loop never changes its results.
#[inline(always)]
fn head_rows<E: CacheElement>(
    a: &Attend<'_, E>,
    h: usize,
    r0: usize,
    rn: usize,
    s: &mut [f32],
    o: &mut [[f32; MAX_HEAD_DIM]; ROWS],
) {
    match rn {
        1 => rows_const::<1, E>(a, h, r0, s, o),
        2 => rows_const::<2, E>(a, h, r0, s, o),
        3 => rows_const::<3, E>(a, h, r0, s, o),
        4 => rows_const::<4, E>(a, h, r0, s, o),
        5 => rows_const::<5, E>(a, h, r0, s, o),
        6 => rows_const::<6, E>(a, h, r0, s, o),
        7 => rows_const::<7, E>(a, h, r0, s, o),
        8 => rows_const::<8, E>(a, h, r0, s, o),
        _ => unreachable!("chunks hold 1..=8 rows"),
    }
}

#[inline(always)]
fn rows_const<const R: usize, E: CacheElement>(
    a: &Attend<'_, E>,
    h: usize,
    r0: usize,
    s: &mut [f32],
    o: &mut [[f32; MAX_HEAD_DIM]; ROWS],
) {
    let (hd, t_all) = (a.head_dim, a.keys);
    let width = a.heads * hd;
    // The rows' queries side by side, so the score loop reaches each from one base address.
    let mut q = [[0f32; MAX_HEAD_DIM]; R];
    for (r, row) in q.iter_mut().enumerate() {
        let at = (r0 + r) * width + h * hd;
        row[..hd].copy_from_slice(&a.q[at..at + hd]);
    }
    let visible: [usize; R] = std::array::from_fn(|r| a.visible(r0 + r));
    let t_max = visible[R - 1];
    let kt = &a.kt[h * a.kt_head..];

    // Scores: s[r][t] = scale * sum_e q[r][e] * k[e][t], one multiply-add chain per score,
    // whatever the block width.
    let keys = HeadKeys {
        kt,
        row: a.kt_row,
        head_dim: hd,
    };
    let mut out = ScoreRows {
        s,
        stride: t_all,
        scale: a.scale,
    };
    if R > 4 {
        scores::<R, WIDE_KEY_BLOCK, E>(&q, &keys, t_max, &mut out);
    } else {
        scores::<R, KEY_BLOCK, E>(&q, &keys, t_max, &mut out);
    }

    // Softmax over each row's visible keys.
    for (r, &len) in visible.iter().enumerate() {
        softmax_in_place(&mut s[r * t_all..r * t_all + len]);
    }

    // Output: o[r][e] = sum_t p[r][t] * v[t][e], keys in order.
    let v = &a.v[h * a.v_head..];
    if hd == 64 && R > 4 {
        // Four rows, then the rest, each over all 64 columns: 8 rows x 64 accumulators would
        // spill. The second group finds the head's values in cache. Each element's chain over
        // the keys is the same either way.
        match R {
            5 => values_in_two_groups::<R, 1, E>(v, s, t_all, &visible, o),
            6 => values_in_two_groups::<R, 2, E>(v, s, t_all, &visible, o),
            7 => values_in_two_groups::<R, 3, E>(v, s, t_all, &visible, o),
            _ => values_in_two_groups::<R, 4, E>(v, s, t_all, &visible, o),
        }
    } else if hd == 64 {
        weighted_values::<R, 64, E>(v, s, t_all, &visible, o);
    } else {
        for row in o.iter_mut().take(R) {
            row[..hd].fill(0.0);
        }
        for t in 0..t_max {
            let vr = &v[t * hd..t * hd + hd];
            for r in 0..R {
                if t < visible[r] {
                    let p = s[r * t_all + t];
                    for (acc, &x) in o[r][..hd].iter_mut().zip(vr) {
                        *acc = p.mul_add(x.widen(), *acc);
                    }
                }
            }
        }
    }
}

/// The weighted values of `R` rows (64-wide heads) as rows `0..4` and then `4..R` (`R2` of
/// them).
#[inline(always)]
fn values_in_two_groups<const R: usize, const R2: usize, E: CacheElement>(
    v: &[E],
    s: &[f32],
    t_all: usize,
    visible: &[usize; R],
    o: &mut [[f32; MAX_HEAD_DIM]; ROWS],
) {
    let first: [usize; 4] = std::array::from_fn(|r| visible[r]);
    let rest: [usize; R2] = std::array::from_fn(|r| visible[4 + r]);
    weighted_values::<4, 64, E>(v, s, t_all, &first, &mut o[..4]);
    weighted_values::<R2, 64, E>(v, &s[4 * t_all..], t_all, &rest, &mut o[4..]);
}

/// `o[r][..W] = sum_t p[r][t] * v[t][..W]` (heads `W` wide, row `r`'s probabilities at
/// `s[r * t_all..]`) with the accumulators sized at compile time, so they stay in registers
/// (Whisper's heads are all 64 wide); the same arithmetic as the general loop above.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn weighted_values<const R: usize, const W: usize, E: CacheElement>(
    v: &[E],
    s: &[f32],
    t_all: usize,
    visible: &[usize; R],
    o: &mut [[f32; MAX_HEAD_DIM]],
) {
    let mut acc = [[0f32; W]; R];
    let t_max = visible[R - 1];
    // Each row's probabilities, as long as the rows go.
    let p: [&[f32]; R] = std::array::from_fn(|r| &s[r * t_all..r * t_all + t_max]);
    if visible[0] == t_max {
        // Every row sees every key (cross-attention, or one row): no per-row test in the loop.
        add_weighted_values::<R, W, E, true>(v, &p, visible, &mut acc);
    } else {
        add_weighted_values::<R, W, E, false>(v, &p, visible, &mut acc);
    }
    for r in 0..R {
        o[r][..W].copy_from_slice(&acc[r]);
    }
}

/// `acc[r] += p[r][t] * v[t][..W]` for the keys `t` row `r` sees, in increasing `t`; with
/// `ALL_SEE_ALL` every row sees keys `0..t_max` and the loop tests nothing per row.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn add_weighted_values<const R: usize, const W: usize, E: CacheElement, const ALL_SEE_ALL: bool>(
    v: &[E],
    p: &[&[f32]; R],
    visible: &[usize; R],
    acc: &mut [[f32; W]; R],
) {
    for t in 0..visible[R - 1] {
        let at = t * W;
        let vr: &[E; W] = v[at..at + W].try_into().expect("W values");
        prefetch_lines(v, at + PREFETCH_VALUE_ROWS * W, W);
        for r in 0..R {
            if ALL_SEE_ALL || t < visible[r] {
                let p = p[r][t];
                for (a, &x) in acc[r].iter_mut().zip(vr) {
                    *a = p.mul_add(x.widen(), *a);
                }
            }
        }
    }
}

/// Bytes per cache line, the unit of a prefetch.
const CACHE_LINE: usize = 64;
/// How many key blocks ahead the score loop asks for: a block's 64 rows are 64 separate
/// streams, too many for the hardware prefetcher, and one block ahead arrives too late once
/// eight rows of arithmetic share each line.
const PREFETCH_KEY_BLOCKS: usize = 2;
/// How many value rows ahead the weighted sum asks for (with eight rows the sum waits on
/// memory without it).
const PREFETCH_VALUE_ROWS: usize = 4;

/// One head's keys, transposed: `head_dim` rows of `row` floats (key position along a row).
struct HeadKeys<'a, E> {
    kt: &'a [E],
    row: usize,
    head_dim: usize,
}

/// Where scores go: row `r`'s score of key `t` at `s[r * stride + t]`, multiplied by `scale`.
struct ScoreRows<'a> {
    s: &'a mut [f32],
    stride: usize,
    scale: f32,
}

/// Scores of `R` rows against keys `0..t_max`: blocks of `W` keys, then the rest one by one.
#[inline(always)]
fn scores<const R: usize, const W: usize, E: CacheElement>(
    q: &[[f32; MAX_HEAD_DIM]; R],
    keys: &HeadKeys<'_, E>,
    t_max: usize,
    out: &mut ScoreRows<'_>,
) {
    let mut t0 = 0;
    while t0 + W <= t_max {
        score_block::<R, W, E>(q, keys, t0, out);
        t0 += W;
    }
    for t in t0..t_max {
        score_block::<R, 1, E>(q, keys, t, out);
    }
}

/// Scores of `R` rows against keys `t0..t0 + W`.
#[inline(always)]
#[allow(clippy::needless_range_loop)]
fn score_block<const R: usize, const W: usize, E: CacheElement>(
    q: &[[f32; MAX_HEAD_DIM]; R],
    keys: &HeadKeys<'_, E>,
    t0: usize,
    out: &mut ScoreRows<'_>,
) {
    let (kt, kt_row, hd) = (keys.kt, keys.row, keys.head_dim);
    let (s, t_all, scale) = (&mut *out.s, out.stride, out.scale);
    let mut acc = [[0f32; W]; R];
    for e in 0..hd {
        let row = e * kt_row + t0;
        let k: &[E; W] = kt[row..row + W].try_into().expect("W keys");
        if W >= 16 {
            // A later block of this key row (see PREFETCH_KEY_BLOCKS).
            prefetch_lines(kt, row + PREFETCH_KEY_BLOCKS * W, W);
        }
        for r in 0..R {
            let qe = q[r][e];
            for (x, &y) in acc[r].iter_mut().zip(k) {
                *x = qe.mul_add(y.widen(), *x);
            }
        }
    }
    for (r, row) in acc.iter().enumerate() {
        for (dst, &x) in s[r * t_all + t0..r * t_all + t0 + W].iter_mut().zip(row) {
            *dst = x * scale;
        }
    }
}

/// Hints the CPU to load the cache lines of `xs[at..at + len]`, which may lie past the end
/// of `xs` (a hint never faults).
#[inline(always)]
fn prefetch_lines<E>(xs: &[E], at: usize, len: usize) {
    for line in (0..len).step_by(CACHE_LINE / std::mem::size_of::<E>()) {
        prefetch(xs.as_ptr().wrapping_add(at + line));
    }
}

/// Hints the CPU to load the cache line at `p` (never faults; no-op off x86).
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// `x <- exp(x - max) / sum`, the sum taken in 16 lanes and then pairwise, a fixed order. The
/// exponential is [`exp_nonpositive`](crate::kernels::math::exp_nonpositive), which vectorises
/// (libm's `expf` is a call per element).
#[inline(always)]
pub(crate) fn softmax_in_place(x: &mut [f32]) {
    let max = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut lanes = [0f32; 16];
    let mut chunks = x.chunks_exact_mut(16);
    for chunk in &mut chunks {
        for (v, lane) in chunk.iter_mut().zip(&mut lanes) {
            *v = crate::kernels::math::exp_nonpositive(*v - max);
            *lane += *v;
        }
    }
    for (v, lane) in chunks.into_remainder().iter_mut().zip(&mut lanes) {
        *v = crate::kernels::math::exp_nonpositive(*v - max);
        *lane += *v;
    }
    let mut width = 16;
    while width > 1 {
        width /= 2;
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
    }
    let inv = 1.0 / lanes[0];
    for v in x.iter_mut() {
        *v *= inv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_data::{attention_f64, uniform as data};

    /// f64 attention of row `i`, head `h`, with the same layouts.
    fn reference(a: &Attend<'_>, i: usize, h: usize) -> Vec<f64> {
        let hd = a.head_dim;
        attention_f64(
            &a.q[i * a.heads * hd + h * hd..][..hd],
            a.visible(i),
            a.scale,
            |t, e| a.kt[h * a.kt_head + e * a.kt_row + t],
            |t, e| a.v[h * a.v_head + t * hd + e],
        )
    }

    #[test]
    fn matches_f64_reference_and_each_row_matches_a_one_row_call() {
        // (rows, heads, head_dim, keys, key row stride, causal)
        for &(rows, heads, hd, keys, stride, causal) in &[
            (1, 2, 16, 1, 8, true),
            (5, 3, 16, 9, 12, true),
            (13, 8, 64, 200, 448, true),
            (6, 4, 64, 1500, 1500, false),
            (7, 2, 64, 40, 40, true),
            (3, 2, 24, 70, 70, false),
            (8, 2, 64, 100, 104, false),
        ] {
            let q = data(rows * heads * hd, 1);
            let kt = data(heads * hd * stride, 2);
            let v = data(heads * stride * hd, 3);
            let a = Attend {
                q: &q,
                rows,
                heads,
                head_dim: hd,
                kt: &kt,
                kt_head: hd * stride,
                kt_row: stride,
                v: &v,
                v_head: stride * hd,
                keys,
                causal,
                scale: (hd as f32).powf(-0.5),
            };
            let mut out = vec![0f32; rows * heads * hd];
            attend(&a, &mut out);
            for i in 0..rows {
                for h in 0..heads {
                    let want = reference(&a, i, h);
                    let got = &out[i * heads * hd + h * hd..][..hd];
                    for (g, w) in got.iter().zip(&want) {
                        assert!((*g as f64 - w).abs() < 1e-5, "{rows}x{keys}: {g} vs {w}");
                    }
                }
                // Row i alone (a one-token step at its position) gives the same bits.
                let one = Attend {
                    q: &q[i * heads * hd..(i + 1) * heads * hd],
                    rows: 1,
                    keys: a.visible(i),
                    causal: false,
                    ..a
                };
                let mut alone = vec![0f32; heads * hd];
                attend(&one, &mut alone);
                assert_eq!(alone, out[i * heads * hd..(i + 1) * heads * hd], "row {i}");
            }
        }
    }

    /// `attend` of `rows` query rows against `keys` keys of every head (no causal mask).
    fn one_call<E: CacheElement>(
        q: &[f32],
        rows: usize,
        (heads, hd, keys): (usize, usize, usize),
        kt: &[E],
        v: &[E],
    ) -> Vec<f32> {
        let mut out = vec![0f32; rows * heads * hd];
        let a = Attend {
            q,
            rows,
            heads,
            head_dim: hd,
            kt,
            kt_head: hd * keys,
            kt_row: keys,
            v,
            v_head: keys * hd,
            keys,
            causal: false,
            scale: 0.125,
        };
        attend(&a, &mut out);
        out
    }

    /// Keys and values stored in bf16 give bit for bit what f32 copies of the same (widened)
    /// values give, for one row and for a block of rows, and each row of the block is the
    /// one-row call's.
    #[test]
    fn bf16_storage_is_its_widened_f32_values() {
        let (heads, hd, keys) = (3, 64, 1500);
        let kt16: Vec<half::bf16> = data(heads * hd * keys, 2)
            .into_iter()
            .map(half::bf16::from_f32)
            .collect();
        let v16: Vec<half::bf16> = data(heads * keys * hd, 3)
            .into_iter()
            .map(half::bf16::from_f32)
            .collect();
        let kt32: Vec<f32> = kt16.iter().map(|x| x.to_f32()).collect();
        let v32: Vec<f32> = v16.iter().map(|x| x.to_f32()).collect();
        for (isa, rows) in Isa::available()
            .into_iter()
            .flat_map(|i| [(i, 1), (i, 5), (i, 8)])
        {
            let q = data(rows * heads * hd, 1);
            let wide = isa.forced(|| one_call(&q, rows, (heads, hd, keys), &kt32, &v32));
            let narrow = isa.forced(|| one_call(&q, rows, (heads, hd, keys), &kt16, &v16));
            assert_eq!(wide, narrow, "{isa:?}, {rows} rows");
            let width = heads * hd;
            let last = &q[(rows - 1) * width..];
            let alone = isa.forced(|| one_call(last, 1, (heads, hd, keys), &kt16, &v16));
            assert_eq!(
                alone,
                narrow[(rows - 1) * width..],
                "{isa:?}, {rows} rows, the last alone"
            );
        }
    }
}
