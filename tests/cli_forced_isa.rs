//! The narrower kernels laptops run (AVX2, and the portable Rust ones every other CPU runs),
//! forced with `WHISPER_SPEC_ISA` on real speech with base: the run reports the kernels it
//! used and the draft it chose, speculative decoding passes `--verify` (token for token the
//! target's own decode, greedy and beam search), and the text is the one the widest kernels
//! give.

mod common;

use std::process::Command;

fn transcribe(isa: Option<&str>, args: &[&str]) -> serde_json::Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_whisper-spec"));
    cmd.arg("transcribe").args(args);
    match isa {
        Some(isa) => cmd.env("WHISPER_SPEC_ISA", isa),
        None => cmd.env_remove("WHISPER_SPEC_ISA"),
    };
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{isa:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn avx2_and_portable_kernels_pass_verify_on_real_speech() {
    common::models::store_model("base");
    let shared = common::shared_dir();
    let files = [
        shared.join("corpus/jfk.flac"),
        shared.join("corpus/en_read/librispeech/1089-134686-0000.flac"),
    ];
    for (index, file) in files.iter().enumerate() {
        let file = file.to_str().unwrap();
        // Beam search on the first file only (the portable kernels are slow).
        let settings: &[&str] = if index == 0 {
            &["greedy", "3"]
        } else {
            &["greedy"]
        };
        let widest = transcribe(
            None,
            &["-m", "base", "--no-vad", "-l", "en", "-f", "json", file],
        );
        for isa in ["avx2", "portable"] {
            for &beams in settings {
                let v = transcribe(
                    Some(isa),
                    &[
                        "-m",
                        "base",
                        "--no-vad",
                        "-l",
                        "en",
                        "--verify",
                        "--beam-size",
                        beams,
                        "-f",
                        "json",
                        file,
                    ],
                );
                let kernels = v["stats"]["kernels"].as_str().unwrap();
                assert!(kernels.starts_with(isa), "{isa}: ran {kernels}");
                // AVX2 has 8-bit kernels of its own, so it drafts with the fused 8-bit
                // decoder as AVX-512 VNNI does; the portable loops are too slow for it.
                let draft = if isa == "avx2" {
                    "self-int8"
                } else {
                    "self-q8"
                };
                assert_eq!(v["stats"]["draft"], draft, "{isa}");
                assert!(
                    v["stats"].get("verify_difference").is_none(),
                    "{isa} {beams} {file}: {v}"
                );
                if beams == "greedy" {
                    assert!(v["stats"]["draft_tokens"].as_u64().unwrap() > 0, "{v}");
                    assert_eq!(v["text"], widest["text"], "{isa} {file}");
                }
            }
        }
    }
}
