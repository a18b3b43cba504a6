//! Log-mel spectrogram, computed exactly as openai/whisper's `log_mel_spectrogram`.
//!
//! Whisper was trained on these features, so "close enough" is not enough: candle-transformers'
//! version shifts the frames by 1.25 hops and doubles the power of most bins, and the model
//! hears the difference. The recipe, step by step:
//!
//! 1. optional zero padding at the end (transcribe appends 30 s);
//! 2. `torch.stft(n_fft=400, hop=160, window=hann(400, periodic), center=True,
//!    pad_mode="reflect")`: 200 samples of reflection on each side, frame `t` starts at `160 t`;
//! 3. power `|X|^2`, dropping the last frame, so there are `len / 160` frames (floored);
//! 4. Slaney mel filter bank (`librosa.filters.mel(sr=16000, n_fft=400, htk=False,
//!    norm="slaney")`, computed in f64 and rounded to f32 as openai ships it);
//! 5. `log10(max(x, 1e-10))`, floored at `global max - 8`, then `(x + 4) / 4`.
//!
//! The FFT runs in f64 (torch uses f32; the difference is far below 1e-4 after the log).
//! One [`MelSpectrogram`] plans its FFT once and reuses its buffers, since it runs on every
//! 30 s window.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::SAMPLE_RATE;

/// FFT size (25 ms at 16 kHz).
pub const N_FFT: usize = 400;
/// Hop between frames (10 ms at 16 kHz).
pub const HOP_LENGTH: usize = 160;
/// Frequency bins of one frame (`N_FFT / 2 + 1`).
pub const N_FREQS: usize = N_FFT / 2 + 1;
/// Centre padding on each side (`N_FFT / 2`).
const PAD: usize = N_FFT / 2;

/// A log-mel spectrogram: `n_mels` rows of `n_frames` values, row-major
/// (`data[mel * n_frames + frame]`), the layout of openai's `[n_mels, frames]` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMel {
    /// Values, row-major `[n_mels, n_frames]`.
    pub data: Vec<f32>,
    /// Mel bins (rows).
    pub n_mels: usize,
    /// Frames (columns), 100 per second.
    pub n_frames: usize,
}

impl LogMel {
    /// `[n_mels, n_frames]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.n_mels, self.n_frames]
    }

    /// One mel bin's values over time.
    pub fn row(&self, mel: usize) -> &[f32] {
        &self.data[mel * self.n_frames..(mel + 1) * self.n_frames]
    }
}

/// The Slaney-style mel filter bank openai/whisper uses (librosa's default), `[n_mels, 201]`.
///
/// Stored sparsely: each triangular filter is non-zero on a short run of FFT bins.
#[derive(Debug, Clone)]
pub struct MelFilters {
    n_mels: usize,
    /// Per filter: first non-zero bin and the weights from there.
    rows: Vec<(usize, Vec<f32>)>,
}

impl MelFilters {
    /// Builds the filter bank for `n_mels` bins at 16 kHz with `n_fft` 400, as
    /// `librosa.filters.mel(sr=16000, n_fft=400, n_mels=n_mels)` does (fmin 0, fmax 8 kHz,
    /// Slaney mel scale, Slaney area normalisation), rounding to f32 where librosa stores f32.
    pub fn new(n_mels: usize) -> Self {
        let sr = f64::from(SAMPLE_RATE);
        let fft_freqs: Vec<f64> = (0..N_FREQS).map(|k| k as f64 * sr / N_FFT as f64).collect();
        // n_mels + 2 points evenly spaced on the mel scale (numpy.linspace semantics).
        let (min_mel, max_mel) = (hz_to_mel(0.0), hz_to_mel(sr / 2.0));
        let n_points = n_mels + 2;
        let step = (max_mel - min_mel) / (n_points - 1) as f64;
        let mel_f: Vec<f64> = (0..n_points)
            .map(|i| {
                if i == n_points - 1 {
                    mel_to_hz(max_mel)
                } else {
                    mel_to_hz(i as f64 * step + min_mel)
                }
            })
            .collect();
        let rows = (0..n_mels)
            .map(|i| {
                let lower_span = mel_f[i + 1] - mel_f[i];
                let upper_span = mel_f[i + 2] - mel_f[i + 1];
                let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
                let weights: Vec<f32> = fft_freqs
                    .iter()
                    .map(|&f| {
                        let lower = -(mel_f[i] - f) / lower_span;
                        let upper = (mel_f[i + 2] - f) / upper_span;
                        // librosa fills a float32 array, then scales it in place.
                        let w = lower.min(upper).max(0.0) as f32;
                        (f64::from(w) * enorm) as f32
                    })
                    .collect();
                let first = weights.iter().position(|&w| w != 0.0).unwrap_or(0);
                let last = weights
                    .iter()
                    .rposition(|&w| w != 0.0)
                    .map_or(first, |p| p + 1);
                (first, weights[first..last].to_vec())
            })
            .collect();
        MelFilters { n_mels, rows }
    }

    /// Number of mel bins.
    pub fn n_mels(&self) -> usize {
        self.n_mels
    }

    /// The dense `[n_mels, 201]` matrix, row-major (for tests and for export).
    pub fn to_dense(&self) -> Vec<f32> {
        let mut dense = vec![0.0; self.n_mels * N_FREQS];
        for (m, (first, w)) in self.rows.iter().enumerate() {
            dense[m * N_FREQS + first..m * N_FREQS + first + w.len()].copy_from_slice(w);
        }
        dense
    }
}

/// Hz to mel, Slaney scale: linear below 1 kHz, logarithmic above (librosa, htk=False).
fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

/// Mel to Hz, inverse of [`hz_to_mel`].
fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let logstep = 6.4f64.ln() / 27.0;
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * (logstep * (mel - MIN_LOG_MEL)).exp()
    } else {
        F_SP * mel
    }
}

/// Reusable log-mel front end: the FFT plan, window, filters and scratch buffers live here.
pub struct MelSpectrogram {
    filters: MelFilters,
    fft: Arc<dyn RealToComplex<f64>>,
    window: Vec<f64>,
    frame: Vec<f64>,
    spectrum: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    power: Vec<f64>,
}

impl std::fmt::Debug for MelSpectrogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MelSpectrogram")
            .field("n_mels", &self.filters.n_mels)
            .finish_non_exhaustive()
    }
}

impl MelSpectrogram {
    /// A front end producing `n_mels` bins (80 for most Whisper models, 128 for large-v3).
    ///
    /// # Panics
    /// If `n_mels` is 0.
    pub fn new(n_mels: usize) -> Self {
        assert!(n_mels > 0, "n_mels must be at least 1");
        let fft = RealFftPlanner::<f64>::new().plan_fft_forward(N_FFT);
        // Periodic Hann (torch.hann_window default): the denominator is N, not N - 1.
        let window = (0..N_FFT)
            .map(|n| {
                let x = 2.0 * std::f64::consts::PI * n as f64 / N_FFT as f64;
                0.5 - 0.5 * x.cos()
            })
            .collect();
        MelSpectrogram {
            filters: MelFilters::new(n_mels),
            frame: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            power: vec![0.0; N_FREQS],
        }
    }

    /// Number of mel bins.
    pub fn n_mels(&self) -> usize {
        self.filters.n_mels
    }

    /// The filter bank in use.
    pub fn filters(&self) -> &MelFilters {
        &self.filters
    }

    /// Log-mel of 16 kHz mono `samples`, as `log_mel_spectrogram(samples, n_mels)`.
    pub fn compute(&mut self, samples: &[f32]) -> LogMel {
        self.compute_padded(samples, 0)
    }

    /// Log-mel of `samples` followed by `padding` zeros, as
    /// `log_mel_spectrogram(samples, n_mels, padding=padding)` (transcribe passes 480000).
    ///
    /// Non-finite input samples are read as 0. Inputs of 200 samples or fewer (after padding)
    /// cannot be reflection-padded (torch raises an error); here the centre padding is then
    /// zeros instead of a reflection, which yields `len / 160` frames (0 or 1) without panicking.
    pub fn compute_padded(&mut self, samples: &[f32], padding: usize) -> LogMel {
        let len = samples.len() + padding;
        let n_frames = len / HOP_LENGTH;
        let n_mels = self.filters.n_mels;
        let mut mel = vec![0.0f64; n_mels * n_frames];
        let signal = Signal { samples, len };

        for t in 0..n_frames {
            // Frame t covers padded positions [160 t, 160 t + 400), i.e. original positions
            // [160 t - 200, 160 t + 200).
            let start = (t * HOP_LENGTH) as isize - PAD as isize;
            let silent = signal.fill(start, &mut self.frame, &self.window);
            if silent {
                // All zeros (the 30 s of padding): power is 0, skip the FFT.
                continue;
            }
            self.fft
                .process_with_scratch(&mut self.frame, &mut self.spectrum, &mut self.scratch)
                .expect("buffers come from the plan");
            for (p, c) in self.power.iter_mut().zip(&self.spectrum) {
                *p = c.norm_sqr();
            }
            for (m, (first, weights)) in self.filters.rows.iter().enumerate() {
                let bins = &self.power[*first..*first + weights.len()];
                let sum: f64 = weights
                    .iter()
                    .zip(bins)
                    .map(|(&w, &p)| f64::from(w) * p)
                    .sum();
                mel[m * n_frames + t] = sum;
            }
        }

        let mut data: Vec<f32> = mel.iter().map(|&x| x.max(1e-10).log10() as f32).collect();
        let max = data.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let floor = max - 8.0;
        for x in &mut data {
            *x = (x.max(floor) + 4.0) / 4.0;
        }
        LogMel {
            data,
            n_mels,
            n_frames,
        }
    }
}

/// The input as torch sees it: `samples`, then zeros up to `len`, reflected at both ends.
struct Signal<'a> {
    samples: &'a [f32],
    len: usize,
}

impl Signal<'_> {
    /// Sample at original position `i` (may be negative or past the end: reflect).
    fn at(&self, i: isize) -> f64 {
        let len = self.len as isize;
        let j = if len <= PAD as isize {
            // Too short to reflect: zero padding.
            if i < 0 || i >= len {
                return 0.0;
            }
            i
        } else if i < 0 {
            -i
        } else if i >= len {
            2 * (len - 1) - i
        } else {
            i
        };
        match self.samples.get(j as usize) {
            Some(&s) if s.is_finite() => f64::from(s),
            _ => 0.0,
        }
    }

    /// Windowed frame starting at original position `start`; returns true when all zeros.
    fn fill(&self, start: isize, frame: &mut [f64], window: &[f64]) -> bool {
        let n = self.samples.len() as isize;
        let mut any = false;
        if start >= 0 && start + N_FFT as isize <= n {
            let src = &self.samples[start as usize..start as usize + N_FFT];
            for ((f, &s), &w) in frame.iter_mut().zip(src).zip(window) {
                let s = if s.is_finite() { f64::from(s) } else { 0.0 };
                any |= s != 0.0;
                *f = s * w;
            }
        } else if start >= n && start + N_FFT as isize <= self.len as isize {
            // Entirely inside the appended zeros (no reflection reaches back into the audio).
            frame.iter_mut().for_each(|f| *f = 0.0);
        } else {
            for (k, (f, &w)) in frame.iter_mut().zip(window).enumerate() {
                let s = self.at(start + k as isize);
                any |= s != 0.0;
                *f = s * w;
            }
        }
        !any
    }
}

/// Log-mel of 16 kHz mono `samples` with `padding` zeros appended; a one-off convenience over
/// [`MelSpectrogram`] (build one of those to process many windows).
pub fn log_mel_spectrogram(samples: &[f32], n_mels: usize, padding: usize) -> LogMel {
    MelSpectrogram::new(n_mels).compute_padded(samples, padding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_inputs_do_not_panic() {
        let mut mel = MelSpectrogram::new(80);
        for len in [0usize, 1, 159, 160, 200, 201, 319, 320] {
            let out = mel.compute(&vec![0.1; len]);
            assert_eq!(out.n_frames, len / HOP_LENGTH, "len {len}");
            assert!(out.data.iter().all(|x| x.is_finite()), "len {len}");
        }
    }

    #[test]
    fn filters_are_sparse_triangles_with_slaney_area() {
        let f = MelFilters::new(80);
        let dense = f.to_dense();
        assert_eq!(dense.len(), 80 * N_FREQS);
        assert!(dense.iter().all(|&w| w >= 0.0));
        // Every filter has some weight.
        for m in 0..80 {
            assert!(
                dense[m * N_FREQS..(m + 1) * N_FREQS]
                    .iter()
                    .any(|&w| w > 0.0)
            );
        }
    }

    #[test]
    fn non_finite_input_reads_as_zero() {
        let mut a = vec![0.25f32; 4000];
        let clean = MelSpectrogram::new(80).compute(&a);
        a[1234] = f32::NAN;
        a[2000] = f32::INFINITY;
        let dirty = MelSpectrogram::new(80).compute(&a);
        assert!(dirty.data.iter().all(|x| x.is_finite()));
        assert_eq!(clean.shape(), dirty.shape());
    }
}
