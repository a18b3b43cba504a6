//! The encoder's self-attention with bf16 products and f32 sums, for the `--quantize` encoder.
//!
//! With its projections in 8 bits ([`Projection::to_int8`](crate::model::linear::Projection::to_int8)),
//! the quantized encoder spends most of its time in attention: 1500 x 1500 scores and as many
//! weighted values per head, about 2.4 GFLOP-pairs per layer at base's width, in f32 at the
//! CPU's FMA peak. AVX-512 BF16's `vdpbf16ps` does twice the multiply-adds per instruction:
//! each 32-bit lane adds the products of a *pair* of bf16 values to an f32 sum. So queries,
//! keys, probabilities and values are rounded to bf16 (8 bits of mantissa, about the 8-bit
//! rounding the projections already apply), and every sum stays f32.
//!
//! Layouts, made once per call so that the inner loops read one contiguous stream:
//! - keys, per head, in blocks of 16 positions: for each pair of dimensions `(2p, 2p + 1)`, the
//!   16 positions' pairs (one 64-byte row, the operand of one `vdpbf16ps` whose lanes are 16
//!   scores);
//! - values, per head, per pair of positions `(2t, 2t + 1)`: each dimension's pair (so a lane
//!   is one output dimension, summed over two keys per instruction);
//! - queries and probabilities as bf16 rows, whose consecutive pairs are broadcast.
//!
//! Scores of padded key positions are computed (zeros) but left out of the softmax, and their
//! probabilities are zero, so padding changes nothing. CPU with AVX-512 BF16 only
//! ([`available`]); elsewhere the f32 kernel runs.

#[cfg(target_arch = "x86_64")]
use crate::kernels::SendPtr;

/// Query rows computed together (their scores share each loaded block of keys).
#[cfg(target_arch = "x86_64")]
const ROWS: usize = 8;
/// Key positions per score block: two vectors of 16 lanes.
#[cfg(target_arch = "x86_64")]
const KEYS: usize = 32;
/// Output dimensions per pass over the values: two vectors of 16 lanes.
const DIMS: usize = 32;

/// Whether this CPU has the instructions (AVX-512F and AVX-512 BF16).
pub fn available() -> bool {
    super::CpuFeatures::get().bf16
}

/// One self-attention call over `frames` positions: `q`, `k`, `v` and `out` are `[frames,
/// heads * head_dim]` row-major f32 (head `h` in columns `h * head_dim..`).
#[derive(Debug, Clone, Copy)]
pub struct SelfAttention<'a> {
    /// Queries.
    pub q: &'a [f32],
    /// Keys.
    pub k: &'a [f32],
    /// Values.
    pub v: &'a [f32],
    /// Positions (rows of each).
    pub frames: usize,
    /// Heads.
    pub heads: usize,
    /// Width of a head; a multiple of 32.
    pub head_dim: usize,
    /// Factor applied to each score before the softmax.
    pub scale: f32,
}

/// Computes `out = softmax(scale * q k^T) v` per head; returns false (and leaves `out`
/// untouched) where this kernel does not apply: no AVX-512 BF16, or a head width that is not
/// a multiple of 32.
pub fn attend(a: &SelfAttention<'_>, out: &mut [f32]) -> bool {
    let d = a.heads * a.head_dim;
    if !available() || a.head_dim == 0 || !a.head_dim.is_multiple_of(DIMS) || a.frames == 0 {
        return false;
    }
    assert!(a.q.len() >= a.frames * d && a.k.len() >= a.frames * d);
    assert!(a.v.len() >= a.frames * d && out.len() >= a.frames * d);
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: `available` saw the features; sizes are checked above.
        unsafe { x86::attend(a, out) };
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{DIMS, KEYS, ROWS, SelfAttention, SendPtr};
    use std::arch::x86_64::*;

    /// Rounds `x` to bf16 (to nearest even) into `out`, 16 at a time.
    #[target_feature(enable = "avx512f,avx512bf16")]
    fn to_bf16(x: &[f32], out: &mut [u16]) {
        let n = x.len().min(out.len());
        let mut i = 0;
        while i + 16 <= n {
            // SAFETY: `i + 16 <= n` for both slices.
            unsafe {
                let b = _mm512_cvtneps_pbh(_mm512_loadu_ps(x.as_ptr().add(i)));
                _mm256_storeu_si256(
                    out.as_mut_ptr().add(i).cast(),
                    std::mem::transmute::<__m256bh, __m256i>(b),
                );
            }
            i += 16;
        }
        for j in i..n {
            out[j] = half::bf16::from_f32(x[j]).to_bits();
        }
    }

    /// A 512-bit integer vector read as 32 bf16 values.
    #[inline(always)]
    fn bh(v: __m512i) -> __m512bh {
        // SAFETY: a bit cast between two 512-bit vector types.
        unsafe { std::mem::transmute::<__m512i, __m512bh>(v) }
    }

    /// The pair of bf16 values at `row[2 * p..2 * p + 2]` as one 32-bit lane (first in the
    /// low half, as `vdpbf16ps` pairs them).
    #[inline(always)]
    fn pair(row: &[u16], p: usize) -> u32 {
        u32::from(row[2 * p]) | (u32::from(row[2 * p + 1]) << 16)
    }

    #[target_feature(enable = "avx512f,avx512bf16")]
    pub(super) unsafe fn attend(a: &SelfAttention<'_>, out: &mut [f32]) {
        let (t, hd, heads) = (a.frames, a.head_dim, a.heads);
        let d = heads * hd;
        let t_pad = t.div_ceil(KEYS) * KEYS;
        let rows_pad = t.div_ceil(ROWS) * ROWS;
        let pairs = hd / 2;

        // bf16 copies, padded with zero rows.
        let mut qb = vec![0u16; rows_pad * d];
        let mut kb = vec![0u16; t * d];
        let mut vb = vec![0u16; t * d];
        to_bf16(&a.q[..t * d], &mut qb);
        to_bf16(&a.k[..t * d], &mut kb);
        to_bf16(&a.v[..t * d], &mut vb);

        // kp[h][block of 16 keys][dimension pair][16 keys], vp[h][key pair][dimension].
        let blocks = t_pad / 16;
        let mut kp = vec![0u32; heads * blocks * pairs * 16];
        for h in 0..heads {
            for tt in 0..t {
                let row = &kb[tt * d + h * hd..tt * d + h * hd + hd];
                let base = (h * blocks + tt / 16) * pairs * 16 + tt % 16;
                for p in 0..pairs {
                    kp[base + p * 16] = pair(row, p);
                }
            }
        }
        let key_pairs = t_pad / 2;
        let mut vp = vec![0u32; heads * key_pairs * hd];
        for h in 0..heads {
            for tt in 0..t {
                let row = &vb[tt * d + h * hd..tt * d + h * hd + hd];
                let shift = 16 * (tt % 2);
                let base = (h * key_pairs + tt / 2) * hd;
                for (e, &x) in row.iter().enumerate() {
                    vp[base + e] |= u32::from(x) << shift;
                }
            }
        }

        let chunks = rows_pad / ROWS;
        let out_ptr = SendPtr(out.as_mut_ptr());
        let (qb, kp, vp) = (&qb[..], &kp[..], &vp[..]);
        let run = |range: std::ops::Range<usize>| {
            let out_ptr = &out_ptr;
            let mut s = vec![0f32; ROWS * t_pad];
            // Probabilities as bf16 pairs: lane `j` of row `r` holds keys `2j` (low half) and
            // `2j + 1`, ready to broadcast.
            let mut pb = vec![0u32; ROWS * t_pad / 2];
            for unit in range {
                let (h, r0) = (unit / chunks, (unit % chunks) * ROWS);
                let q: [&[u16]; ROWS] = std::array::from_fn(|r| {
                    let at = (r0 + r) * d + h * hd;
                    &qb[at..at + hd]
                });
                let kh = &kp[h * blocks * pairs * 16..(h + 1) * blocks * pairs * 16];
                // SAFETY: same features as this function; `kh` holds `t_pad / 16` blocks of
                // `pairs` rows of 16 lanes; `s` holds ROWS rows of `t_pad`.
                unsafe { scores(&q, kh, pairs, t_pad, a.scale, &mut s) };
                for r in 0..ROWS {
                    let row = &mut s[r * t_pad..r * t_pad + t];
                    super::super::small_attention::softmax_in_place(row);
                    let lanes = &mut pb[r * t_pad / 2..(r + 1) * t_pad / 2];
                    // SAFETY: the same bytes as `t_pad` u16 values (u16 has the smaller
                    // alignment); little-endian, so value `2j` is the low half of lane `j`.
                    let pr = unsafe {
                        std::slice::from_raw_parts_mut(lanes.as_mut_ptr().cast::<u16>(), t_pad)
                    };
                    to_bf16(row, pr);
                    pr[t..].fill(0);
                }
                let vh = &vp[h * key_pairs * hd..(h + 1) * key_pairs * hd];
                let mut o = [[0f32; DIMS]; ROWS];
                for c in 0..hd / DIMS {
                    // SAFETY: as above; `vh` holds `key_pairs` rows of `hd` lanes.
                    unsafe { values(&pb, t_pad, vh, hd, c * DIMS, &mut o) };
                    for (r, row) in o.iter().enumerate() {
                        let i = r0 + r;
                        if i < t {
                            let at = i * d + h * hd + c * DIMS;
                            // SAFETY: each (head, row) unit writes its own `head_dim`
                            // elements of `out` (`i < frames`); no two units share one.
                            unsafe {
                                std::ptr::copy_nonoverlapping(row.as_ptr(), out_ptr.0.add(at), DIMS)
                            };
                        }
                    }
                }
            }
        };
        candle_core::utils::barrier_pool().execute_chunked(heads * chunks, run);
    }

    /// `s[r][t] = scale * q[r] . k[t]` for ROWS rows and every (padded) key.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn scores(
        q: &[&[u16]; ROWS],
        kh: &[u32],
        pairs: usize,
        t_pad: usize,
        scale: f32,
        s: &mut [f32],
    ) {
        let scale = _mm512_set1_ps(scale);
        let mut qpairs = vec![[0u32; ROWS]; pairs];
        for (p, lanes) in qpairs.iter_mut().enumerate() {
            for (r, lane) in lanes.iter_mut().enumerate() {
                *lane = pair(q[r], p);
            }
        }
        for blk in 0..t_pad / KEYS {
            let mut acc = [[_mm512_setzero_ps(); 2]; ROWS];
            let k0 = &kh[2 * blk * pairs * 16..];
            let k1 = &kh[(2 * blk + 1) * pairs * 16..];
            for (p, lanes) in qpairs.iter().enumerate() {
                // SAFETY: block `2 * blk + 1 < t_pad / 16` holds `pairs` rows of 16 lanes.
                let (a, b) = unsafe {
                    (
                        bh(_mm512_loadu_si512(k0.as_ptr().add(p * 16).cast())),
                        bh(_mm512_loadu_si512(k1.as_ptr().add(p * 16).cast())),
                    )
                };
                for (r, acc) in acc.iter_mut().enumerate() {
                    let qv = bh(_mm512_set1_epi32(lanes[r] as i32));
                    acc[0] = _mm512_dpbf16_ps(acc[0], qv, a);
                    acc[1] = _mm512_dpbf16_ps(acc[1], qv, b);
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                let at = r * t_pad + blk * KEYS;
                // SAFETY: `at + 32 <= ROWS * t_pad = s.len()`.
                unsafe {
                    _mm512_storeu_ps(s.as_mut_ptr().add(at), _mm512_mul_ps(acc[0], scale));
                    _mm512_storeu_ps(s.as_mut_ptr().add(at + 16), _mm512_mul_ps(acc[1], scale));
                }
            }
        }
    }

    /// `o[r][..32] = sum_t p[r][t] * v[t][e0..e0 + 32]` for ROWS rows.
    #[target_feature(enable = "avx512f,avx512bf16")]
    unsafe fn values(
        pb: &[u32],
        t_pad: usize,
        vh: &[u32],
        hd: usize,
        e0: usize,
        o: &mut [[f32; DIMS]; ROWS],
    ) {
        let mut acc = [[_mm512_setzero_ps(); 2]; ROWS];
        for tp in 0..t_pad / 2 {
            let row = &vh[tp * hd + e0..tp * hd + e0 + DIMS];
            // SAFETY: `row` is 32 lanes.
            let (a, b) = unsafe {
                (
                    bh(_mm512_loadu_si512(row.as_ptr().cast())),
                    bh(_mm512_loadu_si512(row.as_ptr().add(16).cast())),
                )
            };
            for (r, acc) in acc.iter_mut().enumerate() {
                let p = pb[r * t_pad / 2 + tp];
                let pv = bh(_mm512_set1_epi32(p as i32));
                acc[0] = _mm512_dpbf16_ps(acc[0], pv, a);
                acc[1] = _mm512_dpbf16_ps(acc[1], pv, b);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            // SAFETY: 32 floats into a 32-float row.
            unsafe {
                _mm512_storeu_ps(o[r].as_mut_ptr(), acc[0]);
                _mm512_storeu_ps(o[r].as_mut_ptr().add(16), acc[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_data::{attention_f64, uniform};

    /// f64 attention of row `i`, head `h`.
    fn reference(a: &SelfAttention<'_>, i: usize, h: usize) -> Vec<f64> {
        let (hd, d) = (a.head_dim, a.heads * a.head_dim);
        let at = |t: usize, e: usize| t * d + h * hd + e;
        attention_f64(
            &a.q[at(i, 0)..][..hd],
            a.frames,
            a.scale,
            |t, e| a.k[at(t, e)],
            |t, e| a.v[at(t, e)],
        )
    }

    /// Whether `attend` takes one all-zero position of one head `head_dim` wide.
    fn attends_one_zero_row(head_dim: usize) -> bool {
        let z = vec![0f32; head_dim];
        let a = SelfAttention {
            q: &z,
            k: &z,
            v: &z,
            frames: 1,
            heads: 1,
            head_dim,
            scale: 1.0,
        };
        attend(&a, &mut vec![0f32; head_dim])
    }

    #[test]
    fn close_to_f64_attention_with_padded_rows_and_keys() {
        if !available() {
            eprintln!("no AVX-512 BF16 here: attend() must refuse");
            assert!(!attends_one_zero_row(64));
            return;
        }
        // (frames, heads, head_dim): frames not a multiple of 8 rows or 32 keys.
        for &(frames, heads, hd) in &[(1, 1, 32), (37, 2, 64), (100, 3, 32), (300, 8, 64)] {
            let d = heads * hd;
            let q: Vec<f32> = uniform(frames * d, 1).iter().map(|x| 2.0 * x).collect();
            let (k, v) = (uniform(frames * d, 2), uniform(frames * d, 3));
            let a = SelfAttention {
                q: &q,
                k: &k,
                v: &v,
                frames,
                heads,
                head_dim: hd,
                scale: (hd as f32).powf(-0.5),
            };
            let mut out = vec![f32::NAN; frames * d];
            assert!(attend(&a, &mut out));
            let mut worst = 0f64;
            for i in 0..frames {
                for h in 0..heads {
                    let want = reference(&a, i, h);
                    for (g, w) in out[i * d + h * hd..][..hd].iter().zip(&want) {
                        worst = worst.max((*g as f64 - w).abs());
                    }
                }
            }
            // bf16 keeps 8 bits: outputs (averages of values in [-1, 1]) to about 1e-2.
            assert!(worst < 2e-2, "{frames}x{heads}x{hd}: off by {worst}");
        }
        // A head width the kernel does not take is refused.
        assert!(!attends_one_zero_row(48));
    }
}
