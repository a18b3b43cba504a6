//! `-` as standard input for `transcribe` and `probe`, through the real binary: piped audio is
//! decoded and transcribed exactly as the same file given by path (every corpus format, an
//! ffmpeg-style streamed WAV header), and empty input, garbage, `-` twice, a terminal on stdin
//! and a runaway pipe each end in a clear error naming `<stdin>`, never a panic or a hang.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use whisper_spec::audio::{AudioError, stdin::read_bounded};

fn corpus(name: &str) -> PathBuf {
    common::shared_dir().join("corpus").join(name)
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
}

/// Runs `whisper-spec ARGS` with `input` written to its standard input from another thread
/// (so a child that stops reading cannot block the test); a write cut short is the child's
/// business, judged by its output.
fn run_piped(args: &[&str], input: Vec<u8>) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start whisper-spec");
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

/// `transcribe -m tiny.en --no-vad ARGS` with `input` on stdin (the model stored first).
fn transcribe_piped(args: &[&str], input: Vec<u8>) -> Output {
    common::models::store_model("tiny.en");
    let mut full = vec!["transcribe", "-m", "tiny.en", "--no-vad"];
    full.extend_from_slice(args);
    run_piped(&full, input)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// A failure that names `<stdin>`, says each of `needles`, and is no panic (status 1, not 101).
fn assert_clear_failure(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("<stdin>"), "does not name <stdin>: {err}");
    for needle in needles {
        assert!(err.contains(needle), "lacks {needle:?}: {err}");
    }
}

/// Transcribes `file` by path and the same bytes piped as `-` in one call (two JSON lines),
/// and checks that both give the same segments: text and timestamps.
fn assert_piped_transcript_matches_file(file: &Path) {
    let bytes = std::fs::read(file).unwrap();
    let out = transcribe_piped(&["-f", "json", file.to_str().unwrap(), "-"], bytes);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "one JSON line per input");
    let (by_path, piped) = (&lines[0], &lines[1]);
    assert_eq!(by_path["file"], file.to_str().unwrap());
    assert_eq!(piped["file"], "<stdin>");
    assert_eq!(piped["text"], by_path["text"], "{}", file.display());
    assert_eq!(piped["duration_s"], by_path["duration_s"]);
    let spans = |v: &Value| -> Vec<(Value, Value, Value)> {
        v["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| (s["start"].clone(), s["end"].clone(), s["text"].clone()))
            .collect()
    };
    assert_eq!(spans(piped), spans(by_path), "{}", file.display());
    assert!(
        by_path["text"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("ask not what your country can do for you"),
        "{}",
        by_path["text"]
    );
}

#[test]
fn piped_flac_is_transcribed_as_the_file_is() {
    assert_piped_transcript_matches_file(&corpus("jfk.flac"));
}

/// An M4A needs seeking (its `moov` is read for the edit list that drops AAC's priming):
/// piped, it must still start at the same time as the file.
#[test]
fn piped_m4a_is_transcribed_as_the_file_is() {
    assert_piped_transcript_matches_file(&corpus("formats/jfk_44100_stereo_aac.m4a"));
}

#[test]
fn piped_text_output_equals_the_files() {
    let jfk = corpus("jfk.flac");
    let by_path = transcribe_piped(&[jfk.to_str().unwrap()], Vec::new());
    assert!(by_path.status.success(), "{}", stderr(&by_path));
    let piped = transcribe_piped(&["-"], std::fs::read(&jfk).unwrap());
    assert!(piped.status.success(), "{}", stderr(&piped));
    assert!(!by_path.stdout.is_empty());
    assert_eq!(
        String::from_utf8(piped.stdout).unwrap(),
        String::from_utf8(by_path.stdout).unwrap()
    );
}

/// Every file of the corpus's format collection (wav in every sample format, flac, mp3, ogg,
/// opus, aac, m4a, mp4, webm, aiff) probes the same piped as by path: container, codec, rate,
/// channels, exact duration, truncation and warnings. No extension hints the format on stdin.
#[test]
fn probe_reads_every_piped_format_as_the_file() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus("formats"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(
        files.len() >= 20,
        "corpus/formats has {} files",
        files.len()
    );
    for file in &files {
        let by_path = run_piped(&["probe", file.to_str().unwrap()], Vec::new());
        let piped = run_piped(&["probe", "-"], std::fs::read(file).unwrap());
        assert!(by_path.status.success(), "{}", stderr(&by_path));
        assert!(
            piped.status.success(),
            "{}: {}",
            file.display(),
            stderr(&piped)
        );
        let mut by_path = json_lines(&by_path).remove(0);
        let mut piped = json_lines(&piped).remove(0);
        assert_eq!(piped["file"], "<stdin>");
        by_path["file"] = Value::Null;
        piped["file"] = Value::Null;
        assert_eq!(piped, by_path, "{}", file.display());
    }
}

/// `ffmpeg ... -f wav -` cannot seek back to fill in its sizes, so its RIFF and `data` sizes
/// are 0xFFFFFFFF ("unknown"): that is a stream to read to its end, not a truncated file.
#[test]
fn a_streamed_wav_header_from_a_pipe_is_read_to_its_end() {
    let file = corpus("formats/jfk_16000_mono_s16.wav");
    let mut wav = std::fs::read(&file).unwrap();
    assert_eq!(&wav[..4], b"RIFF");
    wav[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    let mut at = 12;
    loop {
        let size = u32::from_le_bytes(wav[at + 4..at + 8].try_into().unwrap()) as usize;
        if &wav[at..at + 4] == b"data" {
            wav[at + 4..at + 8].copy_from_slice(&u32::MAX.to_le_bytes());
            break;
        }
        at += 8 + size + size % 2;
    }
    let by_path = json_lines(&run_piped(&["probe", file.to_str().unwrap()], Vec::new())).remove(0);
    let out = run_piped(&["probe", "-"], wav);
    assert!(out.status.success(), "{}", stderr(&out));
    let piped = json_lines(&out).remove(0);
    assert_eq!(piped["duration_s"], by_path["duration_s"]);
    assert_eq!(piped["sample_rate"], 16000);
    assert_eq!(piped["truncated"], false, "{piped}");
    assert!(piped.get("warnings").is_none(), "{piped}");
}

#[test]
fn empty_stdin_is_a_clear_error() {
    let out = run_piped(&["probe", "-"], Vec::new());
    assert_eq!(out.status.code(), Some(1));
    let line = json_lines(&out).remove(0);
    assert_eq!(line["file"], "<stdin>");
    assert!(
        line["error"]
            .as_str()
            .unwrap()
            .starts_with("<stdin>: empty input"),
        "{line}"
    );

    let out = transcribe_piped(&["-"], Vec::new());
    assert_clear_failure(&out, &["<stdin>: empty input"]);
    assert!(out.stdout.is_empty());
}

#[test]
fn garbage_on_stdin_is_a_clear_error() {
    // Text, and bytes from a fixed LCG: nothing any demuxer takes for audio.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let noise: Vec<u8> = (0..64 * 1024)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 56) as u8
        })
        .collect();
    let text = b"this is not audio\n".repeat(1000);
    for garbage in [noise, text] {
        let out = run_piped(&["probe", "-"], garbage.clone());
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let line = json_lines(&out).remove(0);
        let error = line["error"].as_str().unwrap();
        assert!(
            error.starts_with("<stdin>: not a recognised audio file"),
            "{error}"
        );

        let out = transcribe_piped(&["-"], garbage);
        assert_clear_failure(&out, &["<stdin>: not a recognised audio file"]);
    }

    // A real header cut short: the audio's start, not garbage, but no frame to decode.
    let flac = std::fs::read(corpus("jfk.flac")).unwrap();
    let out = run_piped(&["probe", "-"], flac[..64].to_vec());
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let error = json_lines(&out).remove(0)["error"].to_string();
    assert!(error.contains("<stdin>: no audio"), "{error}");
}

#[test]
fn stdin_given_twice_is_a_usage_error() {
    for command in [
        &["transcribe", "-m", "tiny.en", "-", "-"][..],
        &["probe", "-", "-"][..],
        &["probe", "-", "x.wav", "-"][..],
    ] {
        let out = bin().args(command).stdin(Stdio::null()).output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {err}");
        assert!(err.contains("`-` (standard input)"), "{err}");
        assert!(err.contains("more than once"), "{err}");
        assert!(err.contains("Usage:"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn output_dir_writes_stdin_outputs() {
    let jfk = corpus("jfk.flac");
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    let out = transcribe_piped(
        &["-f", "txt,srt", "-o", out_dir.to_str().unwrap(), "-"],
        std::fs::read(&jfk).unwrap(),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let mut written: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["stdin.srt", "stdin.txt"]);
    let text = std::fs::read_to_string(out_dir.join("stdin.txt")).unwrap();
    assert!(
        text.to_lowercase()
            .contains("ask not what your country can do for you"),
        "{text}"
    );
    let srt = std::fs::read_to_string(out_dir.join("stdin.srt")).unwrap();
    assert!(srt.starts_with("1\n00:00:00,000 --> 00:00:"), "{srt}");

    // A file whose stem is `stdin` would write the same outputs: refused before any work.
    let clash = dir.path().join("stdin.flac");
    std::fs::copy(&jfk, &clash).unwrap();
    let out = transcribe_piped(
        &[
            "-o",
            out_dir.to_str().unwrap(),
            clash.to_str().unwrap(),
            "-",
        ],
        Vec::new(),
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("would both write"),
        "{}",
        stderr(&out)
    );
}

/// Waits up to `limit` for `child`, killing it (and failing) if it is still running then.
fn wait_at_most(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("still running after {limit:?}: waiting on the terminal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// With a terminal on stdin, `-` fails at once (before the model loads) instead of waiting for
/// an end of file the user does not know to type.
#[test]
fn a_terminal_on_stdin_is_refused_at_once() {
    use std::os::fd::{FromRawFd, OwnedFd};

    common::models::store_model("tiny.en");
    for command in [
        &["probe", "-"][..],
        &["transcribe", "-m", "tiny.en", "-"][..],
    ] {
        let (mut master, mut slave) = (-1, -1);
        // SAFETY: openpty writes two new descriptors into the two ints; the name, termios and
        // window size are optional and passed as null.
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors were just opened by openpty and are owned by nobody else.
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let child = bin()
            .args(command)
            .stdin(Stdio::from(slave))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let out = wait_at_most(child, Duration::from_secs(30));
        drop(master);
        // probe reports on stdout (a JSON line), transcribe on stderr.
        let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{command:?}: {said}");
        assert!(!said.contains("panicked"), "{said}");
        assert!(
            said.contains("<stdin>: is a terminal"),
            "{command:?}: {said}"
        );
    }
}

/// A pipe that never ends (`yes | whisper-spec transcribe -`) is cut off at the limit with an
/// error, not read until memory runs out; up to the limit, everything is read.
#[test]
fn a_runaway_pipe_is_cut_off_at_the_limit() {
    let limit = 1 << 20;
    match read_bounded(std::io::repeat(b'y'), limit) {
        Err(e @ AudioError::InputTooLarge { .. }) => {
            let msg = e.to_string();
            assert!(msg.starts_with("<stdin>: more than 1 MiB"), "{msg}");
            assert!(msg.contains("as a file"), "{msg}");
            assert_eq!(e.path(), Path::new("<stdin>"));
        }
        other => panic!("expected InputTooLarge, got {other:?}"),
    }
    let exact = vec![7u8; limit as usize];
    assert_eq!(read_bounded(&exact[..], limit).unwrap(), exact);
    assert!(read_bounded(&[][..], limit).unwrap().is_empty());
}
