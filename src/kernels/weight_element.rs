//! The element types a weight matrix is kept in: f32, or the half-precision type it was
//! published in (f16, bf16).
//!
//! Whisper checkpoints are published in half precision, and a decoder step is bound by the
//! bytes it reads, so the weights stay as published and are widened to f32 in registers, just
//! before the multiply-add. Widening a half-precision number to f32 is exact, so a kernel that
//! widens and then runs today's f32 arithmetic in today's order gives bit for bit the results
//! of the f32 copy of the same weights, with half the bytes read.

/// A weight element the f32 kernels can read: exact widening to f32, one vector at a time.
pub trait WeightElement: Copy + Send + Sync + 'static {
    /// The value as f32 (exact).
    fn to_f32(self) -> f32;

    /// Sixteen elements at `p`, widened (AVX-512F).
    ///
    /// # Safety
    /// 16 elements must be readable at `p`, and the CPU must have AVX-512F.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load16(p: *const Self) -> std::arch::x86_64::__m512;

    /// Eight elements at `p`, widened (AVX2 with F16C).
    ///
    /// # Safety
    /// 8 elements must be readable at `p`, and the CPU must have AVX2 and F16C.
    #[cfg(target_arch = "x86_64")]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256;

    /// Four elements at `p`, widened (AArch64 Advanced SIMD).
    ///
    /// # Safety
    /// 4 elements must be readable at `p`.
    #[cfg(target_arch = "aarch64")]
    unsafe fn load4(p: *const Self) -> std::arch::aarch64::float32x4_t;
}

impl WeightElement for f32 {
    fn to_f32(self) -> f32 {
        self
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load16(p: *const Self) -> std::arch::x86_64::__m512 {
        // SAFETY: the caller guarantees 16 readable floats and AVX-512F.
        unsafe { std::arch::x86_64::_mm512_loadu_ps(p) }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256 {
        // SAFETY: the caller guarantees 8 readable floats and AVX.
        unsafe { std::arch::x86_64::_mm256_loadu_ps(p) }
    }

    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    unsafe fn load4(p: *const Self) -> std::arch::aarch64::float32x4_t {
        // SAFETY: the caller guarantees 4 readable floats.
        unsafe { std::arch::aarch64::vld1q_f32(p) }
    }
}

impl WeightElement for half::f16 {
    fn to_f32(self) -> f32 {
        half::f16::to_f32(self)
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load16(p: *const Self) -> std::arch::x86_64::__m512 {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 16 readable halves and AVX-512F (`vcvtph2ps`).
        unsafe { _mm512_cvtph_ps(_mm256_loadu_si256(p.cast())) }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 8 readable halves and F16C.
        unsafe { _mm256_cvtph_ps(_mm_loadu_si128(p.cast())) }
    }

    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    unsafe fn load4(p: *const Self) -> std::arch::aarch64::float32x4_t {
        use std::arch::aarch64::*;
        // SAFETY: the caller guarantees 4 readable halves. `fcvtl` (half to single, part of
        // every AArch64 CPU's Advanced SIMD) widens them; Rust's f16 vector types are not
        // stable yet, so the instruction is written out.
        unsafe {
            let bits = vld1_u16(p.cast());
            let wide: float32x4_t;
            std::arch::asm!(
                "fcvtl {wide:v}.4s, {bits:v}.4h",
                wide = lateout(vreg) wide,
                bits = in(vreg) bits,
                options(pure, nomem, nostack, preserves_flags),
            );
            wide
        }
    }
}

impl WeightElement for half::bf16 {
    fn to_f32(self) -> f32 {
        half::bf16::to_f32(self)
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load16(p: *const Self) -> std::arch::x86_64::__m512 {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 16 readable bf16 values and AVX-512F. A bf16 is the
        // high half of the f32 with the same value.
        unsafe {
            let wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(p.cast()));
            _mm512_castsi512_ps(_mm512_slli_epi32::<16>(wide))
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn load8(p: *const Self) -> std::arch::x86_64::__m256 {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees 8 readable bf16 values and AVX2.
        unsafe {
            let wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(p.cast()));
            _mm256_castsi256_ps(_mm256_slli_epi32::<16>(wide))
        }
    }

    #[cfg(target_arch = "aarch64")]
    #[inline(always)]
    unsafe fn load4(p: *const Self) -> std::arch::aarch64::float32x4_t {
        use std::arch::aarch64::*;
        // SAFETY: the caller guarantees 4 readable bf16 values; each shifted into the high
        // half of a 32-bit lane is the f32 of the same value.
        unsafe { vreinterpretq_f32_u32(vshll_n_u16::<16>(vld1_u16(p.cast()))) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every f16 and bf16 bit pattern widens to the value `half` gives through the SIMD loads
    /// the kernels use: the same bits for every number and infinity; a NaN stays a NaN
    /// (`vcvtph2ps` quiets signalling NaNs, which no trained weight holds).
    #[test]
    fn widening_is_exact_for_every_half_value() {
        let f16s: Vec<half::f16> = (0..=u16::MAX).map(half::f16::from_bits).collect();
        let bf16s: Vec<half::bf16> = (0..=u16::MAX).map(half::bf16::from_bits).collect();
        #[cfg(target_arch = "x86_64")]
        {
            use crate::kernels::{CpuFeatures, Isa};
            use std::arch::x86_64::*;
            let cpu = CpuFeatures::get();
            let same = |got: f32, want: f32| {
                assert!(
                    got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()),
                    "{got} ({:#x}) vs {want} ({:#x})",
                    got.to_bits(),
                    want.to_bits()
                );
            };
            for (h, b) in f16s.chunks_exact(16).zip(bf16s.chunks_exact(16)) {
                if Isa::detect() == Isa::Avx512 {
                    let (mut a, mut c) = ([0f32; 16], [0f32; 16]);
                    // SAFETY: AVX-512F detected; 16 elements in each chunk.
                    unsafe {
                        _mm512_storeu_ps(a.as_mut_ptr(), half::f16::load16(h.as_ptr()));
                        _mm512_storeu_ps(c.as_mut_ptr(), half::bf16::load16(b.as_ptr()));
                    }
                    for i in 0..16 {
                        same(a[i], h[i].to_f32());
                        same(c[i], b[i].to_f32());
                    }
                }
                if cpu.avx2 {
                    let (mut a, mut c) = ([0f32; 8], [0f32; 8]);
                    // SAFETY: AVX2 and F16C detected; 8 elements read from each chunk.
                    unsafe {
                        _mm256_storeu_ps(a.as_mut_ptr(), half::f16::load8(h.as_ptr()));
                        _mm256_storeu_ps(c.as_mut_ptr(), half::bf16::load8(b.as_ptr()));
                    }
                    for i in 0..8 {
                        same(a[i], h[i].to_f32());
                        same(c[i], b[i].to_f32());
                    }
                }
            }
        }
        #[cfg(target_arch = "aarch64")]
        {
            use std::arch::aarch64::*;
            for (h, b) in f16s.chunks_exact(4).zip(bf16s.chunks_exact(4)) {
                let (mut a, mut c) = ([0f32; 4], [0f32; 4]);
                // SAFETY: 4 elements in each chunk.
                unsafe {
                    vst1q_f32(a.as_mut_ptr(), half::f16::load4(h.as_ptr()));
                    vst1q_f32(c.as_mut_ptr(), half::bf16::load4(b.as_ptr()));
                }
                for i in 0..4 {
                    let (want_a, want_c) = (h[i].to_f32(), b[i].to_f32());
                    assert!(
                        a[i].to_bits() == want_a.to_bits() || (a[i].is_nan() && want_a.is_nan()),
                        "f16 {:#x}: {} vs {want_a}",
                        h[i].to_bits(),
                        a[i]
                    );
                    assert!(
                        c[i].to_bits() == want_c.to_bits() || (c[i].is_nan() && want_c.is_nan()),
                        "bf16 {:#x}: {} vs {want_c}",
                        b[i].to_bits(),
                        c[i]
                    );
                }
            }
        }
    }
}
