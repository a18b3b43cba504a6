//! symphonia's probe with its WAV reader behind our header check.
//!
//! The probe scans a file for any container's marker, so a `RIFF` chunk can be found deep
//! inside a file that starts as something else; symphonia's WAV reader then parses whatever
//! `fmt ` chunk follows and overflows on some of them. [`CheckedWavReader`] takes the WAV
//! reader's place in the probe: at the exact offset where the marker was found it reads the
//! `fmt ` chunk, refuses it when [`FmtChunk::refusal`](super::wav_header::FmtChunk::refusal)
//! says so, and otherwise rewinds and hands the stream to symphonia's reader.

use std::io::{Seek, SeekFrom};
use std::sync::LazyLock;

use symphonia::core::errors::{Error as SymError, Result as SymResult};
use symphonia::core::formats::probe::{Probe, ProbeFormatData, ProbeableFormat, Score, Scoreable};
use symphonia::core::formats::{
    FormatInfo, FormatOptions, FormatReader, SeekMode, SeekTo, SeekedTo, Track,
};
use symphonia::core::io::{MediaSourceStream, ReadBytes, ScopedStream};
use symphonia::core::meta::Metadata;
use symphonia::core::packet::Packet;
use symphonia::default::formats as readers;

use super::wav_header::{self, HeaderRefusal};

/// The probe every decode uses: symphonia's formats and metadata readers, with
/// [`CheckedWavReader`] in place of its WAV reader.
pub fn probe() -> &'static Probe {
    static PROBE: LazyLock<Probe> = LazyLock::new(|| {
        let mut probe = Probe::default();
        probe.register_format::<readers::AdtsReader<'_>>();
        probe.register_format::<readers::CafReader<'_>>();
        probe.register_format::<readers::FlacReader<'_>>();
        probe.register_format::<readers::IsoMp4Reader<'_>>();
        probe.register_format::<readers::MpaReader<'_>>();
        probe.register_format::<readers::AiffReader<'_>>();
        probe.register_format::<CheckedWavReader>();
        probe.register_format::<readers::OggReader<'_>>();
        probe.register_format::<readers::MkvReader<'_>>();
        probe.register_metadata::<symphonia::default::meta::ApeReader<'_>>();
        probe.register_metadata::<symphonia::default::meta::Id3v1Reader<'_>>();
        probe.register_metadata::<symphonia::default::meta::Id3v2Reader<'_>>();
        probe
    });
    &PROBE
}

/// The header refusal carried by a probe error, if the error is one.
pub fn refusal_of(e: &SymError) -> Option<&HeaderRefusal> {
    match e {
        SymError::IoError(io) => io.get_ref()?.downcast_ref::<HeaderRefusal>(),
        _ => None,
    }
}

/// Stands in for symphonia's WAV reader in the probe; never constructed (the probe builds
/// symphonia's own reader once the header passed), hence uninhabited.
pub enum CheckedWavReader {}

impl Scoreable for CheckedWavReader {
    fn score(src: ScopedStream<&mut MediaSourceStream<'_>>) -> SymResult<Score> {
        readers::WavReader::score(src)
    }
}

impl<'s> ProbeableFormat<'s> for CheckedWavReader {
    fn try_probe_new(
        mut mss: MediaSourceStream<'s>,
        opts: FormatOptions,
    ) -> SymResult<Box<dyn FormatReader + 's>> {
        let start = mss.pos();
        let fmt = wav_header::read_fmt(&mut mss)?;
        mss.seek(SeekFrom::Start(start))?;
        if let Some(refusal) = fmt.and_then(|f| f.refusal()) {
            return Err(SymError::IoError(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                refusal,
            )));
        }
        readers::WavReader::try_probe_new(mss, opts)
    }

    fn probe_data() -> &'static [ProbeFormatData] {
        readers::WavReader::probe_data()
    }
}

impl FormatReader for CheckedWavReader {
    fn format_info(&self) -> &FormatInfo {
        match *self {}
    }

    fn media_info(&self) -> &symphonia::core::formats::MediaInfo {
        match *self {}
    }

    fn metadata(&mut self) -> Metadata<'_> {
        match *self {}
    }

    fn seek(&mut self, _mode: SeekMode, _to: SeekTo) -> SymResult<SeekedTo> {
        match *self {}
    }

    fn tracks(&self) -> &[Track] {
        match *self {}
    }

    fn next_packet(&mut self) -> SymResult<Option<Packet>> {
        match *self {}
    }

    fn into_inner<'s>(self: Box<Self>) -> MediaSourceStream<'s>
    where
        Self: 's,
    {
        match *self {}
    }
}
