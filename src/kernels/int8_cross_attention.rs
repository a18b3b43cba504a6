//! Cross-attention over 8-bit keys and values, for the fused speculative draft.
//!
//! In f32, the cross-attention keys and values are read in full at every decoding step: as
//! many bytes as the draft's 8-bit weights. Rounded to 8 bits (one scale per head and frame)
//! they are a quarter of that. Scores are integer dot products (`vpdpbusd` over keys stored offset
//! by 128, 16 frames x 4 dimensions per register, the query rounded to 8 bits); the softmax and
//! the weighted sum of values stay f32 (values are widened from 8 bits as they are read: an
//! 8-bit rounding of the probabilities would lose the many small ones).
//!
//! Only the draft reads these: the target's cross-attention is always f32.

use super::int8_matmul::{IntKernels, quantize_row as round_to_i8, round_scaled};
use crate::kernels::SendPtr;

/// Frames per key block: one 512-bit register holds 16 frames x 4 dimensions.
const FRAMES: usize = 16;
/// Query rows of one head computed together.
const CHUNK: usize = 4;

/// Up to `CHUNK` query rows of one head, rounded to 8 bits: `values` holds `rows` rows of
/// `head_dim`, and row `r`'s scores are scaled by `factors[r]` (its rounding scale times the
/// attention scale).
struct RoundedQueries<'a> {
    rows: usize,
    values: &'a [i8],
    factors: &'a [f32; CHUNK],
}

/// One layer's cross-attention keys and values in 8 bits.
#[derive(Debug, Clone)]
pub struct Int8CrossLayer {
    heads: usize,
    head_dim: usize,
    frames: usize,
    /// `frames` rounded up to whole key blocks.
    padded: usize,
    /// Keys + 128 as bytes: head, block of 16 frames, group of 4 dimensions, frame, dimension.
    k: Vec<u8>,
    /// Per head and (padded) frame; 0 for padding.
    k_scale: Vec<f32>,
    /// Values: head, frame, dimension.
    v: Vec<i8>,
    /// Per head and frame.
    v_scale: Vec<f32>,
}

impl Int8CrossLayer {
    /// Rounds f32 keys (transposed: head, dimension, frame; each dimension `kt_row` apart) and
    /// values (head, frame, dimension) of `frames` frames to 8 bits.
    pub fn from_f32(
        kt: &[f32],
        kt_row: usize,
        v: &[f32],
        heads: usize,
        head_dim: usize,
        frames: usize,
    ) -> Self {
        assert!(
            head_dim.is_multiple_of(16),
            "head width {head_dim} is not a multiple of 16"
        );
        assert!(kt.len() >= heads * head_dim * kt_row && kt_row >= frames);
        assert!(v.len() >= heads * frames * head_dim);
        let padded = frames.div_ceil(FRAMES) * FRAMES;
        let mut k = vec![128u8; heads * padded * head_dim];
        let mut k_scale = vec![0f32; heads * padded];
        let mut vq = vec![0i8; heads * frames * head_dim];
        let mut v_scale = vec![0f32; heads * frames];
        let mut inv = vec![0f32; frames];
        for h in 0..heads {
            let kt_h = &kt[h * head_dim * kt_row..];
            // Per-frame scales from each key's largest component, read row by row (the keys
            // are stored transposed: one frame's key is `kt_row` floats apart per dimension).
            let scales = &mut k_scale[h * padded..h * padded + frames];
            scales.iter_mut().for_each(|x| *x = 0.0);
            for e in 0..head_dim {
                for (m, &x) in scales
                    .iter_mut()
                    .zip(&kt_h[e * kt_row..e * kt_row + frames])
                {
                    *m = m.max(x.abs());
                }
            }
            for (sc, i) in scales.iter_mut().zip(inv.iter_mut()) {
                (*sc, *i) = if *sc == 0.0 || !sc.is_finite() {
                    (0.0, 0.0)
                } else {
                    (*sc / 127.0, 127.0 / *sc)
                };
            }
            let k_h = &mut k[h * padded * head_dim..(h + 1) * padded * head_dim];
            for e in 0..head_dim {
                let (g, t) = (e / 4, e % 4);
                for (f, (&x, &i)) in kt_h[e * kt_row..e * kt_row + frames]
                    .iter()
                    .zip(&inv)
                    .enumerate()
                {
                    let at =
                        (f / FRAMES * FRAMES) * head_dim + g * FRAMES * 4 + (f % FRAMES) * 4 + t;
                    k_h[at] = (round_scaled(x, i) as u8) ^ 0x80;
                }
            }
            for f in 0..frames {
                let at = (h * frames + f) * head_dim;
                v_scale[h * frames + f] =
                    round_to_i8(&v[at..at + head_dim], &mut vq[at..at + head_dim]);
            }
        }
        Int8CrossLayer {
            heads,
            head_dim,
            frames,
            padded,
            k,
            k_scale,
            v: vq,
            v_scale,
        }
    }

    /// `out[i, head h] = softmax(scale * q[i, h] . K_h^T) V_h` for the `rows` rows of `q`
    /// (`[rows, heads * head_dim]`); `out` has `q`'s layout. Up to four rows of a head share
    /// each load of its keys and values (a prompt pass has hundreds of rows).
    pub fn attend(&self, q: &[f32], rows: usize, scale: f32, out: &mut [f32]) {
        let (hd, width) = (self.head_dim, self.heads * self.head_dim);
        assert!(q.len() >= rows * width && out.len() >= rows * width);
        let chunks = rows.div_ceil(CHUNK);
        let units = self.heads * chunks;
        let out_ptr = SendPtr(out.as_mut_ptr());
        let kernels = IntKernels::detect();
        let run = |range: std::ops::Range<usize>| {
            let out_ptr = &out_ptr;
            let mut scores = vec![0f32; CHUNK * self.padded];
            let mut o = vec![0f32; CHUNK * hd];
            let mut qq = vec![0i8; CHUNK * hd];
            let mut factors = [0f32; CHUNK];
            for unit in range {
                let (h, r0) = (unit / chunks, unit % chunks * CHUNK);
                let rn = CHUNK.min(rows - r0);
                for r in 0..rn {
                    let at = (r0 + r) * width + h * hd;
                    factors[r] =
                        scale * round_to_i8(&q[at..at + hd], &mut qq[r * hd..(r + 1) * hd]);
                }
                let queries = RoundedQueries {
                    rows: rn,
                    values: &qq,
                    factors: &factors,
                };
                self.head(kernels, h, &queries, &mut scores, &mut o);
                for r in 0..rn {
                    let at = (r0 + r) * width + h * hd;
                    // SAFETY: each (head, row) pair is written by one unit only, `hd`
                    // elements in bounds by the assert above.
                    unsafe {
                        std::ptr::copy_nonoverlapping(o[r * hd..].as_ptr(), out_ptr.0.add(at), hd)
                    };
                }
            }
        };
        if units == 1 {
            run(0..1);
        } else {
            candle_core::utils::barrier_pool().execute_chunked(units, run);
        }
    }

    /// Head `h` for `queries` into `o` (`queries.rows` rows of `head_dim`). `scores` holds
    /// `CHUNK` rows of `padded`.
    fn head(
        &self,
        kernels: IntKernels,
        h: usize,
        queries: &RoundedQueries<'_>,
        scores: &mut [f32],
        o: &mut [f32],
    ) {
        let (rn, qq, factors) = (queries.rows, queries.values, queries.factors);
        let (hd, padded, frames) = (self.head_dim, self.padded, self.frames);
        // The SIMD kernels where the CPU has them, the portable ones everywhere else. Every
        // kind computes the same integer dot products, so the same scores.
        #[cfg(target_arch = "x86_64")]
        let scored = match kernels {
            // SAFETY: `IntKernels::detect` saw the features; buffers are sized by `attend`.
            IntKernels::Vnni => unsafe {
                match rn {
                    1 => x86::scores::<1>(self, h, qq, factors, scores),
                    2 => x86::scores::<2>(self, h, qq, factors, scores),
                    3 => x86::scores::<3>(self, h, qq, factors, scores),
                    _ => x86::scores::<4>(self, h, qq, factors, scores),
                }
                true
            },
            // SAFETY: as above, with AVX2.
            IntKernels::Avx2 => unsafe {
                match rn {
                    1 => x86::scores_avx2::<1>(self, h, qq, factors, scores),
                    2 => x86::scores_avx2::<2>(self, h, qq, factors, scores),
                    3 => x86::scores_avx2::<3>(self, h, qq, factors, scores),
                    _ => x86::scores_avx2::<4>(self, h, qq, factors, scores),
                }
                true
            },
            IntKernels::Portable => false,
        };
        #[cfg(not(target_arch = "x86_64"))]
        let scored = {
            let _ = kernels;
            false
        };
        if !scored {
            for r in 0..rn {
                self.scores_portable(
                    h,
                    &qq[r * hd..(r + 1) * hd],
                    factors[r],
                    &mut scores[r * padded..],
                );
            }
        }
        for r in 0..rn {
            let row = &mut scores[r * padded..r * padded + frames];
            // The per-frame value scale folds into the probability.
            let v_scale = &self.v_scale[h * frames..(h + 1) * frames];
            #[cfg(target_arch = "x86_64")]
            match kernels {
                // SAFETY: AVX-512F is part of the VNNI features.
                IntKernels::Vnni => unsafe { x86::softmax_folded(row, v_scale) },
                // SAFETY: AVX2 and FMA were detected.
                IntKernels::Avx2 => unsafe { x86::softmax_folded_avx2(row, v_scale) },
                IntKernels::Portable => softmax_folded(row, v_scale),
            }
            #[cfg(not(target_arch = "x86_64"))]
            softmax_folded(row, v_scale);
        }
        #[cfg(target_arch = "x86_64")]
        match kernels {
            IntKernels::Vnni if hd == 64 => {
                // SAFETY: as above (AVX-512F is part of the VNNI features).
                unsafe {
                    match rn {
                        1 => x86::values::<1>(self, h, scores, o),
                        2 => x86::values::<2>(self, h, scores, o),
                        3 => x86::values::<3>(self, h, scores, o),
                        _ => x86::values::<4>(self, h, scores, o),
                    }
                }
                return;
            }
            IntKernels::Avx2 => {
                // SAFETY: AVX2 and FMA were detected.
                unsafe { x86::values_avx2(self, h, rn, scores, o) };
                return;
            }
            _ => {}
        }
        self.values_portable(h, rn, scores, o);
    }

    /// `o[r] = sum_f p[r][f] * v[f]` over head `h`'s values (widened as read), for `rn` rows of
    /// probabilities (`scores`, `padded` apart).
    #[inline(always)]
    fn values_portable(&self, h: usize, rn: usize, scores: &[f32], o: &mut [f32]) {
        let (hd, padded, frames) = (self.head_dim, self.padded, self.frames);
        o[..rn * hd].iter_mut().for_each(|x| *x = 0.0);
        for f in 0..frames {
            let v = &self.v[(h * frames + f) * hd..][..hd];
            for r in 0..rn {
                let w = scores[r * padded + f];
                for (x, &y) in o[r * hd..(r + 1) * hd].iter_mut().zip(v) {
                    *x += w * f32::from(y);
                }
            }
        }
    }

    fn scores_portable(&self, h: usize, qq: &[i8], factor: f32, scores: &mut [f32]) {
        let offset: i32 = 128 * qq.iter().map(|&v| i32::from(v)).sum::<i32>();
        let groups = self.head_dim / 4;
        for (f, s) in scores.iter_mut().enumerate().take(self.frames) {
            let block = (h * self.padded + f / FRAMES * FRAMES) * self.head_dim;
            let mut dot = 0i32;
            for g in 0..groups {
                for t in 0..4 {
                    let u = self.k[block + g * FRAMES * 4 + (f % FRAMES) * 4 + t];
                    dot += i32::from(u) * i32::from(qq[g * 4 + t]);
                }
            }
            *s = (dot - offset) as f32 * factor * self.k_scale[h * self.padded + f];
        }
    }
}

/// Softmax of `row`, each probability then multiplied by its frame's value scale.
#[inline(always)]
fn softmax_folded(row: &mut [f32], v_scale: &[f32]) {
    super::small_attention::softmax_in_place(row);
    for (p, &s) in row.iter_mut().zip(v_scale) {
        *p *= s;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{CHUNK, FRAMES, Int8CrossLayer};
    use std::arch::x86_64::*;

    /// Each of the `R` query rows (`hd` wide, `hd <= 128`) as groups of 4 bytes, one 32-bit
    /// lane each: the broadcast operand of the score kernels.
    fn query_groups<const R: usize>(qq: &[i8], hd: usize) -> [[i32; 32]; R] {
        let mut qb = [[0i32; 32]; R];
        for (r, row) in qb.iter_mut().enumerate() {
            let q = &qq[r * hd..(r + 1) * hd];
            for (b, g) in row.iter_mut().zip(q.chunks_exact(4)) {
                *b = i32::from_le_bytes([g[0] as u8, g[1] as u8, g[2] as u8, g[3] as u8]);
            }
        }
        qb
    }

    /// [`super::softmax_folded`] compiled for AVX-512 (the exponential vectorises).
    #[target_feature(enable = "avx512f")]
    pub(super) fn softmax_folded(row: &mut [f32], v_scale: &[f32]) {
        super::softmax_folded(row, v_scale)
    }

    /// [`super::softmax_folded`] compiled for AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn softmax_folded_avx2(row: &mut [f32], v_scale: &[f32]) {
        super::softmax_folded(row, v_scale)
    }

    /// [`Int8CrossLayer::values_portable`] compiled for AVX2 and FMA (the loop over a value
    /// row vectorises).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn values_avx2(
        l: &Int8CrossLayer,
        h: usize,
        rn: usize,
        scores: &[f32],
        o: &mut [f32],
    ) {
        l.values_portable(h, rn, scores, o)
    }

    /// [`scores`] with AVX2: a 32-byte load holds 8 frames x 4 dimensions. The keys less their
    /// offset are signed values `k` (|k| <= 127, as the query's), and `vpmaddubsw(|q|,
    /// sign(k, q))` adds two products in 16 bits without saturating; `vpmaddwd` by ones
    /// widens the pairs. The sums are the dot products less the offset already, the same
    /// integers as the other kernels'.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn scores_avx2<const R: usize>(
        l: &Int8CrossLayer,
        h: usize,
        qq: &[i8],
        factors: &[f32; CHUNK],
        scores: &mut [f32],
    ) {
        let hd = l.head_dim;
        let groups = hd / 4;
        let qb = query_groups::<R>(qq, hd);
        let factor: [__m256; R] = std::array::from_fn(|r| _mm256_set1_ps(factors[r]));
        let (offset, ones) = (_mm256_set1_epi8(-128), _mm256_set1_epi16(1));
        // SAFETY: key blocks are `groups * 64` bytes each, `padded / 16` of them per head;
        // `scores` holds `R` rows of `padded` floats.
        unsafe {
            let k = l.k.as_ptr().add(h * l.padded * hd);
            let ks = l.k_scale.as_ptr().add(h * l.padded);
            for b in 0..l.padded / FRAMES {
                let blk = k.add(b * FRAMES * hd);
                let mut acc = [[_mm256_setzero_si256(); 2]; R];
                for g in 0..groups {
                    let kv = [
                        _mm256_xor_si256(_mm256_loadu_si256(blk.add(g * 64).cast()), offset),
                        _mm256_xor_si256(_mm256_loadu_si256(blk.add(g * 64 + 32).cast()), offset),
                    ];
                    for r in 0..R {
                        let q = _mm256_set1_epi32(qb[r][g]);
                        let magnitude = _mm256_abs_epi8(q);
                        for (a, &kh) in acc[r].iter_mut().zip(&kv) {
                            let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(kh, q));
                            *a = _mm256_add_epi32(*a, _mm256_madd_epi16(pairs, ones));
                        }
                    }
                }
                for half in 0..2 {
                    let scale = _mm256_loadu_ps(ks.add(b * FRAMES + 8 * half));
                    for r in 0..R {
                        let s = _mm256_cvtepi32_ps(acc[r][half]);
                        let s = _mm256_mul_ps(_mm256_mul_ps(s, factor[r]), scale);
                        let at = scores
                            .as_mut_ptr()
                            .add(r * l.padded + b * FRAMES + 8 * half);
                        _mm256_storeu_ps(at, s);
                    }
                }
            }
        }
    }

    /// Scores of `R` queries against every key block of head `h`: each loaded block of keys
    /// serves all `R`.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn scores<const R: usize>(
        l: &Int8CrossLayer,
        h: usize,
        qq: &[i8],
        factors: &[f32; CHUNK],
        scores: &mut [f32],
    ) {
        let hd = l.head_dim;
        let groups = hd / 4;
        let qb = query_groups::<R>(qq, hd);
        let mut offset = [_mm512_setzero_si512(); R];
        let mut factor = [_mm512_setzero_ps(); R];
        for r in 0..R {
            let q = &qq[r * hd..(r + 1) * hd];
            offset[r] = _mm512_set1_epi32(128 * q.iter().map(|&v| i32::from(v)).sum::<i32>());
            factor[r] = _mm512_set1_ps(factors[r]);
        }
        // SAFETY: key blocks are `groups * 64` bytes each, `padded / 16` of them per head;
        // `scores` holds `R` rows of `padded` floats.
        unsafe {
            let k = l.k.as_ptr().add(h * l.padded * hd);
            let ks = l.k_scale.as_ptr().add(h * l.padded);
            for b in 0..l.padded / FRAMES {
                let blk = k.add(b * FRAMES * hd);
                let mut acc = [_mm512_setzero_si512(); R];
                for g in 0..groups {
                    let kv = _mm512_loadu_si512(blk.add(g * 64).cast());
                    for r in 0..R {
                        acc[r] = _mm512_dpbusd_epi32(acc[r], kv, _mm512_set1_epi32(qb[r][g]));
                    }
                }
                let scale = _mm512_loadu_ps(ks.add(b * FRAMES));
                for r in 0..R {
                    let s = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r], offset[r]));
                    let s = _mm512_mul_ps(_mm512_mul_ps(s, factor[r]), scale);
                    _mm512_storeu_ps(scores.as_mut_ptr().add(r * l.padded + b * FRAMES), s);
                }
            }
        }
    }

    /// `o[r] = sum_f w[r][f] * v[f]` for `R` rows of weights (`scores`, `padded` apart) over
    /// head `h`'s 64-wide values: each value row is widened to f32 once for all `R`.
    #[allow(clippy::needless_range_loop)]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    pub(super) unsafe fn values<const R: usize>(
        l: &Int8CrossLayer,
        h: usize,
        scores: &[f32],
        o: &mut [f32],
    ) {
        const HD: usize = 64;
        let mut acc = [[_mm512_setzero_ps(); 4]; R];
        // SAFETY: head `h` has `frames` rows of 64 bytes; `scores` R rows of `padded`; `o`
        // R rows of 64.
        unsafe {
            let v = l.v.as_ptr().add(h * l.frames * HD);
            for f in 0..l.frames {
                let row = v.add(f * HD);
                let x = [
                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(row.cast()))),
                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(row.add(16).cast()))),
                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(row.add(32).cast()))),
                    _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(row.add(48).cast()))),
                ];
                for r in 0..R {
                    let w = _mm512_set1_ps(*scores.get_unchecked(r * l.padded + f));
                    for c in 0..4 {
                        acc[r][c] = _mm512_fmadd_ps(w, x[c], acc[r][c]);
                    }
                }
            }
            for r in 0..R {
                for c in 0..4 {
                    _mm512_storeu_ps(o.as_mut_ptr().add(r * HD + 16 * c), acc[r][c]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::test_data::uniform as data;

    /// f64 attention over the f32 keys and values.
    fn reference(
        q: &[f32],
        kt: &[f32],
        v: &[f32],
        h: usize,
        hd: usize,
        frames: usize,
        scale: f32,
    ) -> Vec<f64> {
        let s: Vec<f64> = (0..frames)
            .map(|f| {
                (0..hd)
                    .map(|e| f64::from(q[h * hd + e]) * f64::from(kt[(h * hd + e) * frames + f]))
                    .sum::<f64>()
                    * f64::from(scale)
            })
            .collect();
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let e: Vec<f64> = s.iter().map(|x| (x - max).exp()).collect();
        let sum: f64 = e.iter().sum();
        (0..hd)
            .map(|d| {
                (0..frames)
                    .map(|f| e[f] / sum * f64::from(v[(h * frames + f) * hd + d]))
                    .sum()
            })
            .collect()
    }

    #[test]
    fn close_to_f32_attention_and_kernels_agree() {
        let (heads, hd, frames, rows) = (3, 64, 50, 2);
        let kt = data(heads * hd * frames, 1);
        let v = data(heads * frames * hd, 2);
        let q: Vec<f32> = data(rows * heads * hd, 3).iter().map(|x| 4.0 * x).collect();
        let layer = Int8CrossLayer::from_f32(&kt, frames, &v, heads, hd, frames);
        let mut out = vec![0f32; rows * heads * hd];
        layer.attend(&q, rows, 0.125, &mut out);
        for i in 0..rows {
            for h in 0..heads {
                let r = reference(&q[i * heads * hd..], &kt, &v, h, hd, frames, 0.125);
                for d in 0..hd {
                    let got = f64::from(out[i * heads * hd + h * hd + d]);
                    assert!(
                        (got - r[d]).abs() < 0.02,
                        "row {i} head {h} dim {d}: {got} vs {}",
                        r[d]
                    );
                }
            }
        }
        // The portable path computes the same scores and nearly the same output, for one row
        // and for several.
        let rn = 3;
        let mut qq = vec![0i8; CHUNK * hd];
        let mut factors = [0f32; CHUNK];
        for r in 0..rn {
            factors[r] =
                0.125 * round_to_i8(&q[r * hd..(r + 1) * hd], &mut qq[r * hd..(r + 1) * hd]);
        }
        let kinds = crate::kernels::int8_matmul::tests::available_kinds();
        for (n, kind) in [1, rn]
            .into_iter()
            .flat_map(|n| kinds.iter().map(move |&k| (n, k)))
        {
            let (mut s1, mut o1) = (vec![0f32; CHUNK * layer.padded], vec![0f32; CHUNK * hd]);
            let (mut s2, mut o2) = (vec![0f32; CHUNK * layer.padded], vec![0f32; CHUNK * hd]);
            let queries = RoundedQueries {
                rows: n,
                values: &qq,
                factors: &factors,
            };
            layer.head(IntKernels::Portable, 1, &queries, &mut s1, &mut o1);
            layer.head(kind, 1, &queries, &mut s2, &mut o2);
            for r in 0..n {
                let at = r * layer.padded;
                assert_eq!(&s1[at..at + frames], &s2[at..at + frames]);
            }
            for (a, b) in o1[..n * hd].iter().zip(&o2[..n * hd]) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }
}
