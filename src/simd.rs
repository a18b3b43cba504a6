//! What the hand-vectorised CPU kernels share: which vector instructions this CPU has, and the
//! raw output pointer their worker threads write through.

/// The instruction set a kernel runs with, detected at run time. Each kernel compiles its body
/// once per variant (`#[target_feature]`), so the binary runs anywhere and uses what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Isa {
    /// AVX-512F with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx512,
    /// AVX2 with FMA.
    #[cfg(target_arch = "x86_64")]
    Avx2,
    /// Plain Rust, whatever the compiler targets.
    Portable,
}

impl Isa {
    /// The widest variant this CPU runs (the detection is cached by the standard library).
    pub(crate) fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let fma = is_x86_feature_detected!("fma");
            if fma && is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if fma && is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Portable
    }
}

/// An output buffer shared by a pool's threads, each of which writes elements no other thread
/// writes.
pub(crate) struct SendPtr(pub(crate) *mut f32);
// SAFETY: users hand each thread disjoint elements of one slice that outlives the parallel
// region (see `small_matmul::matmul_nt` and `small_attention::attend`).
unsafe impl Sync for SendPtr {}
unsafe impl Send for SendPtr {}
