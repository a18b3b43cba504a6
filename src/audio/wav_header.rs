//! A WAV file's `fmt ` chunk checked against itself before decoding: symphonia takes the
//! block alignment and byte rate on trust, so a header whose derived fields contradict its
//! channel count and sample size (block align 0, a byte rate that is not rate x block align)
//! would otherwise decode as whatever the reader guesses. Such a header is an
//! [`AudioError::InconsistentHeader`].

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::AudioError;

/// Most chunks skipped while looking for `fmt ` (a real file has a handful before it).
const MAX_CHUNKS: usize = 64;

/// WAVE format tags whose block alignment follows from channels and sample size: PCM, IEEE
/// float, A-law, mu-law and WAVE_FORMAT_EXTENSIBLE. Compressed formats (ADPCM, GSM, MP3 in
/// WAV) set their own block sizes.
const FIXED_FRAME_TAGS: [u16; 5] = [0x0001, 0x0003, 0x0006, 0x0007, 0xFFFE];

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
}

impl FmtChunk {
    /// Reads the 16 bytes every `fmt ` chunk starts with.
    fn parse(b: &[u8; 16]) -> FmtChunk {
        let u16_at = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        FmtChunk {
            format_tag: u16_at(0),
            channels: u16_at(2),
            sample_rate: u32_at(4),
            byte_rate: u32_at(8),
            block_align: u16_at(12),
            bits_per_sample: u16_at(14),
        }
    }

    /// What contradicts itself in this header, if anything. Channel count and sample rate
    /// of 0 are left to the decoder's own checks, which name them.
    pub fn contradiction(&self) -> Option<String> {
        if self.channels == 0 || self.sample_rate == 0 {
            return None;
        }
        if self.block_align == 0 {
            return Some("block align is 0 (bytes per frame must be at least 1)".to_string());
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
}

/// Finds the `fmt ` chunk of a RIFF/WAVE stream; `None` when `r` is not WAV or has none
/// within its first [`MAX_CHUNKS`] chunks.
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
            let mut body = [0u8; 16];
            if size < 16 || r.read_exact(&mut body).is_err() {
                return Ok(None);
            }
            return Ok(Some(FmtChunk::parse(&body)));
        }
        // Chunks are padded to an even length.
        r.seek(SeekFrom::Current(i64::from(size) + i64::from(size & 1)))?;
    }
    Ok(None)
}

/// The `fmt ` chunk of `path` when it is a WAV file (`None` for any other file).
pub fn fmt_of(path: &Path) -> Result<Option<FmtChunk>, AudioError> {
    let io_err = |source| AudioError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_err)?;
    read_fmt(&mut file).map_err(io_err)
}

/// An error when the derived fields of `fmt` (read from `path`) contradict each other.
pub fn check(path: &Path, fmt: &FmtChunk) -> Result<(), AudioError> {
    match fmt.contradiction() {
        Some(reason) => Err(AudioError::InconsistentHeader {
            path: path.to_path_buf(),
            reason,
        }),
        None => Ok(()),
    }
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
}
