//! Any container and codec symphonia knows (plus Opus through libopus) to mono f32 at the
//! source rate (downmix: mean of the channels), packet by packet.
//!
//! The decoder holds one decoded packet at a time: callers pull samples as they need them, so a
//! three-hour podcast is never in memory in its source format.
//!
//! Bad input and damage, by design:
//! - nothing decodable (not audio, a header with no frames, absurd rate or channel count):
//!   an [`AudioError`] that names the file and the cause, before any audio is returned;
//! - a stream that breaks off after some audio (cut off, or undecodable from some point on):
//!   the audio before is kept, [`DecodeReport::truncated`] is set and a warning is logged;
//! - packets that fail to decode are replaced by silence of their length, and where the
//!   container's timestamps jump (FLAC, Ogg, MP4 and Matroska have them; MP3 does not) the
//!   missing stretch is filled with silence too, so that what follows stays at its time;
//! - NaN and infinite samples become 0, and samples outside [-1, 1] are clipped to it;
//! - a WAV header whose block align, byte rate or channel mask contradicts its channels and
//!   sample size is an error, wherever in the file the probe finds it ([`super::wav_header`],
//!   [`super::checked_wav`]);
//! - MP4 edit lists are applied (symphonia does not), dropping AAC's priming frames;
//! - a WAV that does not declare its length (sizes 0xFFFFFFFF, written to a pipe) ends where
//!   its bytes end, without a truncation warning.

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use symphonia::core::audio::conv::IntoSample;
use symphonia::core::audio::{Audio, AudioBuffer, GenericAudioBufferRef, sample::Sample};
use symphonia::core::codecs::CodecParameters;
use symphonia::core::codecs::audio::well_known::CODEC_ID_OPUS;
use symphonia::core::codecs::audio::{AudioDecoder, AudioDecoderOptions};
use symphonia::core::codecs::registry::CodecRegistry;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, FormatReader, Track};
use symphonia::core::io::{MediaSource, MediaSourceStream, MediaSourceStreamOptions};
use symphonia::core::meta::MetadataOptions;
use symphonia::core::packet::Packet;
use symphonia::core::units::{Duration, TimeBase};
use symphonia_adapter_libopus::OpusDecoder;

use super::checked_wav;
use super::mp4_edit::{self, Mp4Edit};
use super::{AudioError, MAX_CHANNELS, MAX_SOURCE_RATE, MIN_SOURCE_RATE};

/// After this many packets in a row fail to decode, the stream is declared corrupt: random bytes
/// that happen to contain sync words would otherwise be "decoded" packet by packet for ever.
const MAX_CONSECUTIVE_BAD_PACKETS: u32 = 64;
/// A timestamp jump shorter than this (in seconds) is rounding (Matroska stores milliseconds),
/// not lost audio.
const MIN_GAP_S: f64 = 0.005;
/// A timestamp jump longer than this (in seconds) is not filled: it is more likely a broken
/// timestamp than a minute of lost audio.
const MAX_GAP_S: f64 = 60.0;

/// The codec registry: symphonia's decoders plus libopus for Opus (symphonia has none).
fn codecs() -> &'static CodecRegistry {
    static REGISTRY: OnceLock<CodecRegistry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = CodecRegistry::new();
        symphonia::default::register_enabled_codecs(&mut registry);
        registry.register_audio_decoder::<OpusDecoder>();
        registry
    })
}

/// What the container and the first decoded audio say about a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// The file.
    pub path: PathBuf,
    /// Container format short name (`wav`, `flac`, `ogg`, `isomp4`, `matroska`, `mp3`, ...).
    pub container: String,
    /// Codec short name, ffmpeg style (`pcm_s16le`, `flac`, `mp3`, `aac`, `vorbis`, `opus`, ...).
    pub codec: String,
    /// Sample rate of the decoded audio in Hz.
    pub sample_rate: u32,
    /// Channel count of the decoded audio (before the downmix to mono).
    pub channels: usize,
    /// Length in frames as the container declares it, when it does. Only a claim: see
    /// [`DecodeReport::frames`] for what was actually decoded.
    pub declared_frames: Option<u64>,
}

impl SourceInfo {
    /// The container's declared duration in seconds, when it declares one.
    pub fn declared_duration_s(&self) -> Option<f64> {
        self.declared_frames
            .map(|frames| frames as f64 / f64::from(self.sample_rate))
    }
}

/// What happened while decoding: the exact length and anything that went wrong but was survived.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodeReport {
    /// Frames decoded so far, at the source rate.
    pub frames: u64,
    /// Decoding stopped before the end: the file is cut off, or the stream became undecodable
    /// after some audio (which is kept), or the container promised much more than was there.
    pub truncated: bool,
    /// Packets that failed to decode and were skipped.
    pub bad_packets: u64,
    /// Frames of silence put where the container's timestamps jump forward (pages or frames
    /// lost to damage), so that the audio after a gap stays at its time.
    pub gap_frames: u64,
    /// Mono samples that were NaN or infinite (after the downmix) and were replaced by 0.
    pub non_finite_samples: u64,
    /// Mono samples outside [-1, 1] (float formats can hold any value) clipped to it, so the
    /// spectrogram only ever sees audio a 16-bit file could hold.
    pub clipped_samples: u64,
    /// Human-readable warnings (each also logged with `tracing::warn!`).
    pub warnings: Vec<String>,
}

impl DecodeReport {
    /// Exact decoded duration in seconds at `sample_rate`.
    pub fn duration_s(&self, sample_rate: u32) -> f64 {
        self.frames as f64 / f64::from(sample_rate)
    }
}

/// A streaming decoder: one audio track of one file, yielding mono f32 at the source rate.
pub struct Decoder {
    info: SourceInfo,
    report: DecodeReport,
    format: Box<dyn FormatReader>,
    decoder: Box<dyn AudioDecoder>,
    track_id: u32,
    /// Track time base, to turn a bad packet's duration into frames of silence.
    time_base: Option<TimeBase>,
    /// Samples of the first packet, decoded by `open` to learn the real rate and channel count.
    pending: Vec<f32>,
    /// The decoded audio's rate has been seen (containers may declare none, or a wrong one).
    rate_confirmed: bool,
    /// MP4 edit list (priming to skip, presentation length), which symphonia does not apply.
    edit: Option<Mp4Edit>,
    /// Frames decoded from the codec, before the edit list is applied.
    codec_frames: u64,
    /// The edit list's presentation has been fully delivered.
    edit_done: bool,
    consecutive_bad: u32,
    /// The container does not say where the audio ends, so the end of the bytes is its normal
    /// end, not a truncation: a WAV streamed with unknown sizes (0xFFFFFFFF, as `ffmpeg -f wav
    /// -` writes to a pipe), which symphonia reads until a read comes up empty.
    ends_at_eof: bool,
    /// Packets that decoded: until there is one, any failure is an error, not a truncation.
    good_packets: u64,
    /// Where the next packet should start (previous pts + duration), in time-base units.
    next_ts: Option<i64>,
    /// Timestamp jumps filled with silence.
    gaps: u64,
    finished: bool,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("info", &self.info)
            .field("report", &self.report)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// Opens `path`, finds its first decodable audio track and decodes the first packet, so that
    /// every "this is not audio" error surfaces here rather than halfway through a batch.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AudioError> {
        Self::open_named(path.as_ref(), path.as_ref())
    }

    /// Like [`Decoder::open`], naming the file `name` in errors and warnings (a downloaded
    /// object's URL rather than its temporary copy's path).
    pub fn open_named(file: &Path, name: &Path) -> Result<Self, AudioError> {
        let path = name.to_path_buf();
        let io_err = |source| AudioError::Io {
            path: path.clone(),
            source,
        };
        let meta = std::fs::metadata(file).map_err(io_err)?;
        if !meta.is_file() {
            let kind = file_kind(&meta.file_type());
            return Err(AudioError::NotAFile { path, kind });
        }
        if meta.len() == 0 {
            return Err(AudioError::EmptyFile { path });
        }
        let opened = File::open(file).map_err(io_err)?;
        let mut hint = Hint::new();
        if let Some(ext) = file.extension().and_then(|e| e.to_str()) {
            hint.with_extension(ext);
        }
        let edit_path = file.to_path_buf();
        Self::from_source(path, Box::new(opened), &hint, move |track_id| {
            File::open(&edit_path)
                .ok()
                .and_then(|file| mp4_edit::read_edit(file, track_id))
        })
    }

    /// Like [`Decoder::open`], for audio already in memory (standard input, read whole), named
    /// `name` in errors and warnings. With no file extension to hint at the format, the probe
    /// goes by content alone, as it does for a file whose extension it does not know.
    pub fn from_bytes(name: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<Self, AudioError> {
        let path = name.into();
        if bytes.is_empty() {
            return Err(AudioError::EmptyInput { path });
        }
        let bytes = SharedBytes(Arc::new(bytes));
        let edit_bytes = bytes.clone();
        Self::from_source(
            path,
            Box::new(Cursor::new(bytes)),
            &Hint::new(),
            move |track_id| mp4_edit::read_edit(Cursor::new(edit_bytes.as_ref()), track_id),
        )
    }

    /// Probes `source` (named `path`) for its container, picks the audio track and decodes the
    /// first packet; `read_edit` reads an MP4 track's edit list from the same bytes.
    fn from_source(
        path: PathBuf,
        source: Box<dyn MediaSource>,
        hint: &Hint,
        read_edit: impl FnOnce(u32) -> Option<Mp4Edit>,
    ) -> Result<Self, AudioError> {
        let mss = MediaSourceStream::new(source, MediaSourceStreamOptions::default());
        // WAV headers are checked where the probe finds them (`checked_wav`).
        let format = checked_wav::probe()
            .probe(
                hint,
                mss,
                FormatOptions::default(),
                MetadataOptions::default(),
            )
            .map_err(|e| match checked_wav::refusal_of(&e) {
                Some(refusal) => refusal.clone().into_audio_error(&path),
                // A known header that stops short (e.g. a FLAC cut after its metadata).
                _ if is_eof(&e) => AudioError::NoAudio { path: path.clone() },
                _ => AudioError::UnrecognizedFormat {
                    path: path.clone(),
                    reason: describe_probe_error(&e),
                },
            })?;
        let container = format.format_info().short_name.to_string();

        let track = pick_track(format.tracks()).ok_or_else(|| AudioError::NoAudioTrack {
            path: path.clone(),
            container: container.clone(),
        })?;
        let track_id = track.id;
        let declared_frames = declared_frames(track);
        let time_base = track.time_base;
        let mut params = track
            .codec_params
            .as_ref()
            .and_then(CodecParameters::audio)
            .ok_or_else(|| AudioError::NoAudioTrack {
                path: path.clone(),
                container: container.clone(),
            })?
            .clone();
        if params.codec == CODEC_ID_OPUS {
            // Opus always runs at 48 kHz; a container's rate for it (WebM often carries the
            // encoder's input rate) is informational only (RFC 7845). Decode at 48 kHz, as
            // ffmpeg does and reports.
            params.sample_rate = Some(48_000);
        }

        // Check what the container claims before a decoder allocates buffers for it: a header
        // that says 65535 channels or 0 Hz must not get that far.
        if let Some(rate) = params.sample_rate {
            check_rate(&path, rate)?;
        }
        if let Some(channels) = &params.channels {
            check_channels(&path, channels.count())?;
        }

        let decoder = codecs()
            .make_audio_decoder(&params, &AudioDecoderOptions::default())
            .map_err(|e| AudioError::UnsupportedCodec {
                path: path.clone(),
                codec: codec_name(&params),
                reason: e.to_string(),
            })?;
        let codec = decoder.codec_info().short_name.to_string();
        let edit = if container == "isomp4" {
            read_edit(track_id)
        } else {
            None
        };
        let declared_frames = match (edit, params.sample_rate) {
            (Some(edit), Some(rate)) => edit.keep_frames(rate).or(declared_frames),
            _ => declared_frames,
        };
        let ends_at_eof = container == "wave" && declared_frames.is_none();

        let mut this = Decoder {
            info: SourceInfo {
                path,
                container,
                codec,
                sample_rate: params.sample_rate.unwrap_or(0),
                channels: params.channels.as_ref().map_or(0, |c| c.count()),
                declared_frames,
            },
            report: DecodeReport::default(),
            format,
            decoder,
            track_id,
            time_base,
            pending: Vec::new(),
            rate_confirmed: false,
            edit,
            codec_frames: 0,
            edit_done: false,
            consecutive_bad: 0,
            ends_at_eof,
            good_packets: 0,
            next_ts: None,
            gaps: 0,
            finished: false,
        };

        // Decode the first packet: it fixes the real rate and channel count (some containers do
        // not declare them) and proves that there is audio at all.
        let mut first = Vec::new();
        while this.good_packets == 0 {
            if !this.decode_packet(&mut first)? {
                return Err(AudioError::NoAudio {
                    path: this.info.path,
                });
            }
        }
        this.pending = first;
        Ok(this)
    }

    /// What the container and the first packet say about the source.
    pub fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// What decoding has found so far; complete once [`Decoder::next_samples`] returned 0.
    pub fn report(&self) -> &DecodeReport {
        &self.report
    }

    /// Consumes the decoder and returns its report.
    pub fn into_report(self) -> DecodeReport {
        self.report
    }

    /// Appends the next decoded mono samples (source rate) to `out` and returns how many were
    /// appended; 0 means the end of the stream. Chunks are one packet long (a few ms to ~100 ms).
    pub fn next_samples(&mut self, out: &mut Vec<f32>) -> Result<usize, AudioError> {
        if !self.pending.is_empty() {
            let n = self.pending.len();
            out.append(&mut self.pending);
            return Ok(n);
        }
        let start = out.len();
        loop {
            if !self.decode_packet(out)? {
                return Ok(0);
            }
            if out.len() > start {
                return Ok(out.len() - start);
            }
        }
    }

    /// Reads and decodes packets until one yields audio for our track (appended to `out`,
    /// returns true) or the stream ends (returns false, after the end-of-stream checks).
    fn decode_packet(&mut self, out: &mut Vec<f32>) -> Result<bool, AudioError> {
        if self.finished {
            return Ok(false);
        }
        if self.edit_done {
            return self.finish(None);
        }
        loop {
            let packet = match self.format.next_packet() {
                Ok(Some(packet)) => packet,
                Ok(None) => return self.finish(None),
                Err(SymError::ResetRequired) => {
                    return self.finish(Some(
                        "the stream changes its track layout (chained stream); only the first \
                         part was decoded"
                            .into(),
                    ));
                }
                Err(e) => {
                    if self.good_packets == 0 {
                        return Err(self.stream_error(e));
                    }
                    if self.ends_at_eof && is_eof(&e) {
                        return self.finish(None);
                    }
                    let reason = describe_stream_error(&e);
                    return self.stop_early(reason);
                }
            };
            if packet.track_id != self.track_id {
                continue;
            }
            let appended_from = out.len();
            self.fill_gap(&packet, out);
            let decoded = match self.decoder.decode(&packet) {
                Ok(decoded) => decoded,
                Err(SymError::DecodeError(_)) | Err(SymError::IoError(_)) => {
                    self.report.bad_packets += 1;
                    self.consecutive_bad += 1;
                    if self.consecutive_bad >= MAX_CONSECUTIVE_BAD_PACKETS {
                        let reason = format!(
                            "{MAX_CONSECUTIVE_BAD_PACKETS} packets in a row failed to decode"
                        );
                        if self.good_packets == 0 {
                            return Err(AudioError::Corrupt {
                                path: self.info.path.clone(),
                                reason,
                            });
                        }
                        return self.stop_early(reason);
                    }
                    // Keep the timeline: what follows stays at the right time (timestamps!).
                    if let Some(frames) = self.packet_frames(&packet) {
                        let start = out.len();
                        out.resize(start + frames, 0.0);
                        self.keep_edited(out, start);
                    }
                    if out.len() > appended_from {
                        return Ok(true);
                    }
                    continue;
                }
                Err(e) => {
                    if self.good_packets == 0 {
                        return Err(AudioError::Corrupt {
                            path: self.info.path.clone(),
                            reason: e.to_string(),
                        });
                    }
                    return self.stop_early(e.to_string());
                }
            };
            self.consecutive_bad = 0;
            self.good_packets += 1;
            let frames = decoded.frames();
            if frames == 0 {
                if out.len() > appended_from {
                    return Ok(true);
                }
                continue;
            }
            let spec_rate = decoded.spec().rate();
            let spec_channels = decoded.spec().channels().count();
            check_channels(&self.info.path, spec_channels)?;
            if !self.rate_confirmed {
                check_rate(&self.info.path, spec_rate)?;
                self.rate_confirmed = true;
                self.info.sample_rate = spec_rate;
                self.info.channels = spec_channels;
            } else if spec_rate != self.info.sample_rate {
                return Err(AudioError::SampleRateChanged {
                    path: self.info.path.clone(),
                    from: self.info.sample_rate,
                    to: spec_rate,
                });
            }
            let start = out.len();
            downmix(&decoded, out);
            let (non_finite, clipped) = sanitize(&mut out[start..]);
            self.report.non_finite_samples += non_finite as u64;
            self.report.clipped_samples += clipped as u64;
            self.keep_edited(out, start);
            if out.len() > appended_from {
                return Ok(true);
            }
        }
    }

    /// Applies the MP4 edit list to the samples just appended at `out[start..]` (drops priming
    /// and anything past the presentation end) and counts what is kept.
    fn keep_edited(&mut self, out: &mut Vec<f32>, start: usize) {
        let n = (out.len() - start) as u64;
        if let Some(edit) = self.edit {
            let rate = self.info.sample_rate;
            let skip = edit.skip_frames(rate);
            let end = edit.keep_frames(rate).map(|keep| skip + keep);
            let pos = self.codec_frames;
            let lo = skip.saturating_sub(pos).min(n) as usize;
            let hi = end.map_or(n, |e| e.saturating_sub(pos).min(n)) as usize;
            if end.is_some_and(|e| pos + n >= e) {
                self.edit_done = true;
            }
            if hi <= lo {
                out.truncate(start);
            } else {
                out.truncate(start + hi);
                out.drain(start..start + lo);
            }
        }
        self.codec_frames += n;
        self.report.frames += (out.len() - start) as u64;
    }

    /// End of stream: record why, check the decoded length against the container's claim,
    /// and emit the warnings once.
    fn finish(&mut self, early: Option<String>) -> Result<bool, AudioError> {
        self.finished = true;
        if let Some(reason) = early {
            self.warn(reason);
        }
        if let Some(declared) = self.info.declared_frames.filter(|_| self.report.frames > 0) {
            // A container that promised much more than there was: the file was cut off (or the
            // header lies, as in a WAV claiming 2 GB). Small differences are encoder padding.
            let slack = declared / 100 + u64::from(self.info.sample_rate) / 10;
            if self.report.frames + slack < declared && !self.report.truncated {
                self.report.truncated = true;
                let rate = f64::from(self.info.sample_rate.max(1));
                self.warn(format!(
                    "the container declares {:.3} s but only {:.3} s could be decoded \
                     (file truncated or damaged)",
                    declared as f64 / rate,
                    self.report.frames as f64 / rate
                ));
            }
        }
        if self.report.bad_packets > 0 {
            self.warn(format!(
                "{} could not be decoded (replaced by silence of the same length where the \
                 container gives it)",
                plural(self.report.bad_packets, "packet")
            ));
        }
        if self.gaps > 0 {
            let rate = f64::from(self.info.sample_rate.max(1));
            self.warn(format!(
                "{} in the stream's timestamps (damaged or missing data), {:.3} s in all, \
                 filled with silence",
                plural(self.gaps, "gap"),
                self.report.gap_frames as f64 / rate
            ));
        }
        if self.report.non_finite_samples > 0 {
            self.warn(format!(
                "{} NaN or infinite, replaced by 0",
                plural(self.report.non_finite_samples, "sample")
            ));
        }
        if self.report.clipped_samples > 0 {
            self.warn(format!(
                "{} outside [-1, 1], clipped (as a conversion to 16-bit would)",
                plural(self.report.clipped_samples, "sample")
            ));
        }
        Ok(false)
    }

    /// Follows the container's timestamps: when this packet starts later than the previous one
    /// ended, appends silence for the missing stretch. Only after the first good packet, so
    /// leading offsets and encoder delay are never taken for gaps.
    fn fill_gap(&mut self, packet: &Packet, out: &mut Vec<f32>) {
        let pts = packet.pts.get();
        let expected = self.next_ts;
        self.next_ts = (packet.dur.get() > 0)
            .then(|| pts.saturating_add(i64::try_from(packet.dur.get()).unwrap_or(i64::MAX)));
        let (Some(expected), Some(tb)) = (expected, self.time_base) else {
            return;
        };
        if self.good_packets == 0 || pts <= expected || self.info.sample_rate == 0 {
            return;
        }
        let Some(gap) = tb.calc_duration(Duration::from((pts - expected) as u64)) else {
            return;
        };
        let secs = gap.as_secs_f64();
        if !(MIN_GAP_S..=MAX_GAP_S).contains(&secs) {
            return;
        }
        let frames = (secs * f64::from(self.info.sample_rate)).round() as usize;
        let start = out.len();
        out.resize(start + frames, 0.0);
        self.gaps += 1;
        self.report.gap_frames += frames as u64;
        self.keep_edited(out, start);
    }

    /// How many frames a packet that failed to decode should have produced, when the container
    /// says (its duration less trimming), at most 10 s: the silence that replaces it.
    fn packet_frames(&self, packet: &Packet) -> Option<usize> {
        let rate = u64::from(self.info.sample_rate);
        let tb = self.time_base?;
        if rate == 0 {
            return None;
        }
        let dur = packet
            .dur
            .get()
            .saturating_sub(packet.trim_start.get())
            .saturating_sub(packet.trim_end.get());
        let secs = tb.calc_duration(Duration::from(dur))?.as_secs_f64();
        let frames = (secs * rate as f64).round() as u64;
        (frames > 0 && frames <= rate * 10).then_some(frames as usize)
    }

    fn warn(&mut self, message: String) {
        tracing::warn!("{}: {}", self.info.path.display(), message);
        self.report.warnings.push(message);
    }

    /// Decoding cannot go on after some audio came out: keep that audio, warn, and end.
    fn stop_early(&mut self, reason: String) -> Result<bool, AudioError> {
        self.report.truncated = true;
        let rate = self.info.sample_rate.max(1);
        let declared = match self.info.declared_duration_s() {
            Some(d) => format!(" of the {d:.3} s the container declares"),
            None => String::new(),
        };
        self.finish(Some(format!(
            "file truncated: the stream ends after {:.3} s{declared} ({reason}); \
             decoded what was there",
            self.report.duration_s(rate),
        )))
    }

    /// An error from the demuxer before any audio came out.
    fn stream_error(&self, e: SymError) -> AudioError {
        let path = self.info.path.clone();
        match e {
            SymError::IoError(_) if is_eof(&e) => AudioError::NoAudio { path },
            SymError::IoError(source) => AudioError::Io { path, source },
            _ => AudioError::Corrupt {
                path,
                reason: e.to_string(),
            },
        }
    }
}

/// In-memory input shared, without a copy, by symphonia's reader and the MP4 edit-list reader.
#[derive(Clone)]
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// "1 packet", "2 packets".
fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

fn is_eof(e: &SymError) -> bool {
    matches!(e, SymError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof)
}

/// The first audio track whose codec we can decode; else the first audio track (so that the
/// error names its codec).
fn pick_track(tracks: &[Track]) -> Option<&Track> {
    let audio = |t: &&Track| {
        t.codec_params
            .as_ref()
            .and_then(CodecParameters::audio)
            .is_some()
    };
    tracks
        .iter()
        .filter(audio)
        .find(|t| {
            t.codec_params
                .as_ref()
                .and_then(CodecParameters::audio)
                .is_some_and(|p| codecs().get_audio_decoder(p.codec).is_some())
        })
        .or_else(|| tracks.iter().find(audio))
}

/// Frames the container declares for the track: an explicit frame count, else its duration.
fn declared_frames(track: &Track) -> Option<u64> {
    if let Some(n) = track.num_frames {
        return Some(n);
    }
    let rate = track
        .codec_params
        .as_ref()
        .and_then(CodecParameters::audio)
        .and_then(|p| p.sample_rate)?;
    let time = track.time_base?.calc_duration(track.duration?)?;
    Some((time.as_secs_f64() * f64::from(rate)).round() as u64)
}

fn codec_name(params: &symphonia::core::codecs::audio::AudioCodecParameters) -> String {
    match codecs().get_audio_decoder(params.codec) {
        Some(registered) => registered.codec.info.short_name.to_string(),
        None => format!("codec id {}", params.codec),
    }
}

fn check_rate(path: &Path, rate: u32) -> Result<(), AudioError> {
    if (MIN_SOURCE_RATE..=MAX_SOURCE_RATE).contains(&rate) {
        Ok(())
    } else {
        Err(AudioError::InvalidSampleRate {
            path: path.to_path_buf(),
            rate: u64::from(rate),
        })
    }
}

fn check_channels(path: &Path, channels: usize) -> Result<(), AudioError> {
    if (1..=MAX_CHANNELS).contains(&channels) {
        Ok(())
    } else {
        Err(AudioError::InvalidChannels {
            path: path.to_path_buf(),
            channels,
        })
    }
}

fn describe_probe_error(e: &SymError) -> String {
    match e {
        SymError::Unsupported(_) => "no supported container format found (supported: wav, aiff, \
            flac, mp3, ogg/vorbis, opus, webm/mkv, mp4/m4a, aac, caf)"
            .into(),
        _ => format!("invalid header: {e}"),
    }
}

fn describe_stream_error(e: &SymError) -> String {
    if is_eof(e) {
        "unexpected end of file".into()
    } else {
        e.to_string()
    }
}

/// Appends the mean of all channels, frame by frame, to `out`.
fn downmix(buf: &GenericAudioBufferRef<'_>, out: &mut Vec<f32>) {
    match buf {
        GenericAudioBufferRef::U8(b) => downmix_typed(b, out),
        GenericAudioBufferRef::U16(b) => downmix_typed(b, out),
        GenericAudioBufferRef::U24(b) => downmix_typed(b, out),
        GenericAudioBufferRef::U32(b) => downmix_typed(b, out),
        GenericAudioBufferRef::S8(b) => downmix_typed(b, out),
        GenericAudioBufferRef::S16(b) => downmix_typed(b, out),
        GenericAudioBufferRef::S24(b) => downmix_typed(b, out),
        GenericAudioBufferRef::S32(b) => downmix_typed(b, out),
        GenericAudioBufferRef::F32(b) => downmix_typed(b, out),
        GenericAudioBufferRef::F64(b) => downmix_typed(b, out),
    }
}

fn downmix_typed<S>(buf: &AudioBuffer<S>, out: &mut Vec<f32>)
where
    S: Sample + IntoSample<f32>,
{
    let frames = buf.frames();
    let planes = buf.num_planes();
    let start = out.len();
    out.resize(start + frames, 0.0);
    let dst = &mut out[start..];
    if planes == 0 {
        return;
    }
    for p in 0..planes {
        if let Some(plane) = buf.plane(p) {
            for (d, &s) in dst.iter_mut().zip(plane) {
                *d += s.into_sample();
            }
        }
    }
    if planes > 1 {
        let scale = 1.0 / planes as f32;
        dst.iter_mut().for_each(|d| *d *= scale);
    }
}

/// Replaces NaN and infinities by 0 and clips the rest to [-1, 1] (a float WAV can hold
/// anything); returns how many were non-finite and how many were clipped.
fn sanitize(samples: &mut [f32]) -> (usize, usize) {
    let (mut non_finite, mut clipped) = (0, 0);
    for s in samples.iter_mut() {
        if !s.is_finite() {
            *s = 0.0;
            non_finite += 1;
        } else if s.abs() > 1.0 {
            *s = s.clamp(-1.0, 1.0);
            clipped += 1;
        }
    }
    (non_finite, clipped)
}

/// What a path that is not a regular file is, for the error that refuses it.
fn file_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_dir() {
        "directory"
    } else if kind.is_fifo() {
        "FIFO (named pipe)"
    } else if kind.is_char_device() {
        "character device"
    } else if kind.is_block_device() {
        "block device"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}
