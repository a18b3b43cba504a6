//! The edit list of an MP4/M4A audio track: how many priming frames to drop at the start and
//! how long the presentation is.
//!
//! AAC encoders put 1024 or more frames of priming before the audio and record that in the
//! track's edit list (`moov/trak/edts/elst`). symphonia 0.6 parses the list but does not apply
//! it, so without this the decoded audio starts ~23 ms late (at 44.1 kHz) and runs long: word
//! timestamps shift and the duration is not the one ffmpeg reports. Only the header boxes are
//! read (`mdat` is skipped by seeking), and a `moov` larger than [`MAX_MOOV_BYTES`] is ignored.

use std::io::{Read, Seek, SeekFrom};

/// Largest `moov` box read into memory; real ones are kilobytes to a few megabytes.
const MAX_MOOV_BYTES: u64 = 64 << 20;

/// The presentation window of one track, from its edit list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Mp4Edit {
    /// Media time where the presentation starts (priming to skip), in `media_timescale` units.
    pub media_start: u64,
    /// Presentation length in `movie_timescale` units.
    pub duration: u64,
    /// The track's `mdhd` timescale.
    pub media_timescale: u32,
    /// The movie's `mvhd` timescale.
    pub movie_timescale: u32,
}

impl Mp4Edit {
    /// Frames to skip at the start, at `rate` Hz.
    pub fn skip_frames(&self, rate: u32) -> u64 {
        scale(
            self.media_start,
            u64::from(rate),
            u64::from(self.media_timescale),
        )
    }

    /// Frames to keep after the skip, at `rate` Hz (`None`: a zero duration, taken as "to the
    /// end", as some muxers write it).
    pub fn keep_frames(&self, rate: u32) -> Option<u64> {
        (self.duration > 0).then(|| {
            scale(
                self.duration,
                u64::from(rate),
                u64::from(self.movie_timescale),
            )
        })
    }
}

fn scale(value: u64, num: u64, den: u64) -> u64 {
    ((u128::from(value) * u128::from(num) + u128::from(den) / 2) / u128::from(den)) as u64
}

/// The edit of audio track `track_id` in the MP4 file `file` (an open file, or its bytes in a
/// cursor), if it has a simple one: any number of leading empty edits are ignored, then exactly
/// one edit at normal rate. Anything else (no list, several segments, unreadable boxes) gives
/// `None` and the stream is used as decoded.
pub(crate) fn read_edit(mut file: impl Read + Seek, track_id: u32) -> Option<Mp4Edit> {
    let file_len = file.seek(SeekFrom::End(0)).ok()?;
    let moov = find_top_level(&mut file, file_len, b"moov")?;
    let movie_timescale = child(&moov, b"mvhd").and_then(mvhd_timescale)?;
    let traks = Boxes(&moov).filter(|(kind, _)| kind == b"trak");
    for (_, trak) in traks {
        let id = child(trak, b"tkhd").and_then(tkhd_track_id)?;
        if id != track_id {
            continue;
        }
        let mdia = child(trak, b"mdia")?;
        let media_timescale = child(mdia, b"mdhd").and_then(mdhd_timescale)?;
        let elst = child(trak, b"edts").and_then(|edts| child(edts, b"elst"))?;
        let (media_start, duration) = single_edit(elst)?;
        if media_timescale == 0 || movie_timescale == 0 {
            return None;
        }
        return Some(Mp4Edit {
            media_start,
            duration,
            media_timescale,
            movie_timescale,
        });
    }
    None
}

/// Reads the payload of the first top-level box of type `kind`, seeking over the others.
fn find_top_level<R: Read + Seek>(file: &mut R, file_len: u64, kind: &[u8; 4]) -> Option<Vec<u8>> {
    let mut pos = 0u64;
    while pos + 8 <= file_len {
        file.seek(SeekFrom::Start(pos)).ok()?;
        let mut header = [0u8; 16];
        file.read_exact(&mut header[..8]).ok()?;
        let size32 = u32::from_be_bytes(header[..4].try_into().ok()?);
        let (size, header_len) = match size32 {
            0 => (file_len - pos, 8),
            1 => {
                file.read_exact(&mut header[8..16]).ok()?;
                (u64::from_be_bytes(header[8..16].try_into().ok()?), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header_len || pos + size > file_len {
            return None;
        }
        if &header[4..8] == kind {
            let payload = size - header_len;
            if payload > MAX_MOOV_BYTES {
                return None;
            }
            let mut buf = vec![0u8; payload as usize];
            file.read_exact(&mut buf).ok()?;
            return Some(buf);
        }
        pos += size;
    }
    None
}

/// Iterator over the child boxes of a payload: `(type, payload)`. Stops at the first malformed
/// header.
struct Boxes<'a>(&'a [u8]);

impl<'a> Iterator for Boxes<'a> {
    type Item = ([u8; 4], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let data = self.0;
        if data.len() < 8 {
            return None;
        }
        let size32 = u32::from_be_bytes(data[..4].try_into().ok()?) as u64;
        let kind: [u8; 4] = data[4..8].try_into().ok()?;
        let (size, header_len) = match size32 {
            0 => (data.len() as u64, 8),
            1 => (u64::from_be_bytes(data.get(8..16)?.try_into().ok()?), 16),
            n => (n, 8),
        };
        if size < header_len || size > data.len() as u64 {
            self.0 = &[];
            return None;
        }
        let size = size as usize;
        self.0 = &data[size..];
        Some((kind, &data[header_len as usize..size]))
    }
}

fn child<'a>(payload: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    Boxes(payload).find(|(k, _)| k == kind).map(|(_, p)| p)
}

fn be_u32(data: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
}

fn be_u64(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(data.get(at..at + 8)?.try_into().ok()?))
}

/// `mvhd`: version/flags, then (v0) creation, modification u32, timescale u32; (v1) u64, u64,
/// timescale u32.
fn mvhd_timescale(p: &[u8]) -> Option<u32> {
    match *p.first()? {
        0 => be_u32(p, 12),
        1 => be_u32(p, 20),
        _ => None,
    }
}

/// `mdhd` has the same layout as `mvhd` up to the timescale.
fn mdhd_timescale(p: &[u8]) -> Option<u32> {
    mvhd_timescale(p)
}

/// `tkhd`: version/flags, creation, modification (u32 or u64 each), then the track id.
fn tkhd_track_id(p: &[u8]) -> Option<u32> {
    match *p.first()? {
        0 => be_u32(p, 12),
        1 => be_u32(p, 20),
        _ => None,
    }
}

/// `elst`: leading empty edits (media_time -1) are skipped; then exactly one edit at rate 1.0
/// must remain. Returns (media_time, segment_duration).
fn single_edit(p: &[u8]) -> Option<(u64, u64)> {
    let version = *p.first()?;
    let count = be_u32(p, 4)? as usize;
    let entry_len = if version == 1 { 20 } else { 12 };
    if count == 0 || count > 16 || p.len() < 8 + count * entry_len {
        return None;
    }
    let mut edits = (0..count).map(|i| {
        let at = 8 + i * entry_len;
        if version == 1 {
            let duration = be_u64(p, at)?;
            let media_time = be_u64(p, at + 8)? as i64;
            let rate = be_u32(p, at + 16)?;
            Some((duration, media_time, rate))
        } else {
            let duration = u64::from(be_u32(p, at)?);
            let media_time = i64::from(be_u32(p, at + 4)? as i32);
            let rate = be_u32(p, at + 8)?;
            Some((duration, media_time, rate))
        }
    });
    let mut real = Vec::new();
    for edit in &mut edits {
        let (duration, media_time, rate) = edit?;
        if media_time == -1 {
            continue; // empty edit: a gap before the media (not applied)
        }
        real.push((duration, media_time, rate));
    }
    match real.as_slice() {
        // 0x0001_0000 is rate 1.0 in 16.16 fixed point.
        &[(duration, media_time, 0x0001_0000)] if media_time >= 0 => {
            Some((media_time as u64, duration))
        }
        _ => None,
    }
}
