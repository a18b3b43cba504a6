//! The log-mel front end against openai/whisper's own output (../shared/golden/mel): for each
//! golden input, 80 and 128 bins unpadded and 80 bins with 30 s of zeros appended, the largest
//! absolute difference must stay within 1e-4.

mod common;

use std::path::PathBuf;

use common::npy;
use whisper_spec::audio::{self, MelSpectrogram, N_SAMPLES};

const NAMES: [&str; 3] = ["jfk_16000_mono_s16", "2830-3980-0043", "1995-1837-0001"];
const TOLERANCE: f32 = 1e-4;

fn golden(name: &str, what: &str) -> PathBuf {
    common::shared_dir()
        .join("golden/mel")
        .join(format!("{name}.{what}.npy"))
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check(name: &str, what: &str, n_mels: usize, padding: usize, mel: &mut MelSpectrogram) {
    let pcm = npy::read_f32(&golden(name, "pcm"));
    let want = npy::read_f32(&golden(name, what));
    let got = mel.compute_padded(&pcm.data, padding);
    assert_eq!(
        want.shape,
        vec![got.n_mels, got.n_frames],
        "{name}.{what}: shape"
    );
    assert_eq!(got.n_mels, n_mels);
    let diff = max_abs_diff(&got.data, &want.data);
    eprintln!("{name}.{what}: max abs difference {diff:.2e}");
    assert!(
        diff <= TOLERANCE,
        "{name}.{what}: max abs difference {diff}"
    );
}

#[test]
fn mel80_matches_openai() {
    let mut mel = MelSpectrogram::new(80);
    for name in NAMES {
        check(name, "mel80", 80, 0, &mut mel);
    }
}

#[test]
fn mel128_matches_openai() {
    let mut mel = MelSpectrogram::new(128);
    for name in NAMES {
        check(name, "mel128", 128, 0, &mut mel);
    }
}

#[test]
fn mel80_with_30s_padding_matches_openai() {
    let mut mel = MelSpectrogram::new(80);
    for name in NAMES {
        check(name, "mel80.pad30", 80, N_SAMPLES, &mut mel);
    }
}

/// The golden pcm is the 16 kHz wav as read; decoding the wav ourselves must give the same
/// samples, so the whole chain file -> mel matches too.
#[test]
fn decoded_wav_equals_golden_pcm() {
    let pcm = npy::read_f32(&golden("jfk_16000_mono_s16", "pcm"));
    let wav = common::shared_dir().join("corpus/formats/jfk_16000_mono_s16.wav");
    let audio = audio::load_audio(&wav).unwrap();
    assert_eq!(audio.samples.len(), pcm.data.len());
    let diff = max_abs_diff(&audio.samples, &pcm.data);
    assert!(diff <= 1e-6, "max abs difference {diff}");
}

#[test]
fn short_and_empty_inputs_do_not_panic() {
    let mut mel = MelSpectrogram::new(80);
    for len in [0usize, 1, 100, 200, 201, 399, 400] {
        let out = mel.compute(&vec![0.01; len]);
        assert_eq!(out.shape(), [80, len / 160], "len {len}");
        assert!(out.data.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn npy_reader_parses_and_rejects() {
    fn npy_bytes(header: &str, data: &[u8]) -> Vec<u8> {
        let mut h = header.to_string();
        while !(10 + h.len() + 1).is_multiple_of(64) {
            h.push(' ');
        }
        h.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(h.len() as u16).to_le_bytes());
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out
    }
    let data: Vec<u8> = [1.0f32, 2., 3., 4., 5., 6.]
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let a = npy::parse_f32(&npy_bytes(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
        &data,
    ))
    .unwrap();
    assert_eq!(a.shape, vec![2, 3]);
    assert_eq!(a.data[5], 6.0);
    let b = npy::parse_f32(&npy_bytes(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
        &data,
    ))
    .unwrap();
    assert_eq!(b.shape, vec![6]);
    assert!(
        npy::parse_f32(&npy_bytes(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }",
            &data
        ))
        .is_err()
    );
    assert!(
        npy::parse_f32(&npy_bytes(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }",
            &data
        ))
        .is_err()
    );
}
