//! How Whisper frames audio: 10 ms mel frames (a hop of 160 samples at 16 kHz), 30 s windows of
//! 3000 frames cut from one spectrogram of the whole file, and the loudness meter the silence
//! gates of `transcribe` and `caption` read. One place for these numbers, so the window loop,
//! live captions and the command line cannot disagree about them.

use super::SAMPLE_RATE;
use super::mel::LogMel;

/// Samples per mel frame (10 ms at 16 kHz).
pub const HOP_LENGTH: usize = 160;
/// Mel frames per second of audio.
pub const FRAMES_PER_SECOND: usize = SAMPLE_RATE as usize / HOP_LENGTH;
/// Mel frames in one 30 s window: what the encoder reads.
pub const N_FRAMES: usize = 30 * FRAMES_PER_SECOND;

/// The mel frame at `seconds` (rounded; negative times are frame 0).
pub fn frame_at(seconds: f64) -> usize {
    (seconds * FRAMES_PER_SECOND as f64).round().max(0.0) as usize
}

/// The first sample of mel frame `frame`.
pub fn sample_at_frame(frame: usize) -> usize {
    frame * HOP_LENGTH
}

/// Copies the 3000 frames of `mel` starting at frame `seek` into `out` (row-major
/// `[n_mels, 3000]`): the window the encoder sees. `mel` must extend 3000 frames past `seek`,
/// which the 30 s of padding of a whole-file spectrogram guarantees for every seek inside the
/// content.
pub fn cut_window(mel: &LogMel, seek: usize, out: &mut [f32]) {
    for m in 0..mel.n_mels {
        out[m * N_FRAMES..(m + 1) * N_FRAMES].copy_from_slice(&mel.row(m)[seek..seek + N_FRAMES]);
    }
}

/// Overwrites frames `from..3000` of the window `out` with the mel of silence (the last frame
/// of `mel`, inside its 30 s of padding).
pub fn fill_silence_after(mel: &LogMel, from: usize, out: &mut [f32]) {
    for m in 0..mel.n_mels {
        let quiet = mel.row(m)[mel.n_frames - 1];
        out[m * N_FRAMES + from..(m + 1) * N_FRAMES].fill(quiet);
    }
}

/// The first `frames` columns of a row-major `[n_mels, 3000]` window.
pub fn first_frames(window: &[f32], n_mels: usize, frames: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(n_mels * frames);
    for m in 0..n_mels {
        out.extend_from_slice(&window[m * N_FRAMES..m * N_FRAMES + frames]);
    }
    out
}

/// The RMS level (dBFS) of the loudest block of `block` samples in `samples` (the last block
/// may be shorter): -inf for no samples or all zeros. A full-scale square wave is 0 dBFS.
pub fn loudest_rms_db(samples: &[f32], block: usize) -> f64 {
    let loudest = samples
        .chunks(block.max(1))
        .map(|b| b.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() / b.len() as f64)
        .fold(0.0, f64::max);
    10.0 * loudest.log10()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_thirty_seconds_of_ten_millisecond_frames() {
        assert_eq!(N_FRAMES, 3000);
        assert_eq!(frame_at(2.5), 250);
        assert_eq!(frame_at(-1.0), 0);
        assert_eq!(sample_at_frame(N_FRAMES), super::super::N_SAMPLES);
    }

    #[test]
    fn loudness_is_the_loudest_block() {
        let half_second = SAMPLE_RATE as usize / 2;
        assert_eq!(loudest_rms_db(&[], half_second), f64::NEG_INFINITY);
        assert_eq!(
            loudest_rms_db(&[0.0; 48_000], half_second),
            f64::NEG_INFINITY
        );
        // One loud half second among silence counts.
        let mut x = vec![0.0f32; 48_000];
        x[16_000..24_000].iter_mut().for_each(|v| *v = 1.0);
        assert!(loudest_rms_db(&x, half_second).abs() < 1e-9);
        let quiet = vec![1e-4f32; 16_000];
        assert!((loudest_rms_db(&quiet, half_second) + 80.0).abs() < 1e-3);
        // 100 ms blocks: one block at 0.1 is -20 dBFS.
        let mut y = vec![0.0f32; 16_000];
        y[8000..9600].iter_mut().for_each(|v| *v = 0.1);
        assert!((loudest_rms_db(&y, 1600) - -20.0).abs() < 1e-6);
    }
}
