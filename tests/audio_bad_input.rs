//! Bad input: every case ends in a clear error that names the file and the cause (or, for a
//! stream cut short, in the audio that was there plus a warning), never a panic or a hang.
//! The files are made here, in a temporary folder: hand-written headers and damaged copies of
//! corpus files.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use whisper_spec::audio::{self, Audio16k, AudioError};

/// Each case must finish within this (they take milliseconds; a hang fails instead of blocking).
const TIME_LIMIT: Duration = Duration::from_secs(3);

/// Runs `load_audio` on another thread under [`TIME_LIMIT`].
fn load(path: &Path) -> Result<Audio16k, AudioError> {
    let (tx, rx) = mpsc::channel();
    let p = path.to_path_buf();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(audio::load_audio(&p));
    });
    let result = rx
        .recv_timeout(TIME_LIMIT)
        .unwrap_or_else(|_| panic!("{}: no result within {TIME_LIMIT:?}", path.display()));
    eprintln!("{}: {:?}", path.display(), started.elapsed());
    result
}

/// Loading fails with a message that names the file and contains every one of `needles`.
fn expect_error(path: &Path, needles: &[&str]) -> AudioError {
    let err = match load(path) {
        Ok(a) => panic!(
            "{}: expected an error, decoded {} samples ({:?})",
            path.display(),
            a.samples.len(),
            a.report
        ),
        Err(e) => e,
    };
    let msg = err.to_string();
    eprintln!("  -> {msg}");
    assert!(
        msg.contains(&path.display().to_string()),
        "message does not name the file: {msg}"
    );
    for needle in needles {
        assert!(msg.contains(needle), "message lacks {needle:?}: {msg}");
    }
    assert_eq!(err.path(), path);
    err
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A canonical 44-byte WAV header (`fmt ` with `format_tag`, then `data` of `data_len` bytes).
fn wav_header(format_tag: u16, channels: u16, rate: u32, bits: u16, data_len: u32) -> Vec<u8> {
    let block_align = channels.wrapping_mul(bits / 8);
    let byte_rate = rate.wrapping_mul(u32::from(block_align));
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&36u32.wrapping_add(data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&16u32.to_le_bytes());
    h.extend_from_slice(&format_tag.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&rate.to_le_bytes());
    h.extend_from_slice(&byte_rate.to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&bits.to_le_bytes());
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

/// An AIFF file: `COMM` (channels, frames, 16-bit, rate as 80-bit extended float) and `SSND`.
fn aiff(channels: u16, rate: u32, frames: u32, data: &[u8]) -> Vec<u8> {
    let mut comm = Vec::new();
    comm.extend_from_slice(&channels.to_be_bytes());
    comm.extend_from_slice(&frames.to_be_bytes());
    comm.extend_from_slice(&16u16.to_be_bytes());
    // 80-bit IEEE extended: sign+exponent (15 bits, bias 16383), explicit-one 64-bit mantissa.
    if rate == 0 {
        comm.extend_from_slice(&[0u8; 10]);
    } else {
        let exp = 31 - rate.leading_zeros();
        comm.extend_from_slice(&(16383 + exp as u16).to_be_bytes());
        comm.extend_from_slice(&(u64::from(rate) << (63 - exp)).to_be_bytes());
    }
    let mut body = b"AIFF".to_vec();
    body.extend_from_slice(b"COMM");
    body.extend_from_slice(&(comm.len() as u32).to_be_bytes());
    body.extend_from_slice(&comm);
    body.extend_from_slice(b"SSND");
    body.extend_from_slice(&(8 + data.len() as u32).to_be_bytes());
    body.extend_from_slice(&[0u8; 8]);
    body.extend_from_slice(data);
    let mut out = b"FORM".to_vec();
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// One second of a 440 Hz tone as 16-bit PCM bytes at `rate`.
fn tone_s16(rate: u32, seconds: f64) -> Vec<u8> {
    let n = (f64::from(rate) * seconds) as usize;
    (0..n)
        .flat_map(|i| {
            let v =
                (2.0 * std::f64::consts::PI * 440.0 * i as f64 / f64::from(rate)).sin() * 8000.0;
            (v as i16).to_le_bytes()
        })
        .collect()
}

/// Deterministic pseudo-random bytes (xorshift), no dependency needed.
fn random_bytes(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

fn corpus(rel: &str) -> PathBuf {
    common::shared_dir().join("corpus").join(rel)
}

/// Byte length of a FLAC file's signature plus metadata blocks (where the first frame starts).
fn flac_header_len(bytes: &[u8]) -> usize {
    assert_eq!(&bytes[..4], b"fLaC");
    let mut pos = 4;
    loop {
        let last = bytes[pos] & 0x80 != 0;
        let len = u32::from_be_bytes([0, bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize;
        pos += 4 + len;
        if last {
            return pos;
        }
    }
}

#[test]
fn empty_file() {
    let dir = tmp();
    let path = write(dir.path(), "empty.wav", b"");
    expect_error(&path, &["empty"]);
}

#[test]
fn missing_path() {
    let dir = tmp();
    let path = dir.path().join("does-not-exist.flac");
    expect_error(&path, &["No such file"]);
}

#[test]
fn directory() {
    let dir = tmp();
    let path = dir.path().join("folder.wav");
    std::fs::create_dir(&path).unwrap();
    expect_error(&path, &["directory"]);
}

#[test]
fn text_file_named_wav() {
    let dir = tmp();
    let text = "This is not audio.\nJust some notes about a meeting, saved with the wrong name.\n"
        .repeat(50);
    let path = write(dir.path(), "notes.wav", text.as_bytes());
    expect_error(&path, &["not a recognised audio file"]);
}

#[test]
fn random_bytes_with_audio_extensions() {
    let dir = tmp();
    for (i, ext) in [
        "wav", "mp3", "flac", "ogg", "m4a", "opus", "webm", "aac", "aiff",
    ]
    .iter()
    .enumerate()
    {
        let path = write(
            dir.path(),
            &format!("noise.{ext}"),
            &random_bytes(256 * 1024, 0x9E37_79B9_7F4A_7C15 + i as u64),
        );
        let err = expect_error(&path, &[]);
        assert!(
            matches!(
                err,
                AudioError::UnrecognizedFormat { .. }
                    | AudioError::Corrupt { .. }
                    | AudioError::NoAudio { .. }
            ),
            "{err}"
        );
    }
}

#[test]
fn flac_with_only_its_header() {
    let dir = tmp();
    let bytes = std::fs::read(corpus("jfk.flac")).unwrap();
    let path = write(
        dir.path(),
        "header-only.flac",
        &bytes[..flac_header_len(&bytes)],
    );
    expect_error(&path, &["no audio", "ends before its first audio frame"]);
}

#[test]
fn flac_cut_to_a_few_bytes() {
    let dir = tmp();
    let bytes = std::fs::read(corpus("jfk.flac")).unwrap();
    let path = write(dir.path(), "stub.flac", &bytes[..20]);
    expect_error(&path, &[]);
}

#[test]
fn flac_truncated_mid_stream_keeps_what_is_there() {
    let dir = tmp();
    let bytes = std::fs::read(corpus("jfk.flac")).unwrap();
    let path = write(dir.path(), "half.flac", &bytes[..bytes.len() / 2]);
    let audio = load(&path).unwrap();
    assert!(audio.report.truncated, "{:?}", audio.report);
    assert!(!audio.report.warnings.is_empty());
    let seconds = audio.duration_s();
    assert!((3.0..8.0).contains(&seconds), "{seconds} s");
    assert!(audio.samples.iter().all(|s| s.is_finite()));
}

#[test]
fn mp3_and_ogg_truncated_mid_stream_keep_what_is_there() {
    let dir = tmp();
    for rel in [
        "formats/jfk_22050_mono.mp3",
        "formats/jfk_48000_stereo.opus",
        "formats/jfk_16000_mono_vorbis.ogg",
        "formats/jfk_44100_stereo_aac.m4a",
        "formats/jfk_48000_stereo_s16.wav",
    ] {
        let bytes = std::fs::read(corpus(rel)).unwrap();
        let name = Path::new(rel).file_name().unwrap().to_str().unwrap();
        let path = write(dir.path(), name, &bytes[..bytes.len() * 6 / 10]);
        match load(&path) {
            Ok(audio) => {
                eprintln!("  -> {:.3} s, {:?}", audio.duration_s(), audio.report);
                assert!(audio.duration_s() < 10.0, "{rel}");
                assert!(audio.samples.iter().all(|s| s.is_finite()));
            }
            // An MP4 cut before its index (moov at the end) cannot be read at all.
            Err(e) => {
                eprintln!("  -> {e}");
                assert!(e.to_string().contains(name));
            }
        }
    }
}

/// Garbage over the middle of the stream: the audio before and after survives, the damaged
/// packets are skipped (with silence of their length where the container gives it), and the
/// report says so.
#[test]
fn garbage_in_the_middle_of_the_stream() {
    let dir = tmp();
    for rel in [
        "jfk.flac",
        "formats/jfk_22050_mono.mp3",
        "formats/jfk_16000_mono_vorbis.ogg",
        "formats/jfk_48000_stereo.opus",
    ] {
        let mut bytes = std::fs::read(corpus(rel)).unwrap();
        let (a, b) = (bytes.len() * 4 / 10, bytes.len() * 5 / 10);
        let noise = random_bytes(b - a, 42);
        bytes[a..b].copy_from_slice(&noise);
        let name = Path::new(rel).file_name().unwrap().to_str().unwrap();
        let path = write(dir.path(), name, &bytes);
        match load(&path) {
            Ok(audio) => {
                eprintln!("  -> {:.3} s, {:?}", audio.duration_s(), audio.report);
                assert!(audio.samples.iter().all(|s| s.is_finite()), "{rel}");
                assert!(audio.duration_s() > 3.0, "{rel}: {} s", audio.duration_s());
                assert!(
                    audio.report.bad_packets > 0
                        || audio.report.truncated
                        || audio.report.gap_frames > 0,
                    "{rel}: damage went unnoticed: {:?}",
                    audio.report
                );
                assert!(!audio.report.warnings.is_empty(), "{rel}");
            }
            Err(e) => panic!("{rel}: the undamaged audio was lost: {e}"),
        }
    }
}

#[test]
fn wav_header_claiming_2_gb() {
    let dir = tmp();
    let claimed = 2_000_000_000u32;
    // With one second of real samples after it: decode that second, warn, report truncation.
    let mut bytes = wav_header(1, 1, 16_000, 16, claimed);
    bytes.extend_from_slice(&tone_s16(16_000, 1.0));
    let path = write(dir.path(), "liar.wav", &bytes);
    let audio = load(&path).unwrap();
    assert_eq!(audio.samples.len(), 16_000);
    assert!(audio.report.truncated, "{:?}", audio.report);
    assert!(
        audio
            .report
            .warnings
            .iter()
            .any(|w| w.contains("truncated")),
        "{:?}",
        audio.report.warnings
    );
    // With nothing after it: an error.
    let path = write(
        dir.path(),
        "liar-empty.wav",
        &wav_header(1, 1, 16_000, 16, claimed),
    );
    expect_error(&path, &["no audio"]);
}

#[test]
fn wav_with_sample_rate_0() {
    let dir = tmp();
    let mut bytes = wav_header(1, 1, 0, 16, 32_000);
    bytes.extend_from_slice(&tone_s16(16_000, 1.0));
    let path = write(dir.path(), "rate0.wav", &bytes);
    expect_error(&path, &["sample rate"]);
}

#[test]
fn wav_with_absurd_sample_rate() {
    let dir = tmp();
    let mut bytes = wav_header(1, 1, 4_000_000_000, 16, 32_000);
    bytes.extend_from_slice(&tone_s16(16_000, 1.0));
    let path = write(dir.path(), "rate4g.wav", &bytes);
    expect_error(&path, &["sample rate"]);
}

#[test]
fn wav_with_65535_channels() {
    let dir = tmp();
    let mut bytes = wav_header(1, 65_535, 16_000, 16, 65_535 * 2 * 10);
    bytes.extend_from_slice(&vec![0u8; 65_535 * 2 * 10]);
    let path = write(dir.path(), "channels.wav", &bytes);
    expect_error(&path, &["channel"]);
}

#[test]
fn aiff_with_65535_channels() {
    let dir = tmp();
    let data = vec![0u8; 65_535 * 2 * 4];
    let path = write(dir.path(), "channels.aiff", &aiff(65_535, 16_000, 4, &data));
    expect_error(&path, &["channel"]);
}

#[test]
fn aiff_with_sample_rate_0() {
    let dir = tmp();
    let path = write(
        dir.path(),
        "rate0.aiff",
        &aiff(1, 0, 16_000, &tone_s16(16_000, 1.0)),
    );
    expect_error(&path, &["sample rate"]);
}

#[test]
fn aiff_made_here_decodes() {
    // The AIFF writer above is right: a sane header decodes.
    let dir = tmp();
    let mut be = tone_s16(16_000, 1.0);
    be.chunks_exact_mut(2).for_each(|c| c.swap(0, 1));
    let path = write(dir.path(), "ok.aiff", &aiff(1, 16_000, 16_000, &be));
    let audio = load(&path).unwrap();
    assert_eq!(audio.samples.len(), 16_000);
    assert!(!audio.report.truncated);
}

#[test]
fn wav_with_0_channels() {
    let dir = tmp();
    let mut bytes = wav_header(1, 0, 16_000, 16, 32_000);
    bytes.extend_from_slice(&tone_s16(16_000, 1.0));
    let path = write(dir.path(), "channels0.wav", &bytes);
    expect_error(&path, &["channel"]);
}

#[test]
fn float_wav_with_nan_and_inf_is_cleaned() {
    let dir = tmp();
    let n = 16_000usize;
    let mut samples: Vec<f32> = (0..n)
        .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin() * 0.25)
        .collect();
    for (i, bad) in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, f32::NAN]
        .into_iter()
        .enumerate()
    {
        samples[1000 + i * 3000] = bad;
    }
    let mut bytes = wav_header(3, 1, 16_000, 32, (n * 4) as u32);
    for s in &samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    let path = write(dir.path(), "nan.wav", &bytes);
    let audio = load(&path).unwrap();
    assert_eq!(audio.samples.len(), n);
    assert!(audio.samples.iter().all(|s| s.is_finite()));
    assert_eq!(audio.report.non_finite_samples, 4);
    assert!(
        audio.report.warnings.iter().any(|w| w.contains("NaN")),
        "{:?}",
        audio.report.warnings
    );
    // Through the resampler too (48 kHz): NaN must not smear over the output.
    let mut bytes = wav_header(3, 2, 48_000, 32, (n * 8) as u32);
    for s in &samples {
        bytes.extend_from_slice(&s.to_le_bytes());
        bytes.extend_from_slice(&f32::NAN.to_le_bytes());
    }
    let path = write(dir.path(), "nan48.wav", &bytes);
    let audio = load(&path).unwrap();
    assert!(audio.samples.iter().all(|s| s.is_finite()));
    assert!(audio.report.non_finite_samples >= n as u64);
}

#[test]
fn probe_binary_reports_each_bad_file_and_fails() {
    let dir = tmp();
    let empty = write(dir.path(), "empty.wav", b"");
    let text = write(dir.path(), "text.mp3", b"hello, world\n");
    let good = corpus("formats/jfk_16000_mono_s16.wav");
    let started = Instant::now();
    let (ok, _, lines) = common::run_probe(&[&empty, &good, &text]);
    assert!(started.elapsed() < TIME_LIMIT * 2);
    assert!(!ok);
    assert_eq!(lines.len(), 3);
    assert!(lines[0]["error"].as_str().unwrap().contains("empty.wav"));
    assert_eq!(lines[1]["duration_s"], 11.0);
    assert!(lines[2]["error"].as_str().unwrap().contains("text.mp3"));
}

#[test]
fn fifo_and_devices_are_named_for_what_they_are() {
    let dir = tmp();
    let fifo = dir.path().join("pipe.wav");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    // Opening a FIFO for reading would block: the error must come from its type alone.
    expect_error(&fifo, &["FIFO"]);
    for dev in ["/dev/null", "/dev/zero"] {
        expect_error(Path::new(dev), &["character device"]);
    }
}

#[test]
fn wav_with_block_align_0() {
    let dir = tmp();
    let mut bytes = wav_header(1, 1, 16_000, 16, 32_000);
    bytes[32..34].copy_from_slice(&0u16.to_le_bytes());
    bytes.extend_from_slice(&tone_s16(16_000, 1.0));
    let path = write(dir.path(), "align0.wav", &bytes);
    expect_error(&path, &["inconsistent header", "block align is 0"]);
}

#[test]
fn wav_with_contradicting_block_align_or_byte_rate() {
    let dir = tmp();
    let mut bytes = wav_header(1, 1, 16_000, 16, 32_000);
    bytes[32..34].copy_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&tone_s16(16_000, 1.0));
    let path = write(dir.path(), "align4.wav", &bytes);
    expect_error(&path, &["inconsistent header", "block align 4"]);

    let mut bytes = wav_header(1, 1, 16_000, 16, 32_000);
    bytes[28..32].copy_from_slice(&12_345u32.to_le_bytes());
    bytes.extend_from_slice(&tone_s16(16_000, 1.0));
    let path = write(dir.path(), "byterate.wav", &bytes);
    expect_error(&path, &["inconsistent header", "byte rate 12345"]);
}

#[test]
fn float_wav_out_of_range_is_clipped_and_reported() {
    let dir = tmp();
    let n = 16_000usize;
    let mut samples: Vec<f32> = (0..n)
        .map(|i| (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin() * 0.25)
        .collect();
    for (i, big) in [1e38f32, -1e38, 1.5, f32::NAN].into_iter().enumerate() {
        samples[500 + i * 2000] = big;
    }
    let mut bytes = wav_header(3, 1, 16_000, 32, (n * 4) as u32);
    for s in &samples {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    let path = write(dir.path(), "loud.wav", &bytes);
    let audio = load(&path).unwrap();
    assert!(audio.samples.iter().all(|s| s.abs() <= 1.0));
    assert_eq!(audio.report.clipped_samples, 3);
    assert_eq!(audio.report.non_finite_samples, 1);
    let warning = audio
        .report
        .warnings
        .iter()
        .find(|w| w.contains("clipped"))
        .unwrap_or_else(|| panic!("{:?}", audio.report.warnings));
    assert!(warning.contains("3 samples"), "{warning}");
}

/// A WAVE_FORMAT_EXTENSIBLE PCM header (40-byte `fmt `) with `mask` as its channel mask,
/// then `data` of `data_len` bytes.
fn extensible_wav_header(channels: u16, mask: u32, data_len: u32) -> Vec<u8> {
    let block_align = channels * 2;
    let mut h = Vec::new();
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&(60 + data_len).to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&40u32.to_le_bytes());
    h.extend_from_slice(&0xFFFEu16.to_le_bytes());
    h.extend_from_slice(&channels.to_le_bytes());
    h.extend_from_slice(&16_000u32.to_le_bytes());
    h.extend_from_slice(&(16_000 * u32::from(block_align)).to_le_bytes());
    h.extend_from_slice(&block_align.to_le_bytes());
    h.extend_from_slice(&16u16.to_le_bytes());
    h.extend_from_slice(&22u16.to_le_bytes()); // cbSize
    h.extend_from_slice(&16u16.to_le_bytes()); // valid bits
    h.extend_from_slice(&mask.to_le_bytes());
    // KSDATAFORMAT_SUBTYPE_PCM: 00000001-0000-0010-8000-00aa00389b71
    h.extend_from_slice(&[
        1, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 0, 0, 0xaa, 0, 0x38, 0x9b, 0x71,
    ]);
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data_len.to_le_bytes());
    h
}

#[test]
fn extensible_wav_with_a_full_mask_decodes() {
    let dir = tmp();
    let tone = tone_s16(16_000, 1.0);
    let stereo: Vec<u8> = tone.chunks_exact(2).flat_map(|s| [s, s].concat()).collect();
    let mut bytes = extensible_wav_header(2, 0b11, stereo.len() as u32);
    bytes.extend_from_slice(&stereo);
    let path = write(dir.path(), "stereo_ext.wav", &bytes);
    let audio = load(&path).unwrap();
    assert_eq!(audio.samples.len(), 16_000);
}

#[test]
fn extensible_wav_whose_mask_cannot_place_its_channels() {
    // 122 channels over a one-speaker mask: symphonia's reader would shift past 32 bits.
    let dir = tmp();
    let mut bytes = extensible_wav_header(122, 0x4, 122 * 2 * 100);
    bytes.extend_from_slice(&vec![0u8; 122 * 2 * 100]);
    let path = write(dir.path(), "mask.wav", &bytes);
    expect_error(&path, &["inconsistent header", "channel mask 0x00000004"]);
}

#[test]
fn wav_header_behind_junk_is_checked_where_the_probe_finds_it() {
    // The probe scans past bytes it does not know and parses the RIFF it finds: the header
    // there gets the same checks as one at the start of the file.
    let dir = tmp();
    let mut bytes = b"\0FORM junk that is no container".to_vec();
    bytes.extend_from_slice(&extensible_wav_header(2, 0x8000_0000, 400));
    bytes.extend_from_slice(&[0u8; 400]);
    let path = write(dir.path(), "embedded.bin", &bytes);
    expect_error(&path, &["inconsistent header", "channel mask 0x80000000"]);
}
