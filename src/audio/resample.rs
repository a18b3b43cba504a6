//! Streaming resampling of mono audio to Whisper's 16 kHz with rubato's FFT resampler.
//!
//! Samples go in as they are decoded and come out time-aligned: the resampler's start-up delay
//! is dropped here (rubato's chunked API leaves it in), and [`Resampler::finish`] flushes the
//! tail so that the output has exactly `round(len * 16000 / rate)` samples, the length a
//! whole-clip resampler would give.

use rubato::audioadapter_buffers::direct::SequentialSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler as _, WindowFunction};

use super::SAMPLE_RATE;

/// FFT block on the output side. 1024 puts the anti-aliasing cutoff at about 98.7 % of the
/// lower Nyquist frequency (7.9 kHz for 16 kHz output) for 32 ms of delay; 86-point blocks,
/// which rubato's defaults give for 48 kHz, would cut at 4.3 kHz.
const FFT_OUT_TARGET: usize = 1024;
/// Input frames per rubato call (rounded up to whole FFT blocks): large enough to amortise the
/// call, small enough to keep latency and memory trivial.
const CHUNK_IN_TARGET: usize = 8192;

/// Why a resampler could not be built.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ResampleError(String);

/// Converts a stream of mono samples at one rate to 16 kHz, chunk by chunk.
pub struct Resampler {
    in_rate: u32,
    /// `None` when the input is already 16 kHz: samples pass straight through.
    engine: Option<Engine>,
    frames_in: u64,
    frames_out: u64,
    finished: bool,
}

struct Engine {
    fft: Fft<f32>,
    chunk_in: usize,
    /// Input waiting for a full chunk (always shorter than `chunk_in`).
    pending: Vec<f32>,
    /// rubato's output for one chunk.
    scratch: Vec<f32>,
    /// Output frames still to drop from the start (the resampler's delay).
    delay_left: usize,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("in_rate", &self.in_rate)
            .field("passthrough", &self.engine.is_none())
            .field("frames_in", &self.frames_in)
            .field("frames_out", &self.frames_out)
            .finish()
    }
}

impl Resampler {
    /// A resampler from `in_rate` Hz to 16 kHz.
    pub fn new(in_rate: u32) -> Result<Self, ResampleError> {
        if in_rate == 0 {
            return Err(ResampleError("sample rate 0".into()));
        }
        let engine = if in_rate == SAMPLE_RATE {
            None
        } else {
            let in_rate_us = in_rate as usize;
            let out_rate = SAMPLE_RATE as usize;
            let g = gcd(in_rate_us, out_rate);
            let (min_in, min_out) = (in_rate_us / g, out_rate / g);
            // An even number of minimum blocks makes both FFT sizes even. rubato centres its
            // filter at `fft_in / 2` (floored) but reports `fft_out / 2` as the delay; with an
            // odd `fft_in` (44.1 kHz gives 3087) the two differ by half an input sample, and
            // the output would lead the input by 0.18 samples at 16 kHz (22 dB SNR on speech).
            let blocks = FFT_OUT_TARGET.div_ceil(min_out).next_multiple_of(2);
            let fft_in = blocks * min_in;
            let sub_chunks = CHUNK_IN_TARGET.div_ceil(fft_in).max(1);
            let chunk_in = fft_in * sub_chunks;
            let fft = Fft::<f32>::new_custom(
                in_rate_us,
                out_rate,
                chunk_in,
                sub_chunks,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| ResampleError(e.to_string()))?;
            debug_assert_eq!(fft.input_frames_next(), chunk_in);
            let delay_left = fft.output_delay();
            let scratch = vec![0.0; fft.output_frames_max()];
            Some(Engine {
                fft,
                chunk_in,
                pending: Vec::with_capacity(chunk_in),
                scratch,
                delay_left,
            })
        };
        Ok(Resampler {
            in_rate,
            engine,
            frames_in: 0,
            frames_out: 0,
            finished: false,
        })
    }

    /// The input rate.
    pub fn in_rate(&self) -> u32 {
        self.in_rate
    }

    /// Total output length for the input seen so far: `round(frames_in * 16000 / in_rate)`.
    pub fn expected_len(&self) -> u64 {
        let num =
            u128::from(self.frames_in) * u128::from(SAMPLE_RATE) * 2 + u128::from(self.in_rate);
        (num / (2 * u128::from(self.in_rate))) as u64
    }

    /// Feeds `input` and appends whatever 16 kHz output is ready to `out`. Output lags input
    /// by up to one chunk (about 0.2 s); [`Resampler::finish`] releases the rest.
    ///
    /// # Panics
    /// If called after [`Resampler::finish`].
    pub fn process(&mut self, input: &[f32], out: &mut Vec<f32>) {
        assert!(!self.finished, "Resampler::process after finish");
        self.frames_in += input.len() as u64;
        let Some(engine) = self.engine.as_mut() else {
            out.extend_from_slice(input);
            self.frames_out += input.len() as u64;
            return;
        };
        let mut input = input;
        if !engine.pending.is_empty() {
            let take = (engine.chunk_in - engine.pending.len()).min(input.len());
            engine.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if engine.pending.len() == engine.chunk_in {
                let pending = std::mem::take(&mut engine.pending);
                self.frames_out += engine.run(&pending, None, out, u64::MAX);
                engine.pending = pending;
                engine.pending.clear();
            }
        }
        while input.len() >= engine.chunk_in {
            let (chunk, rest) = input.split_at(engine.chunk_in);
            self.frames_out += engine.run(chunk, None, out, u64::MAX);
            input = rest;
        }
        engine.pending.extend_from_slice(input);
    }

    /// Flushes the tail: appends the remaining output so that the total is exactly
    /// [`Resampler::expected_len`]. Calling it again does nothing.
    pub fn finish(&mut self, out: &mut Vec<f32>) {
        if self.finished {
            return;
        }
        self.finished = true;
        let expected = self.expected_len();
        let Some(engine) = self.engine.as_mut() else {
            return;
        };
        if !engine.pending.is_empty() {
            let pending = std::mem::take(&mut engine.pending);
            let room = expected.saturating_sub(self.frames_out);
            self.frames_out += engine.run(&pending, Some(pending.len()), out, room);
        }
        // Pump silence until the delayed tail has come out.
        while self.frames_out < expected {
            let room = expected - self.frames_out;
            self.frames_out += engine.run(&[], Some(0), out, room);
        }
    }
}

impl Engine {
    /// Resamples one chunk (`partial` = valid frames of a short last chunk), drops what is left
    /// of the start-up delay and appends at most `room` frames to `out`; returns frames appended.
    fn run(&mut self, input: &[f32], partial: Option<usize>, out: &mut Vec<f32>, room: u64) -> u64 {
        let frames_in = input.len();
        let frames_out = self.scratch.len();
        // Lengths are consistent by construction (one channel, buffers sized from the engine).
        let adapter_in = SequentialSlice::new(input, 1, frames_in).expect("mono input adapter");
        let mut adapter_out = SequentialSlice::new_mut(&mut self.scratch, 1, frames_out)
            .expect("mono output adapter");
        let indexing = partial.map(|n| Indexing::new().partial_len(n));
        let (_, produced) = self
            .fft
            .process_into_buffer(&adapter_in, &mut adapter_out, indexing.as_ref())
            .expect("buffers sized from the resampler");
        let skip = self.delay_left.min(produced);
        self.delay_left -= skip;
        let available = (produced - skip) as u64;
        let emit = available.min(room) as usize;
        out.extend_from_slice(&self.scratch[skip..skip + emit]);
        emit as u64
    }
}

fn gcd(mut a: usize, mut b: usize) -> usize {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Resamples a whole clip of mono audio at `rate` Hz to 16 kHz (a copy when already 16 kHz).
pub fn resample_to_16k(samples: &[f32], rate: u32) -> Result<Vec<f32>, ResampleError> {
    let mut resampler = Resampler::new(rate)?;
    let mut out = Vec::with_capacity(
        (samples.len() as u64 * u64::from(SAMPLE_RATE) / u64::from(rate) + 1) as usize,
    );
    resampler.process(samples, &mut out);
    resampler.finish(&mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin() as f32)
            .collect()
    }

    #[test]
    fn lengths_are_rounded_exactly() {
        for &(rate, len) in &[
            (44_100u32, 485_100usize),
            (44_100, 1),
            (48_000, 12_345),
            (8_000, 7_777),
            (22_050, 100_001),
            (11_025, 3),
            (16_000, 999),
        ] {
            let out = resample_to_16k(&vec![0.0; len], rate).unwrap();
            let want = ((len as f64) * 16_000.0 / f64::from(rate)).round() as usize;
            assert_eq!(out.len(), want, "rate {rate} len {len}");
        }
    }

    #[test]
    fn output_is_time_aligned_and_chunking_does_not_matter() {
        for &rate in &[8_000u32, 22_050, 44_100, 48_000, 96_000] {
            let input = sine(rate, 440.0, rate as usize * 2);
            let whole = resample_to_16k(&input, rate).unwrap();
            let reference = sine(SAMPLE_RATE, 440.0, whole.len());
            // Skip the edges (the filter sees zeros beyond them).
            let mid = &whole[800..whole.len() - 800];
            let ref_mid = &reference[800..reference.len() - 800];
            let err = mid
                .iter()
                .zip(ref_mid)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(err < 1e-3, "rate {rate}: max error {err}");

            // Odd-sized pieces give the same samples as one call.
            let mut r = Resampler::new(rate).unwrap();
            let mut pieces = Vec::new();
            for chunk in input.chunks(1237) {
                r.process(chunk, &mut pieces);
            }
            r.finish(&mut pieces);
            assert_eq!(pieces, whole, "rate {rate}");
        }
    }
}
