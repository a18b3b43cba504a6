//! GELU (`0.5 x (1 + erf(x / sqrt 2))`) for the MLPs and the encoder's convolutions.
//!
//! candle's `gelu_erf` calls libm's `erff` per element, about 10 % of a whole transcription on
//! this CPU; on the CPU this uses the vectorised [`crate::kernels::math::gelu`] instead.

use candle_core::{DType, Device, Result, Tensor};

/// GELU of every element of `x`.
pub fn gelu(x: &Tensor) -> Result<Tensor> {
    if !x.device().is_cpu() || x.dtype() != DType::F32 {
        return x.gelu_erf();
    }
    let mut values = x.flatten_all()?.to_vec1::<f32>()?;
    crate::kernels::math::gelu_in_place(&mut values);
    Tensor::from_vec(values, x.shape(), &Device::Cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_candle_gelu_erf() {
        let x = Tensor::arange(-400f32, 400.0, &Device::Cpu)
            .unwrap()
            .affine(0.013, 0.0)
            .unwrap()
            .reshape((2, 20, 20))
            .unwrap();
        let diff = (gelu(&x).unwrap() - x.gelu_erf().unwrap())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "max difference {diff}");
    }
}
