//! The Silero VAD v6 network (snakers4/silero-vad, as shipped in faster-whisper's wheel as
//! `silero_vad_v6.onnx`), written on candle with its weights read from the ONNX initializers.
//!
//! Why not candle-onnx: it needs `protoc` at build time and would interpret the graph op by op
//! on every call; the network is six small layers, so writing it out is shorter, checks the
//! file against the graph we expect, and lets the encoder run as large matrix products over
//! many chunks at once while only the LSTM steps one chunk at a time. The STFT, a convolution
//! with a 258×256 basis in the graph, is computed by a real FFT instead (the basis is checked
//! at load to be a periodic-Hann-windowed DFT, and the window is taken from it): a quarter of
//! the time of the whole network as a matrix product, a few percent as an FFT.
//!
//! For each 512-sample chunk (plus the 64 samples before it as context, 576 in all):
//! 1. `feature_extractor`: reflect-pad 128 samples each side (832), a 256-point STFT with hop
//!    128 as a convolution with a fixed basis (129 real and 129 imaginary rows), the first of
//!    its five frames dropped, magnitude → 4 frames × 129 bins;
//! 2. `encoder.conv_layers.0..3`: Conv1d (kernel 3, padding 1, strides 1, 2, 2, 1) with ReLU,
//!    129 → 128 → 64 → 64 → 128 channels, 4 → 1 frame;
//! 3. `decoder.rnn`: an LSTM cell (hidden 128) whose state runs from chunk to chunk;
//! 4. `decoder`: ReLU, a 1×1 convolution to one channel, sigmoid: the speech probability.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use super::error::VadError;
use super::onnx::{self, FloatTensor, OnnxGraph};
use super::{CHUNK_SAMPLES, CONTEXT_SAMPLES, VadOptions, speech_regions};
use crate::kernels::math::{sigmoid, tanh};
use crate::kernels::small_matmul::matmul_nt;

/// Samples the network sees per chunk: the context, then the chunk.
const INPUT_SAMPLES: usize = CONTEXT_SAMPLES + CHUNK_SAMPLES;
/// Reflection padding on each side before the STFT.
const STFT_PAD: usize = 128;
/// STFT window (the basis' kernel size).
const N_FFT: usize = 256;
/// STFT hop (the basis' stride).
const HOP: usize = 128;
/// Frequency bins of the STFT.
const BINS: usize = N_FFT / 2 + 1;
/// STFT frames kept per chunk (frames 1 to 4 of 0 to 4).
const FRAMES: usize = 4;
/// LSTM hidden size.
const HIDDEN: usize = 128;
/// Chunks encoded per batch of matrix products (bounds memory on hour-long files).
const BLOCK_CHUNKS: usize = 1024;

/// The operators of the graph, in order; a file with others is a different network.
const EXPECTED_OPS: &[&str] = &[
    "Pad",
    "Unsqueeze",
    "Conv",
    "Slice",
    "Slice",
    "Pow",
    "Pow",
    "Add",
    "Sqrt",
    "Conv",
    "Relu",
    "Conv",
    "Relu",
    "Conv",
    "Relu",
    "Conv",
    "Relu",
    "Transpose",
    "LSTM",
    "Squeeze",
    "Relu",
    "Transpose",
    "Conv",
    "Sigmoid",
    "Reshape",
];

/// One convolution of the encoder (kernel 3, padding 1), then ReLU, run as one matrix product
/// over every chunk's output positions: the three input frames an output position sees, side
/// by side, times the kernel laid out the same way.
#[derive(Debug, Clone)]
struct ConvLayer {
    /// `(out, 3 * in)`: `[o][k * in + i]` is the kernel's `(o, i, k)`.
    weight: Vec<f32>,
    /// `out` biases.
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    stride: usize,
}

impl ConvLayer {
    /// `x`, `chunks` chunks of `frames` frames of `self.inputs` channels (time-major), to the
    /// layer's output frames (time-major) and their count.
    fn forward(&self, x: &[f32], chunks: usize, frames: usize) -> (Vec<f32>, usize) {
        let out_frames = (frames - 1) / self.stride + 1;
        let width = 3 * self.inputs;
        let mut columns = vec![0f32; chunks * out_frames * width];
        for c in 0..chunks {
            let chunk = &x[c * frames * self.inputs..(c + 1) * frames * self.inputs];
            for t in 0..out_frames {
                let row = &mut columns[(c * out_frames + t) * width..][..width];
                for k in 0..3 {
                    // Input frame t * stride - 1 + k; outside the chunk: the zero padding.
                    let Some(at) = (t * self.stride + k).checked_sub(1).filter(|&a| a < frames)
                    else {
                        continue;
                    };
                    row[k * self.inputs..(k + 1) * self.inputs]
                        .copy_from_slice(&chunk[at * self.inputs..(at + 1) * self.inputs]);
                }
            }
        }
        let rows = chunks * out_frames;
        let mut y = vec![0f32; rows * self.outputs];
        matmul_nt(
            &columns,
            rows,
            width,
            &self.weight,
            self.outputs,
            Some(&self.bias),
            &mut y,
        );
        for v in &mut y {
            *v = v.max(0.0);
        }
        (y, out_frames)
    }
}

/// The recurrent state carried from chunk to chunk: the LSTM's hidden and cell vectors and the
/// last [`CONTEXT_SAMPLES`] samples of the previous chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct VadState {
    h: Vec<f32>,
    c: Vec<f32>,
    context: Vec<f32>,
}

impl Default for VadState {
    fn default() -> Self {
        VadState {
            h: vec![0.0; HIDDEN],
            c: vec![0.0; HIDDEN],
            context: vec![0.0; CONTEXT_SAMPLES],
        }
    }
}

/// The Silero VAD v6 network with its weights.
#[derive(Clone)]
pub struct SileroVad {
    /// The STFT's analysis window (row 0 of the basis: the DFT's zero-frequency row).
    window: Vec<f32>,
    /// The `N_FFT`-point real FFT.
    fft: Arc<dyn RealToComplex<f32>>,
    convs: [ConvLayer; 4],
    /// LSTM input weights, row-major `(4 * HIDDEN, HIDDEN)`, gates in ONNX order i, o, f, c.
    lstm_input: Vec<f32>,
    /// Input and recurrent biases summed: `4 * HIDDEN`.
    lstm_bias: Vec<f32>,
    /// LSTM recurrent weights, row-major `(4 * HIDDEN, HIDDEN)`.
    lstm_recurrent: Vec<f32>,
    /// Decoder 1×1 convolution: `HIDDEN` weights and a bias.
    decoder_weight: Vec<f32>,
    decoder_bias: f32,
}

impl std::fmt::Debug for SileroVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SileroVad")
            .field("n_fft", &N_FFT)
            .field("hidden", &HIDDEN)
            .finish_non_exhaustive()
    }
}

impl SileroVad {
    /// Loads `silero_vad_v6.onnx` (see [`crate::store::Store::fetch_vad`] to obtain it),
    /// checking that it is the network implemented here.
    pub fn load(path: impl AsRef<Path>) -> Result<SileroVad, VadError> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| VadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let graph = onnx::parse(&bytes).map_err(|reason| VadError::Format {
            path: path.to_path_buf(),
            reason,
        })?;
        Self::from_graph(&graph).map_err(|reason| VadError::Graph {
            path: path.to_path_buf(),
            reason,
        })
    }

    fn from_graph(graph: &OnnxGraph) -> Result<SileroVad, String> {
        let ops: Vec<&str> = graph.nodes.iter().map(|n| n.op_type.as_str()).collect();
        if ops != EXPECTED_OPS {
            return Err(format!("operators {ops:?}, expected {EXPECTED_OPS:?}"));
        }
        let weight = |name: &str, dims: &[usize]| -> Result<&FloatTensor, String> {
            let t = graph
                .initializers
                .get(name)
                .ok_or_else(|| format!("no initializer {name}"))?;
            if t.dims != dims {
                return Err(format!("{name} has shape {:?}, expected {dims:?}", t.dims));
            }
            Ok(t)
        };
        let basis = weight(
            "encoder.feature_extractor.forward_basis_buffer",
            &[2 * BINS, 1, N_FFT],
        )?;
        let window = stft_window(&basis.data)?;
        let channels = [BINS, 128, 64, 64, 128];
        let strides = [1, 2, 2, 1];
        let mut convs = Vec::with_capacity(4);
        for i in 0..4 {
            let (cin, cout) = (channels[i], channels[i + 1]);
            let w = weight(&format!("encoder.conv_layers.{i}.weight"), &[cout, cin, 3])?;
            let b = weight(&format!("encoder.conv_layers.{i}.bias"), &[cout])?;
            let mut laid_out = vec![0f32; cout * 3 * cin];
            for o in 0..cout {
                for ci in 0..cin {
                    for k in 0..3 {
                        laid_out[o * 3 * cin + k * cin + ci] = w.data[(o * cin + ci) * 3 + k];
                    }
                }
            }
            convs.push(ConvLayer {
                weight: laid_out,
                bias: b.data.clone(),
                inputs: cin,
                outputs: cout,
                stride: strides[i],
            });
        }
        let convs: [ConvLayer; 4] = convs.try_into().expect("four layers");
        // The LSTM weights have names generated by the exporter (`onnx::LSTM_209`): take them
        // from the LSTM node's inputs X, W, R, B.
        let lstm = graph
            .nodes
            .iter()
            .find(|n| n.op_type == "LSTM")
            .filter(|n| n.inputs.len() >= 4)
            .ok_or("the LSTM node lacks its W, R and B inputs")?;
        let w = weight(&lstm.inputs[1], &[1, 4 * HIDDEN, HIDDEN])?;
        let r = weight(&lstm.inputs[2], &[1, 4 * HIDDEN, HIDDEN])?;
        let b = weight(&lstm.inputs[3], &[1, 8 * HIDDEN])?;
        let lstm_bias: Vec<f32> = (0..4 * HIDDEN)
            .map(|i| b.data[i] + b.data[4 * HIDDEN + i])
            .collect();
        let dw = weight("decoder.conv1d.weight", &[1, HIDDEN, 1])?;
        let db = weight("decoder.conv1d.bias", &[1])?;
        Ok(SileroVad {
            window,
            fft: RealFftPlanner::<f32>::new().plan_fft_forward(N_FFT),
            convs,
            lstm_input: w.data.clone(),
            lstm_bias,
            lstm_recurrent: r.data.clone(),
            decoder_weight: dw.data.clone(),
            decoder_bias: db.data[0],
        })
    }

    /// The speech probability of every 512-sample chunk of 16 kHz mono `audio`, exactly as
    /// faster-whisper 1.2.1's `get_speech_timestamps` computes them: the audio is padded with
    /// zeros to a multiple of 512 (always at least one sample, so a whole extra chunk when it
    /// already is one), each chunk sees the last 64 samples of the one before (zeros for the
    /// first), and the recurrent state runs through the whole file. Faster-whisper also zeroes
    /// the last 64 samples of the padded audio (its context array is a view of the audio, and
    /// it clears the last row to make the first context zero); we do the same so that the last
    /// chunk's probability, and so the regions, match its own.
    pub fn speech_probs(&self, audio: &[f32]) -> Result<Vec<f32>, VadError> {
        let chunks = audio.len() / CHUNK_SAMPLES + 1;
        let mut padded = audio.to_vec();
        padded.resize(chunks * CHUNK_SAMPLES, 0.0);
        let tail = padded.len() - CONTEXT_SAMPLES;
        padded[tail..].fill(0.0);

        let mut state = VadState::default();
        let mut probs = Vec::with_capacity(chunks);
        for block in padded.chunks(BLOCK_CHUNKS * CHUNK_SAMPLES) {
            probs.extend(self.process(block, &mut state)?);
        }
        Ok(probs)
    }

    /// The speech regions of 16 kHz mono `audio` (sample ranges), as faster-whisper's
    /// `get_speech_timestamps`: [`Self::speech_probs`], then [`speech_regions`].
    pub fn detect(
        &self,
        audio: &[f32],
        options: &VadOptions,
    ) -> Result<Vec<Range<usize>>, VadError> {
        Ok(speech_regions(
            &self.speech_probs(audio)?,
            audio.len(),
            options,
        ))
    }

    /// Runs whole chunks of `audio` (a multiple of 512 samples) through the network, carrying
    /// `state` (context samples and LSTM state) in and out: the building block for streaming
    /// audio, one or many chunks at a time.
    ///
    /// # Panics
    /// If `audio` is not a whole number of chunks (a caller's bug, not a property of the data).
    pub fn process(&self, audio: &[f32], state: &mut VadState) -> Result<Vec<f32>, VadError> {
        let _span =
            tracing::trace_span!("silero_vad", chunks = audio.len() / CHUNK_SAMPLES).entered();
        assert!(
            audio.len().is_multiple_of(CHUNK_SAMPLES),
            "the VAD takes whole chunks of {CHUNK_SAMPLES} samples, got {}",
            audio.len()
        );
        if audio.is_empty() {
            return Ok(Vec::new());
        }
        let gates_in = self.encode(audio, &state.context);
        state
            .context
            .copy_from_slice(&audio[audio.len() - CONTEXT_SAMPLES..]);
        Ok(self.steps(&gates_in, state))
    }

    /// The encoder and the LSTM's input projection for every chunk of `audio`, batched:
    /// `4 * HIDDEN` gate inputs per chunk (biases included).
    fn encode(&self, audio: &[f32], context: &[f32]) -> Vec<f32> {
        let chunks = audio.len() / CHUNK_SAMPLES;
        // Magnitudes of STFT frames 1..=4 of each chunk's reflect-padded 576 samples.
        let mut magnitude = Vec::with_capacity(chunks * FRAMES * BINS);
        let mut frame = self.fft.make_input_vec();
        let mut spectrum = self.fft.make_output_vec();
        let mut scratch = self.fft.make_scratch_vec();
        let mut input = [0f32; INPUT_SAMPLES];
        for (i, chunk) in audio.chunks_exact(CHUNK_SAMPLES).enumerate() {
            let before = if i == 0 {
                context
            } else {
                &audio[i * CHUNK_SAMPLES - CONTEXT_SAMPLES..i * CHUNK_SAMPLES]
            };
            input[..CONTEXT_SAMPLES].copy_from_slice(before);
            input[CONTEXT_SAMPLES..].copy_from_slice(chunk);
            for f in 1..=FRAMES {
                let start = f * HOP;
                for (n, (x, w)) in frame.iter_mut().zip(&self.window).enumerate() {
                    *x = input[reflect(start + n)] * w;
                }
                self.fft
                    .process_with_scratch(&mut frame, &mut spectrum, &mut scratch)
                    .expect("buffers made by the plan");
                magnitude.extend(spectrum.iter().map(|c| (c.re * c.re + c.im * c.im).sqrt()));
            }
        }
        let (mut x, mut frames) = (magnitude, FRAMES);
        for conv in &self.convs {
            (x, frames) = conv.forward(&x, chunks, frames);
        }
        debug_assert_eq!((frames, x.len()), (1, chunks * HIDDEN));
        let mut gates = vec![0f32; chunks * 4 * HIDDEN];
        matmul_nt(
            &x,
            chunks,
            HIDDEN,
            &self.lstm_input,
            4 * HIDDEN,
            Some(&self.lstm_bias),
            &mut gates,
        );
        gates
    }

    /// The LSTM and decoder over the chunks' gate inputs (`4 * HIDDEN` each): one speech
    /// probability per chunk. Compiled for the widest vector unit the CPU has (the same
    /// arithmetic in the same order, so the same numbers, on every one).
    fn steps(&self, gates_in: &[f32], state: &mut VadState) -> Vec<f32> {
        match crate::kernels::Isa::detect() {
            #[cfg(target_arch = "x86_64")]
            // SAFETY: detect() saw the features.
            crate::kernels::Isa::Avx512 => unsafe { self.steps_avx512(gates_in, state) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: as above.
            crate::kernels::Isa::Avx2 => unsafe { self.steps_avx2(gates_in, state) },
            _ => self.steps_plain(gates_in, state),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,fma")]
    fn steps_avx512(&self, gates_in: &[f32], state: &mut VadState) -> Vec<f32> {
        self.steps_plain(gates_in, state)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn steps_avx2(&self, gates_in: &[f32], state: &mut VadState) -> Vec<f32> {
        self.steps_plain(gates_in, state)
    }

    #[inline(always)]
    fn steps_plain(&self, gates_in: &[f32], state: &mut VadState) -> Vec<f32> {
        gates_in
            .chunks_exact(4 * HIDDEN)
            .map(|x| self.step(x, state))
            .collect()
    }

    /// One LSTM step (ONNX gate order i, o, f, c) from the chunk's gate inputs `x`, then the
    /// decoder: the chunk's speech probability.
    #[inline(always)]
    fn step(&self, x: &[f32], state: &mut VadState) -> f32 {
        let mut gates = [0f32; 4 * HIDDEN];
        for (g, (row, xg)) in gates
            .iter_mut()
            .zip(self.lstm_recurrent.chunks_exact(HIDDEN).zip(x))
        {
            *g = xg + dot(row, &state.h);
        }
        // The gates' nonlinearities over whole vectors (libm's expf and tanhf, one call per
        // element, were half of the detector's time).
        let (ifo, g) = gates.split_at_mut(3 * HIDDEN);
        for v in ifo.iter_mut() {
            *v = sigmoid(*v);
        }
        for v in g.iter_mut() {
            *v = tanh(*v);
        }
        let (i, rest) = gates.split_at(HIDDEN);
        let (o, rest) = rest.split_at(HIDDEN);
        let (f, g) = rest.split_at(HIDDEN);
        for k in 0..HIDDEN {
            let c = f[k] * state.c[k] + i[k] * g[k];
            state.c[k] = c;
            state.h[k] = o[k] * tanh(c);
        }
        let logit = self.decoder_bias
            + self
                .decoder_weight
                .iter()
                .zip(&state.h)
                .map(|(w, h)| w * h.max(0.0))
                .sum::<f32>();
        sigmoid(logit)
    }
}

/// The window of an STFT basis (`2 * BINS` rows of `N_FFT`: real parts `w[n] cos(2πkn/N)`,
/// then imaginary parts `-w[n] sin(2πkn/N)`), after checking that it is one, so that an FFT of
/// the windowed frame gives the same numbers as the graph's convolution.
fn stft_window(basis: &[f32]) -> Result<Vec<f32>, String> {
    let window = basis[..N_FFT].to_vec();
    let mut worst = 0f64;
    for k in 0..BINS {
        for (n, &w) in window.iter().enumerate() {
            let phase = 2.0 * std::f64::consts::PI * ((k * n) % N_FFT) as f64 / N_FFT as f64;
            let re = f64::from(w) * phase.cos();
            let im = -f64::from(w) * phase.sin();
            worst = worst
                .max((f64::from(basis[k * N_FFT + n]) - re).abs())
                .max((f64::from(basis[(BINS + k) * N_FFT + n]) - im).abs());
        }
    }
    if worst > 1e-5 {
        return Err(format!(
            "the STFT basis is not a windowed DFT (off by up to {worst:.2e})"
        ));
    }
    Ok(window)
}

/// Index into the 576 input samples of position `j` of the reflect-padded signal (128 each
/// side, the edge sample not repeated, as ONNX `Pad` mode `reflect`).
fn reflect(j: usize) -> usize {
    let last = INPUT_SAMPLES - 1;
    if j < STFT_PAD {
        STFT_PAD - j
    } else if j - STFT_PAD <= last {
        j - STFT_PAD
    } else {
        2 * last - (j - STFT_PAD)
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Eight partial sums: lets the compiler vectorise without reassociating floats itself.
    let mut acc = [0f32; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            acc[k] += ca[k] * cb[k];
        }
    }
    acc.iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_padding_mirrors_without_repeating_the_edge() {
        assert_eq!(reflect(STFT_PAD), 0);
        assert_eq!(reflect(STFT_PAD - 1), 1);
        assert_eq!(reflect(0), STFT_PAD);
        assert_eq!(reflect(STFT_PAD + INPUT_SAMPLES - 1), INPUT_SAMPLES - 1);
        assert_eq!(reflect(STFT_PAD + INPUT_SAMPLES), INPUT_SAMPLES - 2);
        assert_eq!(
            reflect(2 * STFT_PAD + INPUT_SAMPLES - 1),
            INPUT_SAMPLES - 1 - STFT_PAD
        );
    }
}
