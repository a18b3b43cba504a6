//! CPU compute, by operation. Each file is one operation (what it computes, and why it is
//! written by hand rather than left to candle); inside it, one body per instruction set, chosen
//! at run time through [`isa`], the one place that asks the CPU what it has.
//!
//! The f32 kernels share one rule: every output row is computed on its own, with the same
//! per-element arithmetic whatever the number of rows, so a decoder pass over K tokens gives bit
//! for bit the rows of K one-token passes (the exactness of speculative decoding rests on it).
//!
//! - [`small_matmul`]: `x · wᵀ` for the decoder's few rows (projections, MLP, vocabulary);
//! - [`packed_weight`]: a weight stored in the order that kernel reads it (one stream);
//! - [`small_attention`]: attention over a short query block against a cached key/value run;
//! - [`bf16_attention`]: the encoder's self-attention in bf16 products (`--quantize`);
//! - [`int8_matmul`], [`int4_matmul`]: 8-bit and 4-bit weight products over 8-bit inputs (the
//!   fused draft, the 8-bit encoder);
//! - [`q8_0_matmul`]: GGML `Q8_0` weight products over 8-bit inputs (`--quantize q8_0`, the
//!   `self-q8` draft), one copy of the blocks in the kernel's layout;
//! - [`int8_cross_attention`]: the fused draft's cross-attention over 8-bit keys and values;
//! - [`gelu`], [`math`]: vectorisable exp, erf and GELU;
//! - [`weight_element`]: weights kept in the half precision they are published in, widened
//!   to f32 exactly where they are read.

pub mod bf16_attention;
mod cpu_buffers;
pub mod gelu;
pub mod int4_matmul;
pub mod int8_cross_attention;
pub mod int8_matmul;
pub mod isa;
pub mod math;
pub mod packed_weight;
pub mod q8_0_matmul;
pub mod small_attention;
pub mod small_matmul;
#[cfg(test)]
pub(crate) mod test_data;
pub mod weight_element;

pub(crate) use cpu_buffers::{SendPtr, release_freed_heap, with_cpu_slice, with_f32_slice};
pub use isa::CpuFeatures;
pub(crate) use isa::Isa;
pub use weight_element::WeightElement;
