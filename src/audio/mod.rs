//! Audio front end: any file to 16 kHz mono f32 to Whisper's log-mel spectrogram.
//!
//! - [`decode`]: symphonia (plus libopus for Opus) to mono f32 at the source rate, packet by
//!   packet, with clear errors for bad input and warnings for truncated streams;
//! - [`resample`]: rubato's FFT resampler to 16 kHz, streaming and time-aligned;
//! - [`stream`]: the two combined as a chunk iterator ([`AudioStream`]), plus [`load_audio`]
//!   and [`probe`];
//! - [`input`]: a file or standard input (`-`, [`AudioInput`]); [`stdin`] reads the latter
//!   whole, bounded, into memory for the decoder;
//! - `mic` (cargo feature `mic`): live capture through cpal, delivered as 16 kHz chunks;
//! - [`capture`]: live audio (a microphone, or a file at real-time pace) on its own thread,
//!   behind a bounded queue;
//! - [`mel`]: openai/whisper's `log_mel_spectrogram`, bit-for-bit in recipe;
//! - [`framing`]: mel frames, 30 s windows cut from the spectrogram, and the loudness meter
//!   of the silence gates.
//!
//! Nothing here needs candle or a device: samples and spectrograms are plain `Vec<f32>`s.

pub mod capture;
pub mod checked_wav;
pub mod decode;
mod error;
pub mod framing;
pub mod input;
pub mod mel;
#[cfg(feature = "mic")]
pub mod mic;
mod mp4_edit;
pub mod resample;
pub mod stdin;
pub mod stream;
pub mod wav_header;

pub use decode::{DecodeReport, Decoder, SourceInfo};
pub use error::AudioError;
pub use input::{AudioInput, STDIN_NAME};
pub use mel::{LogMel, MelFilters, MelSpectrogram, log_mel_spectrogram};
pub use resample::{Resampler, resample_to_16k};
pub use stream::{Audio16k, AudioStream, ProbeInfo, load_audio, load_input, probe, probe_input};

/// Whisper's input sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
/// Samples in one 30 s window (what transcribe pads with).
pub const N_SAMPLES: usize = 30 * SAMPLE_RATE as usize;
/// Lowest source sample rate accepted: below 1 kHz there is no speech to hear.
pub const MIN_SOURCE_RATE: u32 = 1_000;
/// Highest source sample rate accepted (768 kHz, the top of what DACs offer). It also bounds
/// the resampler's FFT sizes for a header that claims an absurd rate.
pub const MAX_SOURCE_RATE: u32 = 768_000;
/// Most channels accepted; more is a broken header, not a recording.
pub const MAX_CHANNELS: usize = 256;
