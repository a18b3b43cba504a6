//! Arbitrary bytes as a safetensors file and as a CTranslate2 model.bin.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    whisper_spec::fuzzing::weights(data);
});
