//! Arbitrary bytes as a WAV or FLAC file: the header checks, then the decode path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    whisper_spec::fuzzing::audio_headers(data);
});
