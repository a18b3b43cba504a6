//! Arbitrary bytes as a model's config.json.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    whisper_spec::fuzzing::model_config(data);
});
