//! `whisper-spec transcribe` end to end with the real tiny.en model: stdout and files in every
//! format, the JSON fields other tools read, several files in one call, and clear errors for
//! bad options, a broken model and an unwritable output dir.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn jfk() -> PathBuf {
    common::shared_dir().join("corpus/jfk.flac")
}

fn run(args: &[&str]) -> Output {
    // Make sure the model is in the store first (the CLI would fetch it too).
    common::models::store_model("tiny.en");
    Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .arg("transcribe")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn transcribes_to_stdout_as_text_and_json() {
    let jfk = jfk();
    let out = run(&["-m", "tiny.en", jfk.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("ask not what your country can do for you"),
        "{text}"
    );

    let other = common::shared_dir().join("corpus/en_misc/pocketsphinx_goforward.wav");
    let out = run(&[
        "-m",
        "tiny.en",
        "-f",
        "json",
        jfk.to_str().unwrap(),
        other.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "one JSON object per file");
    let v = &lines[0];
    for key in [
        "file",
        "model",
        "language",
        "duration_s",
        "text",
        "segments",
        "stats",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    assert_eq!(v["model"], "tiny.en");
    assert_eq!(v["language"], "en");
    assert!((v["duration_s"].as_f64().unwrap() - 11.0).abs() < 0.01);
    let seg = &v["segments"][0];
    for key in [
        "start",
        "end",
        "text",
        "tokens",
        "avg_logprob",
        "no_speech_prob",
        "temperature",
        "compression_ratio",
    ] {
        assert!(seg.get(key).is_some(), "segment lacks {key}: {seg}");
    }
    for key in ["wall_s", "rtf", "encoder_s", "decoder_s", "tokens"] {
        assert!(v["stats"].get(key).is_some(), "stats lack {key}");
    }
    assert!(v["stats"]["tokens"].as_u64().unwrap() > 10);
    assert!(
        lines[1]["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("forward")
    );
}

#[test]
fn writes_every_format_into_an_output_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let jfk = jfk();
    let out = run(&[
        "-m",
        "tiny.en",
        "-f",
        "all",
        "-o",
        dir.to_str().unwrap(),
        jfk.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    for ext in ["txt", "json", "srt", "vtt", "tsv"] {
        let path = dir.join(format!("jfk.{ext}"));
        let body =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(body.contains("country"), "{ext}: {body}");
    }
    let srt = std::fs::read_to_string(dir.join("jfk.srt")).unwrap();
    assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:"), "{srt}");
    let vtt = std::fs::read_to_string(dir.join("jfk.vtt")).unwrap();
    assert!(vtt.starts_with("WEBVTT\n"), "{vtt}");
}

#[test]
fn no_timestamps_gives_one_segment_per_window() {
    let jfk = jfk();
    let out = run(&[
        "-m",
        "tiny.en",
        "--no-timestamps",
        "-f",
        "json",
        jfk.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let segments = v["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 1);
    let tokens = segments[0]["tokens"].as_array().unwrap();
    assert!(
        tokens.iter().all(|t| t.as_u64().unwrap() < 50256),
        "no timestamp tokens"
    );
}

#[test]
fn bad_options_fail_before_any_work_with_clear_messages() {
    let jfk = jfk();
    let jfk = jfk.to_str().unwrap();
    let out = run(&["-m", "tiny.en", "-l", "xx", jfk]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("'xx'"), "{}", stderr(&out));

    let out = run(&["-m", "tiny.en", "--task", "translate", jfk]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).to_lowercase().contains("english"),
        "{}",
        stderr(&out)
    );

    let out = run(&["-m", "tiny.en", "--bogus", jfk]);
    assert_eq!(out.status.code(), Some(2), "clap usage error");

    let out = run(&["-m", "tiny.en", "-f", "docx", jfk]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("docx"), "{}", stderr(&out));
}

#[test]
fn a_model_without_tokenizer_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let good = common::models::store_model("tiny.en");
    let broken = tmp.path().join("no-tokenizer");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["config.json", "model.safetensors"] {
        std::os::unix::fs::symlink(good.join(f), broken.join(f)).unwrap();
    }
    let out = run(&["-m", broken.to_str().unwrap(), jfk().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("tokenizer.json") && err.contains(&broken.display().to_string()),
        "{err}"
    );
}

#[test]
fn an_unwritable_output_dir_is_named() {
    let out = run(&[
        "-m",
        "tiny.en",
        "-o",
        "/sys/whisper-spec-out",
        jfk().to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("/sys/whisper-spec-out"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_bad_file_is_reported_and_the_others_still_transcribed() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("broken.wav");
    std::fs::write(&bad, b"not audio at all").unwrap();
    let out = run(&[
        "-m",
        "tiny.en",
        "-f",
        "json",
        bad.to_str().unwrap(),
        jfk().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("broken.wav"), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    assert!(stdout.contains("country"));
}

#[test]
fn two_inputs_with_one_stem_are_refused_with_an_output_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for d in [&a, &b] {
        std::fs::create_dir_all(d).unwrap();
        std::fs::copy(jfk(), d.join("talk.flac")).unwrap();
    }
    let out_dir = tmp.path().join("out");
    let out = run(&[
        "-m",
        "tiny.en",
        "-o",
        out_dir.to_str().unwrap(),
        a.join("talk.flac").to_str().unwrap(),
        b.join("talk.flac").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("would both write"),
        "{}",
        stderr(&out)
    );
    assert!(!Path::new(&out_dir.join("talk.txt")).exists());
}

#[test]
fn speculative_flags_report_the_draft_and_verify_against_the_target() {
    let jfk = jfk();
    let jfk = jfk.to_str().unwrap();
    let out = run(&[
        "-m", "tiny.en", "--draft", "self-q8", "--verify", "-f", "json", jfk,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["draft"], "self-q8");
    assert!(v["stats"]["acceptance_rate"].as_f64().unwrap() > 0.5, "{v}");
    assert!(v["stats"].get("verify_difference").is_none(), "{v}");
    let calls = v["stats"]["target_calls"].as_u64().unwrap();
    let tokens = v["stats"]["tokens"].as_u64().unwrap();
    assert!(calls < tokens, "{calls} target calls for {tokens} tokens");

    // Sampled windows are checked token for token too: the attempt, decoded again by the
    // target alone with the same random stream. One candidate per attempt, so that the draft
    // samples (best-of candidates are decoded together by the target).
    let sampled = run(&[
        "-m",
        "tiny.en",
        "--draft",
        "self-q8",
        "--verify",
        "--best-of",
        "1",
        "--temperature",
        "0.8",
        "-f",
        "json",
        jfk,
    ]);
    assert!(sampled.status.success(), "{}", stderr(&sampled));
    let sv: serde_json::Value = serde_json::from_slice(&sampled.stdout).unwrap();
    assert!(sv["stats"].get("verify_difference").is_none(), "{sv}");
    assert!(sv["stats"]["draft_tokens"].as_u64().unwrap() > 0, "{sv}");
    assert!(
        sv["segments"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["temperature"].as_f64().unwrap() > 0.5),
        "{sv}"
    );

    // Speculative beam search, checked against the target's beams one at a time; without
    // --speculative-beams the beams run without the draft.
    let beams = |extra: &[&str]| {
        let mut args = vec![
            "-m",
            "tiny.en",
            "--draft",
            "self-q8",
            "--beam-size",
            "4",
            "--verify",
            "-f",
            "json",
            jfk,
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let speculative = beams(&["--speculative-beams"]);
    assert!(
        speculative["stats"].get("verify_difference").is_none(),
        "{speculative}"
    );
    assert!(
        speculative["stats"]["draft_tokens"].as_u64().unwrap() > 0,
        "{speculative}"
    );
    let plain = beams(&[]);
    assert_eq!(
        plain["stats"]["draft_tokens"].as_u64().unwrap_or(0),
        0,
        "{plain}"
    );
    assert_eq!(plain["text"], speculative["text"]);
    assert!(
        speculative["stats"]["target_calls"].as_u64() < plain["stats"]["target_calls"].as_u64(),
        "{speculative} vs {plain}"
    );

    let alone = run(&["-m", "tiny.en", "--draft", "none", "-f", "json", jfk]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    let a: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
    assert!(a["stats"].get("draft").is_none());
    assert_eq!(a["text"], v["text"], "the draft changes nothing");

    let out = run(&["-m", "tiny.en", "--draft", "self-layers:0", jfk]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("self-layers"), "{}", stderr(&out));
    let out = run(&["-m", "tiny.en", "--draft", "no-such-draft", jfk]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("no-such-draft"), "{}", stderr(&out));
}

#[test]
fn detected_language_is_reported_with_its_probability() {
    common::models::store_model("base");
    let de = common::shared_dir().join("corpus/multilingual/picovoice_test_de.wav");
    let de = de.to_str().unwrap();
    let out = run(&["-m", "base", "-f", "json", de]);
    assert!(out.status.success(), "{}", stderr(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["language"], "de", "{v}");
    let p = v["language_probability"].as_f64().unwrap();
    assert!(p > 0.5 && p <= 1.0, "{p}");
    // A language given on the command line is not a detection: no probability.
    let out = run(&["-m", "base", "-l", "de", "-f", "json", de]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("language_probability").is_none(), "{v}");
    // The JSON of the speculative run reports the new draft by name.
    let out = run(&["-m", "base", "--draft", "self-int8", "-f", "json", de]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["draft"], "self-int8", "{v}");
}

#[test]
fn trace_writes_a_chrome_trace_of_every_phase() {
    let tmp = tempfile::tempdir().unwrap();
    let trace = tmp.path().join("trace.json");
    let jfk = jfk();
    // A global flag: after the command as well as before it.
    let out = run(&[
        "--trace",
        trace.to_str().unwrap(),
        "-m",
        "tiny.en",
        jfk.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = std::fs::read_to_string(&trace).unwrap();
    let events: Vec<serde_json::Value> =
        serde_json::from_str(&text).expect("a complete JSON trace");
    let mut open: std::collections::HashMap<String, i64> = std::collections::HashMap::new();
    for e in &events {
        let (Some(name), Some(ph)) = (e["name"].as_str(), e["ph"].as_str()) else {
            continue;
        };
        match ph {
            "B" => *open.entry(name.to_string()).or_default() += 1,
            "E" => *open.entry(name.to_string()).or_default() -= 1,
            _ => {}
        }
    }
    for span in [
        "load_model",
        "load_draft",
        "transcribe",
        "mel",
        "window",
        "encoder",
        "encoder_block",
        "encoder_attention",
        "encoder_mlp",
        "decode",
        "draft_round",
        "verify",
        "decoder_layer",
        "logits",
    ] {
        assert_eq!(
            open.get(span),
            Some(&0),
            "{span}: began and ended in the trace"
        );
    }
    // tiny.en has 4 decoder layers: every target pass (verify) traces each of them.
    let begun = |name: &str| {
        events
            .iter()
            .filter(|e| e["ph"] == "B" && e["name"] == name)
            .count()
    };
    assert_eq!(begun("decoder_layer"), 4 * begun("decoder"), "{text}");
    assert!(begun("verify") >= 3 && begun("decoder") >= begun("verify"));
    assert_eq!(begun("encoder_block"), 4);
    let out = run(&[
        "--trace",
        "/nonexistent/dir/t.json",
        "transcribe",
        jfk.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--trace"), "{}", stderr(&out));
}

#[test]
fn a_quantized_target_takes_a_draft_model_and_keeps_its_own_text() {
    let jfk = jfk();
    let jfk = jfk.to_str().unwrap();
    let alone = run(&[
        "-m",
        "tiny.en",
        "--quantize",
        "q8_0",
        "--draft",
        "none",
        "-f",
        "json",
        jfk,
    ]);
    assert!(alone.status.success(), "{}", stderr(&alone));
    let alone: serde_json::Value = serde_json::from_slice(&alone.stdout).unwrap();
    // The f32 model as the draft of its own q8_0 version: a draft from another model.
    let with = run(&[
        "-m",
        "tiny.en",
        "--quantize",
        "q8_0",
        "--draft",
        "tiny.en",
        "--verify",
        "-f",
        "json",
        jfk,
    ]);
    assert!(with.status.success(), "{}", stderr(&with));
    let with: serde_json::Value = serde_json::from_slice(&with.stdout).unwrap();
    assert_eq!(with["stats"]["draft"], "tiny.en (own encoder)");
    assert!(
        with["stats"]["draft_tokens"].as_u64().unwrap() > 0,
        "{with}"
    );
    assert!(with["stats"].get("verify_difference").is_none(), "{with}");
    assert_eq!(with["text"], alone["text"]);
    assert_eq!(with["model"], alone["model"]);
}

#[test]
fn a_quantized_decoder_transcribes_without_a_draft() {
    let jfk = jfk();
    let reference = "And so my fellow Americans, ask not what your country can do for you, \
                     ask what you can do for your country.";
    for q in ["q8_0", "q4k"] {
        let out = run(&[
            "-m",
            "tiny.en",
            "--quantize",
            q,
            "-f",
            "json",
            jfk.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{q}: {}", stderr(&out));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let text = json["text"].as_str().unwrap();
        let wer = whisper_spec::text::wer::wer(reference, text);
        assert!(wer <= 10.0, "{q}: WER {wer}: {text}");
        assert!(
            json["stats"].get("draft").is_none(),
            "{q}: no draft: {json}"
        );
        let model = json["model"].as_str().unwrap();
        assert!(
            model.starts_with("tiny.en (Q"),
            "{q}: the model says it is quantized: {model}"
        );
    }
    let out = run(&[
        "-m",
        "tiny.en",
        "--quantize",
        "q8_0",
        "--draft",
        "self-int8",
        jfk.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--quantize"), "{}", stderr(&out));
    let out = run(&["-m", "tiny.en", "--quantize", "q2", jfk.to_str().unwrap()]);
    assert!(!out.status.success());
}

#[test]
fn audio_context_encodes_less_than_a_window_and_still_transcribes() {
    let jfk = jfk();
    let reference = "And so my fellow Americans, ask not what your country can do for you, \
                     ask what you can do for your country.";
    let out = run(&[
        "-m",
        "tiny.en",
        "--audio-context",
        "5",
        "-f",
        "json",
        jfk.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = json["text"].as_str().unwrap();
    assert!(
        whisper_spec::text::wer::wer(reference, text) <= 10.0,
        "{text}"
    );
    let out = run(&["-m", "tiny.en", "--audio-context=-1", jfk.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--audio-context"), "{}", stderr(&out));
}

/// A float WAV of 10 s whose every seventh sample is NaN, ±infinity or ±1e38 (the rest a
/// quiet tone): one warning for each kind of damage, naming the file, and a transcription no
/// slower than twice real time (model load included).
#[test]
fn a_float_wav_of_nan_inf_and_1e38_is_warned_about_and_quick() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("hostile.wav");
    let n = 16_000 * 10;
    let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 1e38, -1e38];
    let mut data = Vec::with_capacity(n * 4);
    for i in 0..n {
        let v = if i % 7 == 0 {
            bad[(i / 7) % bad.len()]
        } else {
            0.3 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 16_000.0).sin()
        };
        data.extend_from_slice(&v.to_le_bytes());
    }
    let mut bytes = b"RIFF".to_vec();
    bytes.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    for v in [16u32, 0x0001_0003, 16_000, 64_000, 0x0020_0004] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&(data.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&data);
    std::fs::write(&path, &bytes).unwrap();

    common::models::store_model("tiny.en");
    let started = std::time::Instant::now();
    let out = run(&["-m", "tiny.en", path.to_str().unwrap()]);
    let took = started.elapsed().as_secs_f64();
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let name = path.display().to_string();
    for warning in ["NaN or infinite, replaced by 0", "outside [-1, 1], clipped"] {
        let line = err.lines().find(|l| l.contains(warning));
        assert!(line.is_some_and(|l| l.contains(&name)), "{warning}: {err}");
        assert_eq!(err.matches(warning).count(), 1, "reported once: {err}");
    }
    assert!(took <= 20.0, "{took:.1} s for 10 s of audio");
}

#[test]
fn show_drafts_prints_every_round_and_the_totals() {
    let jfk = jfk();
    let out = run(&[
        "-m",
        "tiny.en",
        "--draft",
        "self-int8",
        "--show-drafts",
        jfk.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    let rounds: Vec<&str> = err
        .lines()
        .filter(|l| l.split_whitespace().nth(1).is_some_and(|c| c.contains('/')))
        .collect();
    assert!(rounds.len() > 3, "{err}");
    let totals = err
        .lines()
        .find(|l| l.contains(" rounds, "))
        .expect("a totals line");
    assert!(
        totals.contains(&format!("{} rounds", rounds.len())),
        "{totals}"
    );
    // The rounds' text is the recording's.
    assert!(rounds.iter().any(|l| l.contains("country")), "{err}");
    let none = run(&[
        "-m",
        "tiny.en",
        "--draft",
        "none",
        "--show-drafts",
        jfk.to_str().unwrap(),
    ]);
    assert!(
        stderr(&none).contains("no speculation rounds"),
        "{}",
        stderr(&none)
    );
}
