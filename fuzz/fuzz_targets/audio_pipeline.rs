//! Arbitrary bytes as an audio file: probe, decode, resample, mel.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    whisper_spec::fuzzing::audio_pipeline(data);
});
