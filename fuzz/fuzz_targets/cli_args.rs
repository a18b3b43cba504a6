//! Arbitrary bytes as a command line (NUL- or newline-separated arguments).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    whisper_spec::fuzzing::cli_args(data);
});
