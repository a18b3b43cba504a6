//! `whisper-spec caption` end to end with the real tiny.en model: a file through the live
//! pipeline (as fast as possible and at real-time pace), the real cpal capture path through an
//! ALSA file device, ten minutes of silence, Ctrl-C, and clear errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use whisper_spec::text::wer::{wer, words};

fn jfk() -> PathBuf {
    common::shared_dir().join("corpus/jfk.flac")
}

const JFK_TEXT: &str = "And so my fellow Americans, ask not what your country can do for you, \
                        ask what you can do for your country.";

/// The tests of this file run one at a time: each runs the model on both cores, and the
/// real-time ones measure the wall clock.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn caption(args: &[&str]) -> Command {
    common::models::store_model("tiny.en");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_whisper-spec"));
    cmd.arg("caption").args(["-m", "tiny.en"]).args(args);
    cmd
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The last stdout line, as JSON (`--json`).
fn summary(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("last line {last:?}: {e}\n{stdout}"))
}

/// The cues of an SRT file: (start, end, text), checking the numbering and layout.
fn srt_cues(path: &Path) -> Vec<(String, String, String)> {
    let srt = std::fs::read_to_string(path).unwrap();
    assert!(
        srt.is_empty() || srt.ends_with("\n\n"),
        "unfinished cue: {srt:?}"
    );
    srt.split("\n\n")
        .filter(|b| !b.is_empty())
        .enumerate()
        .map(|(i, block)| {
            let lines: Vec<&str> = block.lines().collect();
            assert_eq!(lines.len(), 3, "cue {block:?}");
            assert_eq!(lines[0], (i + 1).to_string());
            let (start, end) = lines[1].split_once(" --> ").expect("timing line");
            assert!(start <= end, "{block}");
            (start.to_string(), end.to_string(), lines[2].to_string())
        })
        .collect()
}

/// Whether some run of `n` words occurs twice in `text` (a line committed twice would).
fn has_repeated_run(text: &str, n: usize) -> bool {
    let w = words(text);
    let runs: Vec<&[String]> = w.windows(n).collect();
    runs.iter()
        .enumerate()
        .any(|(i, a)| runs[i + 1..].iter().any(|b| a == b))
}

#[test]
fn captions_a_file_as_fast_as_possible() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let srt = tmp.path().join("live.srt");
    let out = caption(&[
        "--input",
        jfk().to_str().unwrap(),
        "--realtime=false",
        "--json",
        "--compare-offline",
        "-o",
        srt.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    let text = v["text"].as_str().unwrap();
    assert!(wer(JFK_TEXT, text) <= 10.0, "{text}");
    assert!(!has_repeated_run(text, 4), "repeated words: {text}");
    let stats = &v["stats"];
    assert!(stats["wer_vs_offline"].as_f64().unwrap() <= 10.0, "{stats}");
    assert_eq!(stats["clock"], "simulated");
    assert_eq!(stats["words"].as_u64().unwrap() as usize, words(text).len());
    let (median, p90) = (
        stats["latency_median_s"].as_f64().unwrap(),
        stats["latency_p90_s"].as_f64().unwrap(),
    );
    assert!(0.0 < median && median <= p90, "{stats}");
    assert!(stats["decodes"].as_u64().unwrap() >= 10, "{stats}");
    assert!(stats["rewrites"].is_u64(), "{stats}");
    assert_eq!(stats["draft"], "self-int8");

    // The file holds exactly the committed text, in complete cues, in time order.
    let cues = srt_cues(&srt);
    assert_eq!(cues.len() as u64, stats["lines"].as_u64().unwrap());
    let joined: Vec<&str> = cues.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(words(&joined.join(" ")), words(text));
    assert!(cues.windows(2).all(|w| w[0].0 <= w[1].0), "{cues:?}");
    assert!(
        cues.last().unwrap().1.as_str() <= "00:00:11,100",
        "{cues:?}"
    );
    // Plain lines on stdout (not a terminal): the same lines, then the JSON.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let printed: Vec<&str> = stdout.lines().collect();
    assert_eq!(printed[..printed.len() - 1], joined[..]);
}

/// Phone-quality read speech (8 kHz Harvard sentences): tiny.en loops on a partial buffer
/// ("Small children came to see him." again and again, the copies squeezed into no audio, all
/// in one segment); the session keeps the sentence and drops the copies, so every sentence is
/// committed once: the committed text is within 2 points of the offline transcript's WER.
#[test]
fn a_decode_that_loops_keeps_the_sentence_before_its_copies() {
    let _serial = serial();
    let osr = common::shared_dir().join("corpus/en_misc/OSR_us_000_0034_8k.wav");
    let out = caption(&[
        "--input",
        osr.to_str().unwrap(),
        "--realtime=false",
        "--json",
        "--compare-offline",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    let reference = common::manifest_rows()
        .into_iter()
        .find(|row| row[0] == "en_misc/OSR_us_000_0034_8k.wav")
        .map(|row| row[8].clone())
        .expect("the corpus manifest lists the file");
    let (live, offline) = (
        v["text"].as_str().unwrap(),
        v["offline_text"].as_str().unwrap(),
    );
    assert!(
        wer(&reference, live) <= wer(&reference, offline) + 2.0,
        "live: {live}\noffline: {offline}"
    );
    assert!(live.contains("Small children came to see him"), "{live}");
    assert!(!has_repeated_run(live, 4), "repeated words: {live}");
    assert!(
        v["stats"]["echoed_words"].as_u64().unwrap() > 0,
        "{}",
        v["stats"]
    );
}

#[test]
fn ten_minutes_of_silence_produce_no_captions() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    // Five minutes of digital silence, then five of faint noise (about -70 dBFS), as a
    // quiet room through a real microphone.
    let path = tmp.path().join("silence.wav");
    let mut state = 12345u32;
    let samples: Vec<i16> = (0..16_000 * 600)
        .map(|i| {
            if i < 16_000 * 300 {
                0
            } else {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                ((state >> 16) % 21) as i16 - 10
            }
        })
        .collect();
    write_wav(&path, &samples);
    let vtt = tmp.path().join("live.vtt");
    let out = caption(&[
        "--input",
        path.to_str().unwrap(),
        "--realtime=false",
        "--json",
        "-o",
        vtt.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    assert_eq!(v["text"], "", "{v}");
    assert_eq!(v["stats"]["decodes"], 0, "{v}");
    assert!(
        (v["stats"]["audio_s"].as_f64().unwrap() - 600.0).abs() < 0.5,
        "{v}"
    );
    assert_eq!(std::fs::read_to_string(&vtt).unwrap(), "WEBVTT\n\n");
}

#[test]
fn a_file_fed_in_real_time_is_captioned_on_the_wall_clock() {
    let _serial = serial();
    let started = Instant::now();
    let out = caption(&["--input", jfk().to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    // On the wall clock the steps depend on this machine's speed (a busy machine gets longer
    // steps, other cuts of the buffer, and Whisper may add "Thank you." over the applause at
    // the end): the text is checked loosely here and closely in the fixed-step tests.
    assert!(wer(JFK_TEXT, v["text"].as_str().unwrap()) <= 25.0, "{v}");
    let stats = &v["stats"];
    assert_eq!(stats["clock"], "wall");
    // The file is played at its own pace: the session lasts at least its 11 s.
    let wall = stats["wall_s"].as_f64().unwrap();
    assert!(
        wall >= 11.0 && started.elapsed().as_secs_f64() >= 11.0,
        "{stats}"
    );
    assert_eq!(stats["dropped_s"], 0.0);
    // Reported, whether or not this machine fell behind (--max-lag).
    assert!(stats["skipped_s"].as_f64().is_some() && stats["jumps"].as_u64().is_some());
    assert!(stats["latency_p90_s"].as_f64().unwrap() > 0.0, "{stats}");
}

#[test]
fn ctrl_c_ends_the_session_and_keeps_the_captions() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let vtt = tmp.path().join("live.vtt");
    let long = common::shared_dir().join("corpus/long/ljspeech_LJ001-0001_to_0032_concat.flac");
    let child = caption(&[
        "--input",
        long.to_str().unwrap(),
        "--json",
        "-o",
        vtt.to_str().unwrap(),
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Let it caption the first sentence (the model loads in well under a second).
    std::thread::sleep(Duration::from_secs(9));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let interrupted = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        interrupted.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        interrupted.elapsed()
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    let text = v["text"].as_str().unwrap();
    assert!(
        words(text).starts_with(&words("Printing in the only sense")),
        "{text}"
    );
    let audio = v["stats"]["audio_s"].as_f64().unwrap();
    assert!((5.0..12.0).contains(&audio), "{v}");
    let captions = std::fs::read_to_string(&vtt).unwrap();
    assert!(captions.starts_with("WEBVTT\n\n") && captions.ends_with("\n\n"));
    let cue_text: Vec<&str> = captions
        .split("\n\n")
        .skip(1)
        .filter_map(|b| b.lines().nth(1))
        .collect();
    assert_eq!(words(&cue_text.join(" ")), words(text));
}

#[test]
fn captions_the_microphone_through_an_alsa_file_device() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    // cpal opens the fake default device as f32, 2 channels, 48 kHz: jfk upsampled (linear
    // interpolation is plenty for speech), then 4 s of silence (the plugin repeats stale
    // data after the end of its file, and the session stops after 14 s anyway).
    let audio = whisper_spec::audio::load_audio(jfk()).unwrap().samples;
    let frames = audio.len() * 3 + common::fake_mic::RATE * 4;
    let upsampled: Vec<f32> = (0..frames)
        .map(|i| {
            let t = i as f32 / 3.0;
            let j = t as usize;
            match (audio.get(j), audio.get(j + 1)) {
                (Some(a), Some(b)) => a + (b - a) * (t - j as f32),
                (Some(a), None) => *a,
                _ => 0.0,
            }
        })
        .collect();
    let alsa = common::fake_mic::alsa_config(tmp.path(), &upsampled);

    let listed = caption(&["--list-devices"])
        .env("ALSA_CONFIG_PATH", &alsa)
        .output()
        .unwrap();
    assert!(listed.status.success(), "{}", stderr(&listed));
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("* "),
        "no default device marked: {}",
        String::from_utf8_lossy(&listed.stdout)
    );

    // The file plugin delivers its audio faster than real time, so to the session the whole
    // file waits at once, as if inference had fallen that far behind: `--max-lag none` takes
    // it all in.
    let out = caption(&["--duration", "14", "--json", "--max-lag", "none"])
        .env("ALSA_CONFIG_PATH", &alsa)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    assert!(wer(JFK_TEXT, v["text"].as_str().unwrap()) <= 15.0, "{v}");
    assert!(
        (v["stats"]["audio_s"].as_f64().unwrap() - 14.0).abs() < 0.1,
        "{v}"
    );
    assert_eq!(v["stats"]["jumps"], 0, "{v}");

    // With the default limit (6 s) the session jumps to the newest audio and says so.
    let out = caption(&["--duration", "14", "--json"])
        .env("ALSA_CONFIG_PATH", &alsa)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    let stats = &v["stats"];
    assert!(stats["jumps"].as_u64().unwrap() >= 1, "{v}");
    assert!(stats["skipped_s"].as_f64().unwrap() >= 3.0, "{v}");
    assert!(stderr(&out).contains("skipped"), "{}", stderr(&out));
}

#[test]
fn a_terminal_shows_tentative_words_dimmed_on_a_line_rewritten_in_place() {
    let _serial = serial();
    // `script` runs the command on a pseudo-terminal, as a user's shell would.
    common::models::store_model("tiny.en");
    let command = format!(
        "{} caption -m tiny.en --input {} --realtime=false",
        env!("CARGO_BIN_EXE_whisper-spec"),
        jfk().display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm-256color")
        .env_remove("NO_COLOR")
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    assert!(out.status.success(), "{}", stderr(&out));
    let screen = String::from_utf8_lossy(&out.stdout);
    // The open line is cleared and redrawn, tentative words dimmed (SGR 2)...
    assert!(screen.matches("\r\x1b[2K").count() >= 5, "{screen:?}");
    assert!(screen.contains("\x1b[2m"), "{screen:?}");
    // ...and the finished lines stay, in plain text.
    // Status lines never end in a newline: what ends in one is finished lines.
    let finished: String = screen
        .split("\r\x1b[2K")
        .filter_map(|part| part.rfind('\n').map(|end| part[..end].replace('\r', "")))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        wer(JFK_TEXT, &finished) <= 10.0,
        "{finished:?} from {screen:?}"
    );
}

#[test]
fn bad_devices_inputs_and_flags_fail_clearly() {
    let _serial = serial();
    let out = caption(&["--device", "no-such-device"])
        .env("ALSA_CONFIG_PATH", "/usr/share/alsa/alsa.conf")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("no-such-device") && err.contains("no audio input device"),
        "{err}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.wav");
    std::fs::write(&text, "these are not audio samples\n").unwrap();
    let srt = tmp.path().join("never.srt");
    let out = caption(&[
        "--input",
        text.to_str().unwrap(),
        "-o",
        srt.to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("notes.wav"), "{}", stderr(&out));
    assert!(
        !srt.exists(),
        "a caption file for a session that never started"
    );

    let out = caption(&["--input", jfk().to_str().unwrap(), "-o", "x.mp3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains(".srt, .vtt, .txt or .jsonl"),
        "{}",
        stderr(&out)
    );

    let out = caption(&["--input", jfk().to_str().unwrap(), "--step-ms", "10"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--step-ms"), "{}", stderr(&out));
}

/// A 16 kHz mono 16-bit WAV file.
fn write_wav(path: &Path, samples: &[i16]) {
    let data_len = (samples.len() * 2) as u32;
    let mut b = Vec::with_capacity(44 + data_len as usize);
    b.extend_from_slice(b"RIFF");
    b.extend_from_slice(&(36 + data_len).to_le_bytes());
    b.extend_from_slice(b"WAVEfmt ");
    b.extend_from_slice(&16u32.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&1u16.to_le_bytes());
    b.extend_from_slice(&16_000u32.to_le_bytes());
    b.extend_from_slice(&32_000u32.to_le_bytes());
    b.extend_from_slice(&2u16.to_le_bytes());
    b.extend_from_slice(&16u16.to_le_bytes());
    b.extend_from_slice(b"data");
    b.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        b.extend_from_slice(&s.to_le_bytes());
    }
    std::fs::write(path, b).unwrap();
}

#[test]
fn room_tone_is_never_decoded() {
    // JFK, 3 minutes of room tone, JFK: the Silero VAD (on by default) keeps the decodes to
    // the speech, and both sentences are captioned.
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("jfk_room_tone_jfk.wav");
    std::fs::write(&path, common::room_tone::jfk_room_tone_jfk_wav(180)).unwrap();
    let out = caption(&[
        "--input",
        path.to_str().unwrap(),
        "--realtime=false",
        "--json",
    ])
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let v = summary(&out);
    let text = v["text"].as_str().unwrap();
    let expected = format!("{JFK_TEXT} {JFK_TEXT}");
    assert!(wer(&expected, text) <= 10.0, "{text}");
    let stats = &v["stats"];
    // 202 s at 0.5 s steps: about 400 steps; the room tone's 360 are skipped.
    let (decodes, silent) = (
        stats["decodes"].as_u64().unwrap(),
        stats["silent_steps"].as_u64().unwrap(),
    );
    assert!(decodes < 80 && silent > 300, "{stats}");
}
