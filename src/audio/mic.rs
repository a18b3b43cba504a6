//! Live capture from an input device through cpal (cargo feature `mic`), delivered as 16 kHz
//! mono chunks through the same resampler as files.
//!
//! The audio callback only converts to f32, downmixes and hands the block to a bounded channel
//! with `try_send`: it never blocks and never allocates beyond the block, so a slow consumer
//! (inference) costs dropped audio, counted, instead of an audio-thread stall. Resampling runs on
//! the consumer's thread in [`Microphone::next_chunk`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use cpal::{FromSample, SampleFormat, SizedSample};

use super::resample::Resampler;

/// Blocks of audio the channel holds before the callback starts dropping: tens of seconds at
/// typical 10-20 ms callback sizes, so that a consumer thread busy for a moment (or a device
/// that delivers faster than real time, as ALSA's file plugin does) loses nothing.
const CHANNEL_BLOCKS: usize = 4096;

/// What can go wrong with a capture device. Each message names the device.
#[derive(Debug, thiserror::Error)]
pub enum MicError {
    /// The audio host (ALSA on Linux) could not list devices.
    #[error("cannot list audio input devices: {0}")]
    Host(String),
    /// No input device matches, or there is no default one.
    #[error("no audio input device {wanted}; available: {available}")]
    NoDevice {
        /// What was asked for ("default" when nothing was).
        wanted: String,
        /// The devices that do exist.
        available: String,
    },
    /// The device refused to open or start.
    #[error("audio input device '{device}': {reason}")]
    Device {
        /// The device.
        device: String,
        /// What it said.
        reason: String,
    },
    /// The stream failed while running (device unplugged, driver error).
    #[error("audio input device '{device}' stopped: {reason}")]
    Stream {
        /// The device.
        device: String,
        /// What it said.
        reason: String,
    },
}

/// An input device as listed by `--list-devices`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InputDevice {
    /// Identifier to pass back to [`Microphone::open`] (`alsa:default`, `alsa:hw:0,0`, ...).
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Whether it is the host's default input.
    pub is_default: bool,
    /// Default capture rate, when the device reports one.
    pub sample_rate: Option<u32>,
    /// Default channel count, when reported.
    pub channels: Option<u16>,
}

/// Lists the input devices of the default host.
pub fn input_devices() -> Result<Vec<InputDevice>, MicError> {
    let host = cpal::default_host();
    let default_id = host
        .default_input_device()
        .and_then(|d| d.id().ok())
        .map(|id| id.to_string());
    let devices = host
        .input_devices()
        .map_err(|e| MicError::Host(e.to_string()))?;
    Ok(devices
        .map(|d| {
            let id = d.id().map(|i| i.to_string()).unwrap_or_default();
            let config = d.default_input_config().ok();
            InputDevice {
                name: d
                    .description()
                    .map(|desc| desc.name().to_string())
                    .unwrap_or_else(|_| id.clone()),
                is_default: Some(&id) == default_id.as_ref(),
                sample_rate: config.as_ref().map(|c| c.sample_rate()),
                channels: config.as_ref().map(|c| c.channels()),
                id,
            }
        })
        .collect())
}

/// A running capture: 16 kHz mono chunks on demand.
pub struct Microphone {
    // Dropping the stream stops capture; it is kept for its lifetime only.
    _stream: cpal::Stream,
    blocks: Receiver<Vec<f32>>,
    errors: Receiver<String>,
    resampler: Resampler,
    dropped: Arc<AtomicU64>,
    /// Device identifier.
    pub device: String,
    /// The device's capture rate.
    pub source_rate: u32,
    /// The device's channel count (downmixed to mono).
    pub channels: u16,
}

impl std::fmt::Debug for Microphone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Microphone")
            .field("device", &self.device)
            .field("source_rate", &self.source_rate)
            .field("channels", &self.channels)
            .finish()
    }
}

impl Microphone {
    /// Opens `device` (an id from [`input_devices`] or a part of a device name; the default
    /// input when `None`) at its default configuration and starts capturing.
    pub fn open(device: Option<&str>) -> Result<Self, MicError> {
        let host = cpal::default_host();
        let dev = find_device(&host, device)?;
        let id = dev
            .id()
            .map(|i| i.to_string())
            .unwrap_or_else(|_| device.unwrap_or("default").to_string());
        let failed = |reason: String| MicError::Device {
            device: id.clone(),
            reason,
        };
        let config = dev
            .default_input_config()
            .map_err(|e| failed(format!("no input configuration: {e}")))?;
        let format = config.sample_format();
        let rate = config.sample_rate();
        let channels = config.channels();
        let resampler = Resampler::new(rate).map_err(|e| failed(e.to_string()))?;

        let (block_tx, blocks) = std::sync::mpsc::sync_channel(CHANNEL_BLOCKS);
        let (error_tx, errors) = std::sync::mpsc::sync_channel(16);
        let dropped = Arc::new(AtomicU64::new(0));
        let sink = Sink {
            tx: block_tx,
            dropped: dropped.clone(),
            channels: channels.max(1) as usize,
        };
        let on_error = move |e: cpal::Error| {
            let _ = error_tx.try_send(e.to_string());
        };
        let stream_config: cpal::StreamConfig = config.into();
        let stream = match format {
            SampleFormat::I8 => build::<i8>(&dev, &stream_config, sink, on_error),
            SampleFormat::I16 => build::<i16>(&dev, &stream_config, sink, on_error),
            SampleFormat::I32 => build::<i32>(&dev, &stream_config, sink, on_error),
            SampleFormat::U8 => build::<u8>(&dev, &stream_config, sink, on_error),
            SampleFormat::U16 => build::<u16>(&dev, &stream_config, sink, on_error),
            SampleFormat::F32 => build::<f32>(&dev, &stream_config, sink, on_error),
            SampleFormat::F64 => build::<f64>(&dev, &stream_config, sink, on_error),
            other => return Err(failed(format!("unsupported sample format {other}"))),
        }
        .map_err(|e| failed(format!("cannot open a capture stream: {e}")))?;
        stream
            .play()
            .map_err(|e| failed(format!("cannot start capture: {e}")))?;
        Ok(Microphone {
            _stream: stream,
            blocks,
            errors,
            resampler,
            dropped,
            device: id,
            source_rate: rate,
            channels,
        })
    }

    /// The next 16 kHz mono samples, waiting up to `timeout` for the device; `Ok(None)` when
    /// nothing arrived in time. A stream error (device unplugged) is returned once it happens.
    pub fn next_chunk(&mut self, timeout: Duration) -> Result<Option<Vec<f32>>, MicError> {
        if let Ok(reason) = self.errors.try_recv() {
            return Err(MicError::Stream {
                device: self.device.clone(),
                reason,
            });
        }
        let block = match self.blocks.recv_timeout(timeout) {
            Ok(block) => block,
            Err(RecvTimeoutError::Timeout) => return Ok(None),
            Err(RecvTimeoutError::Disconnected) => {
                return Err(MicError::Stream {
                    device: self.device.clone(),
                    reason: "the capture stream closed".into(),
                });
            }
        };
        let mut out = Vec::with_capacity(block.len() * 16_000 / self.source_rate as usize + 16);
        self.resampler.process(&block, &mut out);
        // Drain whatever else is already waiting, so a caller polling slowly catches up.
        while let Ok(more) = self.blocks.try_recv() {
            self.resampler.process(&more, &mut out);
        }
        Ok(Some(out))
    }

    /// Device frames dropped because the consumer fell behind.
    pub fn dropped_frames(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The callback's side: downmix a block and pass it on without blocking.
struct Sink {
    tx: SyncSender<Vec<f32>>,
    dropped: Arc<AtomicU64>,
    channels: usize,
}

impl Sink {
    fn push<T>(&self, data: &[T])
    where
        T: SizedSample,
        f32: FromSample<T>,
    {
        let frames = data.len() / self.channels;
        let scale = 1.0 / self.channels as f32;
        let mono: Vec<f32> = data
            .chunks_exact(self.channels)
            .map(|frame| {
                let sum: f32 = frame.iter().map(|&s| s.to_sample::<f32>()).sum();
                let v = sum * scale;
                if v.is_finite() { v } else { 0.0 }
            })
            .collect();
        match self.tx.try_send(mono) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(frames as u64, Ordering::Relaxed);
            }
        }
    }
}

fn build<T>(
    device: &cpal::Device,
    config: &cpal::StreamConfig,
    sink: Sink,
    on_error: impl FnMut(cpal::Error) + Send + 'static,
) -> Result<cpal::Stream, cpal::Error>
where
    T: SizedSample,
    f32: FromSample<T>,
{
    device.build_input_stream::<T, _, _>(
        *config,
        move |data: &[T], _| sink.push(data),
        on_error,
        None,
    )
}

/// The default input, or the first device whose id equals `wanted` or whose name contains it.
fn find_device(host: &cpal::Host, wanted: Option<&str>) -> Result<cpal::Device, MicError> {
    let devices: Vec<cpal::Device> = host
        .input_devices()
        .map_err(|e| MicError::Host(e.to_string()))?
        .collect();
    let id_of = |d: &cpal::Device| d.id().map(|i| i.to_string()).unwrap_or_default();
    let found = match wanted {
        None => host.default_input_device(),
        Some(w) => devices
            .iter()
            .find(|d| id_of(d) == w)
            .or_else(|| {
                devices.iter().find(|d| {
                    d.description()
                        .map(|desc| desc.name().contains(w))
                        .unwrap_or(false)
                        || id_of(d).contains(w)
                })
            })
            .cloned(),
    };
    found.ok_or_else(|| MicError::NoDevice {
        wanted: wanted.map_or("(default)".into(), |w| format!("'{w}'")),
        available: {
            let ids: Vec<String> = devices.iter().map(id_of).collect();
            if ids.is_empty() {
                "none".into()
            } else {
                ids.join(", ")
            }
        },
    })
}
