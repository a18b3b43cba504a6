//! How the kernels reach candle's CPU memory, share output buffers between pool threads, and
//! hand the heap a load frees back to the system.

/// An output buffer shared by a pool's threads, each of which writes elements no other thread
/// writes (f32 outputs, or the bytes of rounded inputs).
pub(crate) struct SendPtr<T = f32>(pub(crate) *mut T);
// SAFETY: users hand each thread disjoint elements of one slice that outlives the parallel
// region (see `small_matmul::matmul_nt`, `small_attention::attend`, `Int8Rows::set`).
unsafe impl<T> Sync for SendPtr<T> {}
unsafe impl<T> Send for SendPtr<T> {}

/// Runs `f` on the f32 data of a contiguous CPU tensor, without copying it.
pub(crate) fn with_f32_slice<R>(
    t: &candle_core::Tensor,
    f: impl FnOnce(&[f32]) -> R,
) -> candle_core::Result<R> {
    with_cpu_slice::<f32, R>(t, f)
}

/// Runs `f` on the data of a contiguous CPU tensor of element type `T`, without copying it.
pub(crate) fn with_cpu_slice<T: candle_core::WithDType, R>(
    t: &candle_core::Tensor,
    f: impl FnOnce(&[T]) -> R,
) -> candle_core::Result<R> {
    if !t.is_contiguous() || t.dtype() != T::DTYPE {
        candle_core::bail!("a CPU kernel needs a contiguous {:?} tensor", T::DTYPE);
    }
    let (storage, layout) = t.storage_and_layout();
    let candle_core::Storage::Cpu(cpu) = &*storage else {
        candle_core::bail!("a CPU kernel got a tensor on {:?}", t.device());
    };
    let data = cpu.as_slice::<T>()?;
    Ok(f(
        &data[layout.start_offset()..layout.start_offset() + t.elem_count()]
    ))
}

/// Hands the heap memory freed during a load back to the system. A load that converts its
/// weights (packing them for the tiles, or widening a layer to f32 to quantize it) frees the
/// originals, and glibc keeps freed blocks of that size for later allocations, where they would
/// count as resident for the whole run.
pub(crate) fn release_freed_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; it touches no live
    // allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}
