//! Errors of the audio front end. Every variant names the file it is about and says what exactly
//! is wrong with it: "unsupported format" without a path is useless in a batch of a thousand files.

use std::path::PathBuf;

/// What can go wrong while opening, decoding or resampling an audio file (or standard input,
/// named `<stdin>`).
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// The path could not be opened or read (missing, no permission, I/O failure).
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The path is a directory, a FIFO, a device or a socket, not an audio file.
    #[error("{path}: is a {kind}, not an audio file")]
    NotAFile {
        /// The path given.
        path: PathBuf,
        /// What it is instead ("directory", "FIFO (named pipe)", "character device", ...).
        kind: &'static str,
    },
    /// The header's derived fields contradict each other (a WAV block align of 0, or one
    /// that does not match channels x bytes per sample, a byte rate that is not rate x block
    /// align): the file is damaged or was written wrong, and guessing would decode noise.
    #[error("{path}: inconsistent header: {reason}")]
    InconsistentHeader {
        /// The file involved.
        path: PathBuf,
        /// Which fields disagree, with their values.
        reason: String,
    },
    /// The file has no bytes at all.
    #[error("{path}: file is empty (0 bytes)")]
    EmptyFile {
        /// The file involved.
        path: PathBuf,
    },
    /// An in-memory input (standard input) has no bytes at all: nothing was piped in.
    #[error("{path}: empty input (no bytes were read)")]
    EmptyInput {
        /// The input's name (`<stdin>`).
        path: PathBuf,
    },
    /// Standard input goes on past the most that is read into memory.
    #[error(
        "{path}: more than {mib} MiB of input; standard input is read into memory whole, \
         so give audio this large as a file",
        mib = *limit_bytes as f64 / (1u64 << 20) as f64
    )]
    InputTooLarge {
        /// The input's name (`<stdin>`).
        path: PathBuf,
        /// The most bytes read.
        limit_bytes: u64,
    },
    /// Standard input is a terminal: no audio will come from it.
    #[error(
        "{path}: is a terminal, not audio; pipe audio in (`cat talk.mp3 | whisper-spec \
         transcribe -`) or give a file path"
    )]
    Terminal {
        /// The input's name (`<stdin>`).
        path: PathBuf,
    },
    /// No supported container format was recognised (text, random bytes, unknown format).
    #[error("{path}: not a recognised audio file: {reason}")]
    UnrecognizedFormat {
        /// The file involved.
        path: PathBuf,
        /// What the demuxers said.
        reason: String,
    },
    /// The container was recognised but holds no audio track.
    #[error("{path}: no audio track in the {container} container")]
    NoAudioTrack {
        /// The file involved.
        path: PathBuf,
        /// The container format's short name.
        container: String,
    },
    /// The audio track's codec has no decoder here, or the decoder refused its parameters.
    #[error("{path}: cannot decode {codec} audio: {reason}")]
    UnsupportedCodec {
        /// The file involved.
        path: PathBuf,
        /// The codec's short name (or id when unknown).
        codec: String,
        /// Why the decoder could not be created.
        reason: String,
    },
    /// The stream declares a sample rate that is zero, missing or out of the supported range.
    #[error("{path}: invalid sample rate {rate} Hz (supported: {min} to {max} Hz)", min = crate::audio::MIN_SOURCE_RATE, max = crate::audio::MAX_SOURCE_RATE)]
    InvalidSampleRate {
        /// The file involved.
        path: PathBuf,
        /// The declared rate (0 when missing).
        rate: u64,
    },
    /// The stream declares zero channels or more than this crate accepts.
    #[error("{path}: invalid channel count {channels} (supported: 1 to {max})", max = crate::audio::MAX_CHANNELS)]
    InvalidChannels {
        /// The file involved.
        path: PathBuf,
        /// The declared channel count.
        channels: usize,
    },
    /// The sample rate changed in the middle of the stream (a chained or spliced file).
    #[error("{path}: sample rate changed mid-stream from {from} Hz to {to} Hz")]
    SampleRateChanged {
        /// The file involved.
        path: PathBuf,
        /// The rate of the first decoded audio.
        from: u32,
        /// The new rate.
        to: u32,
    },
    /// The stream is corrupt beyond recovery before any audio could be decoded, or it keeps
    /// failing packet after packet.
    #[error("{path}: corrupt audio stream: {reason}")]
    Corrupt {
        /// The file involved.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Not a single audio sample could be decoded: the file ends before its first audio frame
    /// (cut off in or right after its header, or a recording of zero length).
    #[error(
        "{path}: no audio: the file ends before its first audio frame (truncated, or a recording of zero length)"
    )]
    NoAudio {
        /// The file involved.
        path: PathBuf,
    },
    /// The audio is longer than the caller accepts (a batch's `--max-hours`): decoding stopped
    /// there rather than filling memory with a runaway or mislabelled stream.
    #[error("{path}: longer than the limit of {limit_s:.0} s; not transcribed")]
    TooLong {
        /// The file involved.
        path: PathBuf,
        /// The limit, in seconds.
        limit_s: f64,
    },
    /// The resampler could not be built for this rate.
    #[error("{path}: cannot resample {rate} Hz to 16 kHz: {reason}")]
    Resample {
        /// The file involved.
        path: PathBuf,
        /// The source rate.
        rate: u32,
        /// rubato's complaint.
        reason: String,
    },
}

impl AudioError {
    /// The file this error is about.
    pub fn path(&self) -> &std::path::Path {
        match self {
            AudioError::Io { path, .. }
            | AudioError::NotAFile { path, .. }
            | AudioError::InconsistentHeader { path, .. }
            | AudioError::EmptyFile { path }
            | AudioError::EmptyInput { path }
            | AudioError::InputTooLarge { path, .. }
            | AudioError::Terminal { path }
            | AudioError::UnrecognizedFormat { path, .. }
            | AudioError::NoAudioTrack { path, .. }
            | AudioError::UnsupportedCodec { path, .. }
            | AudioError::InvalidSampleRate { path, .. }
            | AudioError::InvalidChannels { path, .. }
            | AudioError::SampleRateChanged { path, .. }
            | AudioError::Corrupt { path, .. }
            | AudioError::NoAudio { path }
            | AudioError::TooLong { path, .. }
            | AudioError::Resample { path, .. } => path,
        }
    }
}
