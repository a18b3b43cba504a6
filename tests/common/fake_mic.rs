//! A microphone without a sound card: ALSA's `file` plugin over the `null` device plays a raw
//! file as the default capture device (../shared/STACK.md).

use std::path::Path;

/// Sample rate cpal opens the fake device at (with 2 channels of f32).
pub const RATE: usize = 48_000;

/// Writes `mono` (48 kHz) as the fake device's raw file (f32, both channels the same) and an
/// ALSA configuration naming it the default device, in `dir`. Returns the value for
/// `ALSA_CONFIG_PATH` (the system configuration, then ours). The plugin delivers faster than
/// real time and repeats stale data after the end of its file: pad `mono` and stop reading
/// after a known number of frames.
pub fn alsa_config(dir: &Path, mono: &[f32]) -> String {
    let mut raw = Vec::with_capacity(mono.len() * 8);
    for v in mono {
        raw.extend_from_slice(&v.to_le_bytes());
        raw.extend_from_slice(&v.to_le_bytes());
    }
    let raw_path = dir.join("mic.raw");
    std::fs::write(&raw_path, raw).unwrap();
    let conf = dir.join("fakemic.conf");
    std::fs::write(
        &conf,
        format!(
            "pcm.!default {{ type file slave.pcm \"null\" file \"/dev/null\" infile \"{}\" format \"raw\" }}\n",
            raw_path.display()
        ),
    )
    .unwrap();
    let system = "/usr/share/alsa/alsa.conf";
    assert!(
        Path::new(system).is_file(),
        "{system} missing: install libasound2"
    );
    format!("{system}:{}", conf.display())
}
