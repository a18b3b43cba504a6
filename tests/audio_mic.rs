//! The real cpal capture path without a sound card: ALSA's `file` plugin over the `null` device
//! plays a raw file as the default capture device (../shared/STACK.md). A 440 Hz tone at 48 kHz
//! stereo must come out of `Microphone` as a 440 Hz tone at 16 kHz mono.
//!
//! One test in this binary: it sets ALSA_CONFIG_PATH for its own process before any ALSA call.
#![cfg(feature = "mic")]

mod common;

use std::time::{Duration, Instant};

use common::fake_mic::RATE;
use whisper_spec::audio::mic::{Microphone, input_devices};

const TONE_HZ: f32 = 440.0;
const AMPLITUDE: f32 = 0.5;

#[test]
fn captures_a_tone_through_an_alsa_file_device() {
    let tmp = tempfile::tempdir().unwrap();
    // cpal opens the default device as f32, 2 channels, 48 kHz: the raw file must be exactly
    // that. 4 s of tone then 4 s of silence (the plugin repeats stale data after the end).
    let tone: Vec<f32> = (0..RATE * 8)
        .map(|i| {
            if i < RATE * 4 {
                AMPLITUDE * (2.0 * std::f32::consts::PI * TONE_HZ * i as f32 / RATE as f32).sin()
            } else {
                0.0
            }
        })
        .collect();
    let alsa = common::fake_mic::alsa_config(tmp.path(), &tone);
    // SAFETY: this test binary has a single test and sets the variable before any thread or
    // ALSA call exists.
    unsafe { std::env::set_var("ALSA_CONFIG_PATH", alsa) };

    let devices = input_devices().expect("list devices");
    assert!(
        devices.iter().any(|d| d.is_default),
        "no default input in {devices:?}"
    );

    let mut mic = Microphone::open(None).expect("open the default input");
    assert_eq!((mic.source_rate, mic.channels), (48_000, 2), "{mic:?}");

    // Collect 3 s of 16 kHz audio (the plugin delivers faster than real time).
    let mut samples = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while samples.len() < 3 * 16_000 {
        assert!(
            Instant::now() < deadline,
            "only {} samples in 20 s",
            samples.len()
        );
        if let Some(chunk) = mic.next_chunk(Duration::from_millis(500)).unwrap() {
            samples.extend(chunk);
        }
    }
    drop(mic);

    // Skip the resampler's first 100 ms; analyse 2 s of steady tone.
    let tone = &samples[1_600..1_600 + 32_000];
    let rms = (tone.iter().map(|v| v * v).sum::<f32>() / tone.len() as f32).sqrt();
    let expected_rms = AMPLITUDE / 2f32.sqrt();
    assert!(
        (rms - expected_rms).abs() < 0.02,
        "rms {rms}, expected {expected_rms}"
    );
    let crossings = tone
        .windows(2)
        .filter(|w| w[0] < 0.0 && w[1] >= 0.0)
        .count();
    let freq = crossings as f32 / 2.0;
    assert!((freq - TONE_HZ).abs() <= 2.0, "measured {freq} Hz");
}
