//! `whisper-spec bench --vs-faster-whisper`: a real side-by-side run against faster-whisper
//! (the peers venv is created by ../shared/peers/setup.sh when missing), and a clear error
//! when the peer is not there.

mod common;

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    common::models::store_model("tiny.en");
    Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["bench", "--vs-faster-whisper", "-m", "tiny.en"])
        .args(args)
        .env("WHISPER_SPEC_SHARED", common::shared_dir())
        .output()
        .expect("run whisper-spec bench")
}

#[test]
fn compares_with_faster_whisper_on_the_same_weights() {
    let setup = common::shared_dir().join("peers/setup.sh");
    let out = Command::new("bash")
        .arg(&setup)
        .output()
        .expect("run setup.sh");
    assert!(
        out.status.success(),
        "{} could not create the faster-whisper venv: {}",
        setup.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let python = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let jfk = common::shared_dir().join("corpus/jfk.flac");
    let out = bench(&[
        "--peer-python",
        &python,
        "--runs",
        "1",
        "-t",
        "2",
        "--precisions",
        "f32,q8_0",
        "--json",
        jfk.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let last: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let ratio = last["ratio_vs_faster_whisper"].as_f64().unwrap();
    assert!(ratio.is_finite() && ratio > 0.0, "{last}");
    let rows = last["rows"].as_array().unwrap();
    assert_eq!(
        rows.len(),
        3,
        "f32 with the draft and without, q8_0 without: {last}"
    );
    assert_eq!(rows[1]["draft"], "none");
    assert_ne!(rows[0]["draft"], "none");
    assert_eq!(
        (rows[2]["precision"].as_str(), rows[2]["draft"].as_str()),
        (Some("q8_0"), Some("none"))
    );
    assert!(
        last["ratios"]["q8_0 none"].as_f64().unwrap() > 0.0,
        "{last}"
    );
    assert_eq!(
        last["ratios"]["f32 none"],
        last["ratio_vs_faster_whisper_no_draft"]
    );
    for r in rows {
        for key in ["ours_s", "theirs_s", "ours_rss_mb", "theirs_rss_mb", "rtf"] {
            assert!(r[key].as_f64().unwrap() > 0.0, "{key}: {r}");
        }
        let ratio = r["ratio"].as_f64().unwrap();
        let expect = r["ours_s"].as_f64().unwrap() / r["theirs_s"].as_f64().unwrap();
        assert!((ratio - expect).abs() < 1e-9, "{r}");
    }
    assert!(
        stdout.contains("total f32 none: ours / faster-whisper"),
        "{stdout}"
    );
}

#[test]
fn a_missing_peer_is_named_with_how_to_set_it_up() {
    let jfk = common::shared_dir().join("corpus/jfk.flac");
    let out = bench(&[
        "--peer-python",
        "/nonexistent/python",
        jfk.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/nonexistent/python") && err.contains("setup.sh"),
        "{err}"
    );
}
