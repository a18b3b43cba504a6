//! Decode + resample as one pull-based stream of 16 kHz mono chunks, and the conveniences built
//! on it ([`load_audio`], [`probe`]).
//!
//! Memory stays bounded by the chunk size: the decoder holds one packet, the resampler one
//! chunk of input, and nothing else is buffered unless the caller collects the chunks.

use std::path::Path;

use super::decode::{DecodeReport, Decoder, SourceInfo};
use super::input::AudioInput;
use super::resample::Resampler;
use super::{AudioError, SAMPLE_RATE};

/// Default chunk length of [`AudioStream`]: one second at 16 kHz.
pub const DEFAULT_CHUNK_SAMPLES: usize = SAMPLE_RATE as usize;

/// A file (or standard input) decoded and resampled to 16 kHz mono, chunk by chunk.
///
/// Iterating yields `Result<Vec<f32>, AudioError>` chunks of [`AudioStream::chunk_samples`]
/// samples (the last one shorter); after an error or the end it yields `None`.
#[derive(Debug)]
pub struct AudioStream {
    decoder: Decoder,
    resampler: Resampler,
    chunk_samples: usize,
    /// Resampled output not yet handed out.
    ready: Vec<f32>,
    /// Scratch for decoded source-rate samples.
    source: Vec<f32>,
    decoder_done: bool,
    failed: bool,
}

impl AudioStream {
    /// Opens `path` (see [`Decoder::open`] for what is checked up front).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AudioError> {
        Self::from_decoder(Decoder::open(path)?)
    }

    /// Opens `file`, naming it `name` in errors and warnings (see [`Decoder::open_named`]).
    pub fn open_named(file: &Path, name: &Path) -> Result<Self, AudioError> {
        Self::from_decoder(Decoder::open_named(file, name)?)
    }

    /// Decodes audio already in memory (an upload), named `name` in errors and warnings (see
    /// [`Decoder::from_bytes`]).
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<Self, AudioError> {
        Self::from_decoder(Decoder::from_bytes(name, bytes)?)
    }

    /// Opens a file or standard input (see [`AudioInput::open`]).
    pub fn open_input(input: &AudioInput) -> Result<Self, AudioError> {
        Self::from_decoder(input.open()?)
    }

    fn from_decoder(decoder: Decoder) -> Result<Self, AudioError> {
        let info = decoder.info();
        let resampler = Resampler::new(info.sample_rate).map_err(|e| AudioError::Resample {
            path: info.path.clone(),
            rate: info.sample_rate,
            reason: e.to_string(),
        })?;
        Ok(AudioStream {
            decoder,
            resampler,
            chunk_samples: DEFAULT_CHUNK_SAMPLES,
            ready: Vec::new(),
            source: Vec::new(),
            decoder_done: false,
            failed: false,
        })
    }

    /// Sets the chunk length in 16 kHz samples (at least 1).
    pub fn with_chunk_samples(mut self, samples: usize) -> Self {
        self.chunk_samples = samples.max(1);
        self
    }

    /// Chunk length in 16 kHz samples.
    pub fn chunk_samples(&self) -> usize {
        self.chunk_samples
    }

    /// What the container and the first packet say about the source.
    pub fn info(&self) -> &SourceInfo {
        self.decoder.info()
    }

    /// What decoding has found so far (complete after the last chunk).
    pub fn report(&self) -> &DecodeReport {
        self.decoder.report()
    }

    /// The next chunk of 16 kHz samples, or `None` at the end.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<f32>>, AudioError> {
        if self.failed {
            return Ok(None);
        }
        while self.ready.len() < self.chunk_samples && !self.decoder_done {
            self.source.clear();
            match self.decoder.next_samples(&mut self.source) {
                Ok(0) => {
                    self.decoder_done = true;
                    self.resampler.finish(&mut self.ready);
                }
                Ok(_) => self.resampler.process(&self.source, &mut self.ready),
                Err(e) => {
                    self.failed = true;
                    return Err(e);
                }
            }
        }
        if self.ready.is_empty() {
            return Ok(None);
        }
        let n = self.chunk_samples.min(self.ready.len());
        let rest = self.ready.split_off(n);
        let mut chunk = std::mem::replace(&mut self.ready, rest);
        // Resampling a clipped (square) signal overshoots [-1, 1]; clip again, as openai's
        // ffmpeg conversion to 16 bits after its resampling does.
        chunk.iter_mut().for_each(|s| *s = s.clamp(-1.0, 1.0));
        Ok(Some(chunk))
    }

    /// Reads the rest of the stream into one buffer.
    pub fn collect_all(self) -> Result<Audio16k, AudioError> {
        self.collect_at_most(f64::INFINITY)
    }

    /// Reads the rest of the stream into one buffer, failing with [`AudioError::TooLong`] as
    /// soon as it passes `max_s` seconds (or at once, when the container declares more).
    pub fn collect_at_most(mut self, max_s: f64) -> Result<Audio16k, AudioError> {
        let too_long = |path: &Path| AudioError::TooLong {
            path: path.to_path_buf(),
            limit_s: max_s,
        };
        let declared = self.info().declared_duration_s();
        if declared.is_some_and(|d| d > max_s) {
            return Err(too_long(&self.info().path));
        }
        let max_samples = (max_s * f64::from(SAMPLE_RATE)).min(usize::MAX as f64) as usize;
        // Reserve from the container's claim, but never trust a header beyond an hour.
        if let Some(seconds) = declared {
            let claimed = (seconds.clamp(0.0, 3600.0) * f64::from(SAMPLE_RATE)) as usize;
            self.ready
                .reserve(claimed.saturating_sub(self.ready.len()) + 1);
        }
        self.chunk_samples = usize::MAX;
        let mut samples = Vec::new();
        while let Some(chunk) = self.next_chunk()? {
            if samples.len() + chunk.len() > max_samples {
                return Err(too_long(&self.info().path));
            }
            if samples.is_empty() {
                samples = chunk;
            } else {
                samples.extend_from_slice(&chunk);
            }
        }
        let info = self.decoder.info().clone();
        Ok(Audio16k {
            samples,
            info,
            report: self.decoder.into_report(),
        })
    }
}

impl Iterator for AudioStream {
    type Item = Result<Vec<f32>, AudioError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_chunk().transpose()
    }
}

/// A whole file at 16 kHz mono, with what is known about its source.
#[derive(Debug, Clone)]
pub struct Audio16k {
    /// Samples at 16 kHz, mono, finite.
    pub samples: Vec<f32>,
    /// The source's container, codec, rate and channels.
    pub info: SourceInfo,
    /// Exact decoded length at the source rate, truncation and other warnings.
    pub report: DecodeReport,
}

impl Audio16k {
    /// Duration of the 16 kHz samples in seconds.
    pub fn duration_s(&self) -> f64 {
        self.samples.len() as f64 / f64::from(SAMPLE_RATE)
    }
}

/// Decodes and resamples a whole file to 16 kHz mono.
pub fn load_audio(path: impl AsRef<Path>) -> Result<Audio16k, AudioError> {
    AudioStream::open(path)?.collect_all()
}

/// [`load_audio`] for a file or standard input.
pub fn load_input(input: &AudioInput) -> Result<Audio16k, AudioError> {
    AudioStream::open_input(input)?.collect_all()
}

/// What `whisper-spec probe` reports for one file.
#[derive(Debug, Clone)]
pub struct ProbeInfo {
    /// Container, codec, rate and channels.
    pub info: SourceInfo,
    /// Exact decoded length and warnings.
    pub report: DecodeReport,
}

impl ProbeInfo {
    /// Exact duration in seconds: decoded frames / sample rate.
    pub fn duration_s(&self) -> f64 {
        self.report.duration_s(self.info.sample_rate)
    }
}

/// Decodes the whole file at its own rate (no resampling) to measure its exact duration and
/// find truncation or corruption; container durations can be estimates (raw AAC, VBR MP3) or
/// lies (a WAV header claiming 2 GB).
pub fn probe(path: impl AsRef<Path>) -> Result<ProbeInfo, AudioError> {
    probe_decoder(Decoder::open(path)?)
}

/// [`probe`] for a file or standard input.
pub fn probe_input(input: &AudioInput) -> Result<ProbeInfo, AudioError> {
    probe_decoder(input.open()?)
}

fn probe_decoder(mut decoder: Decoder) -> Result<ProbeInfo, AudioError> {
    let mut scratch = Vec::new();
    loop {
        scratch.clear();
        if decoder.next_samples(&mut scratch)? == 0 {
            break;
        }
    }
    let info = decoder.info().clone();
    Ok(ProbeInfo {
        info,
        report: decoder.into_report(),
    })
}
