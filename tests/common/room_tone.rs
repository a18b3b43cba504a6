//! Room tone, hiss and music for the voice activity tests: the non-speech over which Whisper,
//! prompted with the previous text, repeats itself.

/// `seconds` of brown noise at -50 dBFS RMS, from a fixed seed.
pub fn room_tone(seconds: usize) -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut x = 0.0f64;
    let raw: Vec<f64> = (0..seconds * 16_000)
        .map(|_| {
            // Sum of 4 uniforms: near-Gaussian steps.
            let mut step = 0.0;
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                step += (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            }
            x = 0.98 * x + step;
            x
        })
        .collect();
    let rms = (raw.iter().map(|v| v * v).sum::<f64>() / raw.len() as f64).sqrt();
    let level = 10f64.powf(-50.0 / 20.0);
    raw.iter().map(|v| (v / rms * level) as f32).collect()
}

/// `seconds` of music at -25 dBFS RMS: a plucked arpeggio (A3, C#4, E4, A4, E4, C#4), one note
/// each half second, each with its second and third harmonics and a decaying envelope.
pub fn music(seconds: usize) -> Vec<f32> {
    const NOTES: [f64; 6] = [220.0, 277.18, 329.63, 440.0, 329.63, 277.18];
    let note_len = 8_000;
    let raw: Vec<f64> = (0..seconds * 16_000)
        .map(|i| {
            let f = NOTES[(i / note_len) % NOTES.len()];
            let t = i as f64 / 16_000.0;
            let since = (i % note_len) as f64 / 16_000.0;
            let tone = |h: f64| (2.0 * std::f64::consts::PI * f * h * t).sin();
            (-3.0 * since).exp() * (tone(1.0) + 0.5 * tone(2.0) + 0.25 * tone(3.0))
        })
        .collect();
    let rms = (raw.iter().map(|v| v * v).sum::<f64>() / raw.len() as f64).sqrt();
    let level = 10f64.powf(-25.0 / 20.0);
    raw.iter().map(|v| (v / rms * level) as f32).collect()
}

/// `seconds` of white hiss at -45 dBFS RMS (uniform noise), from a fixed seed.
pub fn hiss(seconds: usize) -> Vec<f32> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    // A uniform variable on [-1, 1] has an RMS of 1/sqrt(3).
    let level = 10f64.powf(-45.0 / 20.0) * 3f64.sqrt();
    (0..seconds * 16_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let uniform = (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
            (uniform * level) as f32
        })
        .collect()
}

/// JFK's sentence (16 kHz), `gap_s` seconds of room tone, the sentence again, as 16-bit WAV
/// bytes.
pub fn jfk_room_tone_jfk_wav(gap_s: usize) -> Vec<u8> {
    let jfk = whisper_spec::audio::load_audio(
        super::shared_dir().join("corpus/formats/jfk_16000_mono_s16.wav"),
    )
    .unwrap()
    .samples;
    let mut audio = jfk.clone();
    audio.extend(room_tone(gap_s));
    audio.extend_from_slice(&jfk);
    let mut wav = Vec::with_capacity(44 + audio.len() * 2);
    let data = (audio.len() * 2) as u32;
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&16_000u32.to_le_bytes());
    wav.extend_from_slice(&32_000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data.to_le_bytes());
    for s in audio {
        wav.extend_from_slice(&((s.clamp(-1.0, 1.0) * 32767.0).round() as i16).to_le_bytes());
    }
    wav
}
