//! A WAV file's `fmt ` chunk checked against itself before symphonia reads it.
//!
//! symphonia takes the block alignment and byte rate on trust, so a header whose derived
//! fields contradict its channel count and sample size (block align 0, a byte rate that is not
//! rate x block align) would decode as whatever the reader guesses; and its WAV reader
//! overflows on some headers (a multiplication on 65282 channels of a 4-byte frame, a shift on
//! an extensible channel mask that names fewer speakers than channels). Such a header is
//! refused ([`HeaderRefusal`]) wherever symphonia would parse it: [`super::checked_wav`] runs
//! this check at the exact offset where the probe found the `RIFF` marker.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::{AudioError, MAX_CHANNELS, MAX_SOURCE_RATE, MIN_SOURCE_RATE};

/// Most chunks skipped while looking for `fmt ` (a real file has a handful before it).
const MAX_CHUNKS: usize = 64;

/// WAVE format tags whose block alignment follows from channels and sample size: PCM, IEEE
/// float, A-law, mu-law and WAVE_FORMAT_EXTENSIBLE. Compressed formats (ADPCM, GSM, MP3 in
/// WAV) set their own block sizes.
const FIXED_FRAME_TAGS: [u16; 5] = [0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE];

/// WAVE_FORMAT_EXTENSIBLE: the chunk goes on with a channel mask and a sub-format GUID.
const EXTENSIBLE: u16 = 0xFFFE;

/// Bytes 4..8 of the Ambisonic B-format sub-format GUIDs (`xxxxxxxx-0721-11d3-...`): their
/// channels are ambisonic components, not speaker positions, so no channel mask applies.
const AMBISONIC_GUID_MIDDLE: [u8; 4] = [0x21, 0x07, 0xd3, 0x11];

/// Speaker positions a WAVE channel mask can name (bits 0..=17); a mask that needs more is
/// one symphonia cannot map.
const WAVE_SPEAKER_POSITIONS: u32 = 18;

/// The fields of a `fmt ` chunk that must agree with each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FmtChunk {
    /// Format tag (1 PCM, 3 float, 0xFFFE extensible, ...).
    pub format_tag: u16,
    /// Interleaved channels.
    pub channels: u16,
    /// Frames per second.
    pub sample_rate: u32,
    /// Bytes per second the header declares.
    pub byte_rate: u32,
    /// Bytes per frame the header declares.
    pub block_align: u16,
    /// Bits per sample (the container size).
    pub bits_per_sample: u16,
    /// The speaker mask of an extensible chunk whose channels are speakers (not ambisonic).
    pub channel_mask: Option<u32>,
}

/// Why a WAV header is refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderRefusal {
    /// A sample rate outside what the decoder accepts.
    #[error("sample rate {0} Hz")]
    SampleRate(u32),
    /// A channel count outside what the decoder accepts.
    #[error("{0} channels")]
    Channels(u16),
    /// Fields that contradict each other.
    #[error("inconsistent header: {0}")]
    Inconsistent(String),
}

impl HeaderRefusal {
    /// The error to report for the file at `path`.
    pub fn into_audio_error(self, path: &Path) -> AudioError {
        let path = path.to_path_buf();
        match self {
            HeaderRefusal::SampleRate(rate) => AudioError::InvalidSampleRate {
                path,
                rate: u64::from(rate),
            },
            HeaderRefusal::Channels(channels) => AudioError::InvalidChannels {
                path,
                channels: usize::from(channels),
            },
            HeaderRefusal::Inconsistent(reason) => AudioError::InconsistentHeader { path, reason },
        }
    }
}

impl FmtChunk {
    /// Reads a `fmt ` chunk body: the 16 bytes every chunk starts with, and the channel mask
    /// and sub-format when `b` holds an extensible chunk's 40.
    fn parse(b: &[u8]) -> FmtChunk {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let format_tag = u16_at(0);
        let speakers =
            format_tag == EXTENSIBLE && b.len() >= 40 && b[28..32] != AMBISONIC_GUID_MIDDLE;
        FmtChunk {
            format_tag,
            channels: u16_at(2),
            sample_rate: u32_at(4),
            byte_rate: u32_at(8),
            block_align: u16_at(12),
            bits_per_sample: u16_at(14),
            channel_mask: speakers.then(|| u32_at(20)),
        }
    }

    /// Why this header cannot be decoded, if it cannot: a rate or channel count out of range,
    /// or fields that contradict each other.
    pub fn refusal(&self) -> Option<HeaderRefusal> {
        if !(MIN_SOURCE_RATE..=MAX_SOURCE_RATE).contains(&self.sample_rate) {
            return Some(HeaderRefusal::SampleRate(self.sample_rate));
        }
        if !(1..=MAX_CHANNELS).contains(&usize::from(self.channels)) {
            return Some(HeaderRefusal::Channels(self.channels));
        }
        self.contradiction().map(HeaderRefusal::Inconsistent)
    }

    /// What contradicts itself in this header, if anything. Channel count and sample rate
    /// of 0 are left to [`FmtChunk::refusal`], which names them.
    pub fn contradiction(&self) -> Option<String> {
        if self.channels == 0 || self.sample_rate == 0 {
            return None;
        }
        if self.block_align == 0 {
            return Some("block align is 0 (bytes per frame must be at least 1)".to_string());
        }
        if let Some(reason) = self.mask_contradiction() {
            return Some(reason);
        }
        if !FIXED_FRAME_TAGS.contains(&self.format_tag) {
            return None;
        }
        let frame = u32::from(self.channels) * u32::from(self.bits_per_sample).div_ceil(8);
        if u32::from(self.block_align) != frame {
            return Some(format!(
                "block align {} but {} channels of {} bits need {frame} bytes per frame",
                self.block_align, self.channels, self.bits_per_sample
            ));
        }
        let rate = u64::from(self.sample_rate) * u64::from(self.block_align);
        if u64::from(self.byte_rate) != rate {
            return Some(format!(
                "byte rate {} but {} Hz x {} bytes per frame is {rate}",
                self.byte_rate, self.sample_rate, self.block_align
            ));
        }
        None
    }

    /// A channel mask that names fewer speakers than there are channels, where the missing
    /// ones cannot be placed above its highest speaker within the 18 WAVE positions. A reader
    /// would have to invent positions past the last one (symphonia's shift overflows there,
    /// and it could not map them anyway).
    fn mask_contradiction(&self) -> Option<String> {
        let mask = self.channel_mask?;
        let named = mask.count_ones();
        let channels = u32::from(self.channels);
        if channels <= named {
            return None;
        }
        let highest = 32 - mask.leading_zeros();
        if highest + (channels - named) <= WAVE_SPEAKER_POSITIONS {
            return None;
        }
        Some(format!(
            "channel mask {mask:#010x} names {named} speakers for {channels} channels, and the \
             other {} do not fit in the {WAVE_SPEAKER_POSITIONS} WAVE speaker positions",
            channels - named
        ))
    }
}

/// Finds the `fmt ` chunk of the RIFF/WAVE stream that starts at `r`'s position; `None` when
/// `r` is not WAV there or has no `fmt ` within its first [`MAX_CHUNKS`] chunks.
pub fn read_fmt(r: &mut (impl Read + Seek)) -> std::io::Result<Option<FmtChunk>> {
    let mut head = [0u8; 12];
    if r.read_exact(&mut head).is_err() || &head[0..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return Ok(None);
    }
    for _ in 0..MAX_CHUNKS {
        let mut chunk = [0u8; 8];
        if r.read_exact(&mut chunk).is_err() {
            return Ok(None);
        }
        let size = u32::from_le_bytes([chunk[4], chunk[5], chunk[6], chunk[7]]);
        if &chunk[0..4] == b"fmt " {
            if size < 16 {
                return Ok(None);
            }
            let mut body = [0u8; 40];
            let len = if size >= 40 { 40 } else { 16 };
            if r.read_exact(&mut body[..len]).is_err() {
                return Ok(None);
            }
            return Ok(Some(FmtChunk::parse(&body[..len])));
        }
        // Chunks are padded to an even length.
        r.seek(SeekFrom::Current(i64::from(size) + i64::from(size & 1)))?;
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcm(channels: u16, bits: u16) -> FmtChunk {
        let block_align = channels * bits.div_ceil(8);
        FmtChunk {
            format_tag: 1,
            channels,
            sample_rate: 16_000,
            byte_rate: 16_000 * u32::from(block_align),
            block_align,
            bits_per_sample: bits,
            channel_mask: None,
        }
    }

    #[test]
    fn consistent_headers_pass() {
        assert_eq!(pcm(1, 16).contradiction(), None);
        assert_eq!(pcm(2, 24).contradiction(), None);
        // ADPCM sets its own block size.
        let adpcm = FmtChunk {
            format_tag: 2,
            block_align: 2048,
            ..pcm(1, 4)
        };
        assert_eq!(adpcm.contradiction(), None);
    }

    #[test]
    fn contradictions_are_named() {
        let zero = FmtChunk {
            block_align: 0,
            ..pcm(1, 16)
        };
        assert!(zero.contradiction().unwrap().contains("block align is 0"));
        let wrong = FmtChunk {
            block_align: 3,
            ..pcm(1, 16)
        };
        assert!(wrong.contradiction().unwrap().contains("block align 3"));
        let rate = FmtChunk {
            byte_rate: 1,
            ..pcm(1, 16)
        };
        assert!(rate.contradiction().unwrap().contains("byte rate 1"));
    }

    #[test]
    fn fmt_is_found_after_other_chunks() {
        let mut bytes = b"RIFF\0\0\0\0WAVELIST\x03\0\0\0abc\0fmt \x10\0\0\0".to_vec();
        let f = pcm(2, 16);
        for v in [f.format_tag, f.channels] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        bytes.extend_from_slice(&f.sample_rate.to_le_bytes());
        bytes.extend_from_slice(&f.byte_rate.to_le_bytes());
        for v in [f.block_align, f.bits_per_sample] {
            bytes.extend_from_slice(&v.to_le_bytes());
        }
        let got = read_fmt(&mut std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(got, Some(f));
        let none = read_fmt(&mut std::io::Cursor::new(b"fLaC".to_vec())).unwrap();
        assert_eq!(none, None);
    }

    fn extensible(channels: u16, mask: u32) -> FmtChunk {
        FmtChunk {
            format_tag: EXTENSIBLE,
            channel_mask: Some(mask),
            ..pcm(channels, 16)
        }
    }

    #[test]
    fn channel_masks_that_fit_pass() {
        // Stereo named in full, mono with no speaker named, 4 channels over a stereo mask.
        assert_eq!(extensible(2, 0b11).contradiction(), None);
        assert_eq!(extensible(1, 0).contradiction(), None);
        assert_eq!(extensible(4, 0b11).contradiction(), None);
        // More speakers named than channels: a reader drops the extra ones.
        assert_eq!(extensible(1, 0xFFFF_FFFF).contradiction(), None);
    }

    #[test]
    fn channel_masks_that_cannot_be_completed_are_refused() {
        // The top bit set and one speaker missing (what overflowed symphonia's shift).
        let top = extensible(2, 0x8000_0000).contradiction().unwrap();
        assert!(top.contains("channel mask 0x80000000"), "{top}");
        // 40 channels over an empty mask.
        assert!(extensible(40, 0).contradiction().is_some());
        // 18 positions exactly fit; 19 do not.
        assert_eq!(extensible(18, 0).contradiction(), None);
        assert!(extensible(19, 0).contradiction().is_some());
    }

    #[test]
    fn refusals_name_rate_and_channels() {
        let slow = FmtChunk {
            sample_rate: 0,
            ..pcm(1, 16)
        };
        assert_eq!(slow.refusal(), Some(HeaderRefusal::SampleRate(0)));
        let wide = pcm(300, 16);
        assert_eq!(wide.refusal(), Some(HeaderRefusal::Channels(300)));
        assert_eq!(pcm(2, 16).refusal(), None);
    }
}
