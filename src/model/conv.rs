//! The encoder's two input convolutions (kernel 3, padding 1, stride 1 or 2) as one matrix
//! product each.
//!
//! candle computes a 1-D convolution as im2col plus a GEMM on one thread; for base that was about
//! a quarter of the whole encoder. Here the im2col copy is laid out time-major with the three
//! taps outermost (`col[t, j * C + c] = x[t * stride + j - 1, c]`), so each tap is one
//! contiguous copy of a frame, and the product goes through
//! [`small_matmul`] on every core. The output is time-major
//! (`[frames, out]`), which is what the transformer blocks take, so the transpose candle's layout
//! needed is gone too.

use candle_core::{Device, Module, Result, Storage, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, VarBuilder};

use crate::kernels::small_matmul;

/// A kernel-3, padding-1 convolution over time.
#[derive(Debug, Clone)]
pub struct Conv3 {
    /// candle's layer (weights `[out, in, 3]`), for devices other than the CPU.
    conv: Conv1d,
    /// `[out, 3 * in]`, tap-major: `w[o, j * in + c] = weight[o, c, j]`.
    taps: Tensor,
    bias: Tensor,
    stride: usize,
    in_dim: usize,
}

impl Conv3 {
    /// Loads `weight` `[out, in, 3]` and `bias` `[out]` under `vb`.
    pub fn load(in_dim: usize, out_dim: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let cfg = Conv1dConfig {
            padding: 1,
            stride,
            ..Default::default()
        };
        let conv = candle_nn::conv1d(in_dim, out_dim, 3, cfg, vb)?;
        let taps = conv
            .weight()
            .permute((0, 2, 1))?
            .reshape((out_dim, 3 * in_dim))?
            .contiguous()?;
        let bias = conv
            .bias()
            .cloned()
            .ok_or_else(|| candle_core::Error::Msg("convolution without a bias".into()))?;
        Ok(Conv3 {
            conv,
            taps,
            bias,
            stride,
            in_dim,
        })
    }

    /// Output frames for `frames` input frames.
    pub fn out_frames(&self, frames: usize) -> usize {
        (frames + 2 - 3) / self.stride + 1
    }

    /// Convolves `x` given time-major, `[1, frames, in]`; returns `[1, out_frames, out]`.
    pub fn forward_time_major(&self, x: &Tensor) -> Result<Tensor> {
        let (_, frames, c) = x.dims3()?;
        if c != self.in_dim {
            candle_core::bail!("convolution expects {} channels, got {c}", self.in_dim);
        }
        if !x.device().is_cpu() {
            let y = self.conv.forward(&x.transpose(1, 2)?.contiguous()?)?;
            return y.transpose(1, 2)?.contiguous();
        }
        let x = x.contiguous()?;
        let t_out = self.out_frames(frames);
        let mut col = vec![0f32; t_out * 3 * c];
        {
            let (xs, xl) = x.storage_and_layout();
            let Storage::Cpu(xs) = &*xs else {
                candle_core::bail!("CPU tensor without CPU storage");
            };
            let xd = &xs.as_slice::<f32>()?[xl.start_offset()..][..frames * c];
            for (t, row) in col.chunks_exact_mut(3 * c).enumerate() {
                for (j, dst) in row.chunks_exact_mut(c).enumerate() {
                    // Input frame t * stride + j - 1; outside the input it is the zero padding.
                    let src = (t * self.stride + j).checked_sub(1).filter(|&s| s < frames);
                    if let Some(s) = src {
                        dst.copy_from_slice(&xd[s * c..(s + 1) * c]);
                    }
                }
            }
        }
        let col = Tensor::from_vec(col, (1, t_out, 3 * c), &Device::Cpu)?;
        match small_matmul::try_forward(&col, &self.taps, Some(&self.bias))? {
            Some(y) => Ok(y),
            None => col
                .broadcast_matmul(&self.taps.t()?)?
                .broadcast_add(&self.bias),
        }
    }

    /// Output channels.
    pub fn out_dim(&self) -> usize {
        self.taps.dim(0).expect("taps are [out, 3 * in]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;
    use std::collections::HashMap;

    /// Same numbers as candle's own convolution (channel-major in, transposed out).
    #[test]
    fn matches_candle_conv1d() {
        let dev = Device::Cpu;
        for (c, o, frames, stride) in [(5, 7, 11, 1), (6, 4, 12, 2), (3, 8, 9, 2)] {
            let n = o * c * 3;
            let w: Vec<f32> = (0..n)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 50.0)
                .collect();
            let b: Vec<f32> = (0..o).map(|i| i as f32 * 0.1 - 0.3).collect();
            let mut map = HashMap::new();
            map.insert(
                "weight".to_string(),
                Tensor::from_vec(w, (o, c, 3), &dev).unwrap(),
            );
            map.insert("bias".to_string(), Tensor::from_vec(b, o, &dev).unwrap());
            let vb = VarBuilder::from_tensors(map, DType::F32, &dev);
            let conv = Conv3::load(c, o, stride, vb).unwrap();
            let x: Vec<f32> = (0..c * frames)
                .map(|i| ((i * 13 % 29) as f32) / 29.0)
                .collect();
            let x = Tensor::from_vec(x, (1, c, frames), &dev).unwrap();
            let want = conv.conv.forward(&x).unwrap().transpose(1, 2).unwrap();
            let got = conv
                .forward_time_major(&x.transpose(1, 2).unwrap().contiguous().unwrap())
                .unwrap();
            assert_eq!(got.dims(), want.dims());
            assert_eq!(got.dim(1).unwrap(), conv.out_frames(frames));
            let diff = (got - want).unwrap().abs().unwrap().max_all().unwrap();
            assert!(
                diff.to_scalar::<f32>().unwrap() < 1e-5,
                "{c} {o} {frames} {stride}"
            );
        }
    }
}
