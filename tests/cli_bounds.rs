//! Every numeric and enumerated flag of `transcribe`, `batch`, `caption` and `bench` at 0, -1,
//! huge, NaN and infinity, through the real binary: each value outside the flag's range is a
//! usage error (exit status 2) naming the flag and its allowed range, before any model or
//! audio is touched, and nothing panics or aborts.

use std::process::{Command, Output};

/// One flag: the command line it is tried in, its name, the range text its error must show,
/// and which of the probe values it accepts.
struct Flag {
    command: &'static [&'static str],
    name: &'static str,
    range: &'static str,
    accepts_zero: bool,
    accepts_minus_one: bool,
}

const TRANSCRIBE: &[&str] = &["transcribe", "no-such-file.wav", "--word-timestamps"];
const BATCH: &[&str] = &["batch", "no-such-dir", "-o", "no-such-out"];
const CAPTION: &[&str] = &["caption"];
const BENCH: &[&str] = &["bench", "no-such-file.wav", "--vs-faster-whisper"];

fn flag(
    command: &'static [&'static str],
    name: &'static str,
    range: &'static str,
    accepts_zero: bool,
    accepts_minus_one: bool,
) -> Flag {
    Flag {
        command,
        name,
        range,
        accepts_zero,
        accepts_minus_one,
    }
}

fn flags() -> Vec<Flag> {
    let mut all = Vec::new();
    // The decoding flags transcribe and batch share.
    for command in [TRANSCRIBE, BATCH] {
        all.extend([
            flag(command, "--beam-size", "1..=64", false, false),
            flag(command, "--best-of", "1..=64", false, false),
            flag(command, "--window-step-budget", "0..=65536", true, false),
            flag(command, "--patience", "(0, 16]", false, false),
            flag(command, "--temperature", "[0, 2]", true, false),
            flag(
                command,
                "--temperature-increment-on-fallback",
                "[0.05, 1]",
                true,
                false,
            ),
            flag(
                command,
                "--compression-ratio-threshold",
                "[0, 1000]",
                true,
                false,
            ),
            flag(command, "--logprob-threshold", "[-1000, 0]", true, true),
            flag(command, "--no-speech-threshold", "[0, 1]", true, false),
            flag(command, "--silence-threshold-db", "[-200, 0]", true, true),
            flag(command, "--audio-context", "[0, 30]", true, false),
            flag(command, "--clip-timestamps", "[0, 10000000]", true, false),
            flag(
                command,
                "--hallucination-silence-threshold",
                "(0, 10000000]",
                false,
                false,
            ),
            flag(command, "--max-line-width", "1..=10000", false, false),
            flag(command, "--draft-tokens", "1..=64", false, false),
            flag(command, "--threads", "1..=", false, false),
        ]);
    }
    all.extend([
        flag(BATCH, "--jobs", "1..=", false, false),
        flag(BATCH, "--max-hours", "(0, 10000]", false, false),
        flag(CAPTION, "--threads", "1..=", false, false),
        flag(CAPTION, "--step-ms", "50..=60000", false, false),
        flag(CAPTION, "--duration", "(0, 10000000]", false, false),
        flag(CAPTION, "--speech-threshold-db", "[-200, 0]", true, true),
        flag(CAPTION, "--audio-context", "[0, 30]", true, false),
        flag(
            CAPTION,
            "--temperature-increment-on-fallback",
            "[0.05, 1]",
            true,
            false,
        ),
        flag(CAPTION, "--best-of", "1..=64", false, false),
        flag(CAPTION, "--max-lag", "[3, 600]", false, false),
        flag(CAPTION, "--trim-after", "(0, 10000000]", false, false),
        flag(CAPTION, "--max-line-width", "1..=10000", false, false),
        flag(CAPTION, "--draft-tokens", "1..=64", false, false),
        flag(BENCH, "--draft-tokens", "1..=64", false, false),
        flag(BENCH, "--max-draft-tokens", "1..=64", false, false),
        flag(BENCH, "--draft-prompt-tokens", "0..=448", true, false),
        flag(BENCH, "--draft-confidence", "[0, 1]", true, false),
        flag(BENCH, "--runs", "1..=1000", false, false),
        flag(BENCH, "--threads", "1..=", false, false),
    ]);
    all
}

fn run(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(args)
        .output()
        .expect("run whisper-spec")
}

/// The command line trying `value` for `flag` (as `--flag=value`, so that negative values
/// reach the flag's parser).
fn args(flag: &Flag, value: &str) -> Vec<String> {
    let mut args: Vec<String> = flag.command.iter().map(|s| s.to_string()).collect();
    if flag.name == "--max-line-width" && flag.command == TRANSCRIBE {
        args.push("--max-line-count=2".into());
    }
    args.push(format!("{}={value}", flag.name));
    args
}

#[test]
fn every_flag_out_of_range_is_a_usage_error_naming_the_flag_and_range() {
    let mut failures = Vec::new();
    for flag in flags() {
        let mut values = vec![
            "99999999999999999999",
            "1e30",
            "-1e30",
            "nan",
            "inf",
            "-inf",
        ];
        if !flag.accepts_zero {
            values.push("0");
        }
        if flag.name == "--temperature-increment-on-fallback" {
            // A tiny step would mean thousands of attempts per window.
            values.push("0.0001");
        }
        if !flag.accepts_minus_one {
            values.push("-1");
        }
        for value in values {
            let out = run(&args(&flag, value));
            let stderr = String::from_utf8_lossy(&out.stderr);
            let ok = out.status.code() == Some(2)
                && stderr.contains(flag.name)
                && stderr.contains(flag.range)
                && !stderr.contains("panicked");
            if !ok {
                failures.push(format!(
                    "{} {}={value}: status {:?}, stderr: {stderr}",
                    flag.command[0], flag.name, out.status
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn languages_must_be_known_and_formats_named() {
    for (command, flag, value) in [
        (TRANSCRIBE, "--language", ""),
        (TRANSCRIBE, "--language", "klingon"),
        (BATCH, "--language", " "),
        (CAPTION, "--language", "xx"),
        (TRANSCRIBE, "--output-format", "pdf"),
        (BATCH, "--output-format", "txt,"),
    ] {
        let mut args: Vec<String> = command.iter().map(|s| s.to_string()).collect();
        args.push(format!("{flag}={value}"));
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}={value:?}: {stderr}");
        assert!(stderr.contains(flag), "{flag}={value:?}: {stderr}");
        assert!(stderr.contains("expected"), "{flag}={value:?}: {stderr}");
    }
}

/// The bounds leave the ordinary values alone: in range, the same command lines get past
/// the parser and fail only on the missing input.
#[test]
fn values_in_range_pass_the_parser() {
    for (flag, value) in [
        ("--beam-size", "64"),
        ("--best-of", "1"),
        ("--temperature", "1.0"),
        ("--logprob-threshold", "none"),
        ("--language", "German"),
        ("--threads", "1"),
    ] {
        let mut args: Vec<String> = TRANSCRIBE.iter().map(|s| s.to_string()).collect();
        args.push(format!("{flag}={value}"));
        if flag == "--beam-size" {
            args.push("--patience=2".into());
        }
        args.extend(["-m".into(), "/no/such/model/dir".into()]);
        let out = run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{flag}={value}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
