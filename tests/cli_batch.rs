//! `whisper-spec batch` end to end, as real processes with the real tiny.en model: a tree of
//! good, bad, hidden, unicode and spaced names; resume after `kill -9` with outputs identical
//! to a clean run and every file done exactly once; Ctrl-C; a read-only output subfolder; a
//! full disk; the length limit.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use whisper_spec::text::wer::wer;

/// The tests of this file run one at a time: each runs the model on both cores.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn corpus(rel: &str) -> PathBuf {
    common::shared_dir().join("corpus").join(rel)
}

/// The reference transcript of a corpus file (manifest.tsv).
fn reference(rel: &str) -> String {
    common::manifest_rows()
        .into_iter()
        .find(|r| r[0] == rel)
        .unwrap_or_else(|| panic!("{rel} not in the manifest"))[8]
        .clone()
}

fn batch(args: &[&str]) -> Command {
    common::models::store_model("tiny.en");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_whisper-spec"));
    cmd.arg("batch")
        .args(["-m", "tiny.en", "-l", "en"])
        .args(args);
    cmd
}

/// `batch INPUT -o OUTDIR EXTRA...`.
fn batch_into(input: &Path, outdir: &Path, extra: &[&str]) -> Command {
    let mut cmd = batch(&[input.to_str().unwrap(), "-o", outdir.to_str().unwrap()]);
    cmd.args(extra);
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.output().expect("run whisper-spec batch")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn report(outdir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(outdir.join("report.json")).expect("report.json");
    serde_json::from_str(&text).expect("report.json is JSON")
}

fn copy(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("{} -> {}: {e}", from.display(), to.display()));
}

/// The canonical paths of the inputs recorded as done (one done marker each).
fn recorded(outdir: &Path) -> Vec<String> {
    let Ok(markers) = std::fs::read_dir(outdir.join(".whisper-spec-batch/done")) else {
        return Vec::new();
    };
    markers
        .map(|m| m.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|v| v["input"].as_str().unwrap().to_string())
        .collect()
}

use common::batch_outputs::outputs;

/// Fails if a temporary file of an atomic write is left under `dir`.
fn assert_no_temporary_files(dir: &Path) {
    let temps: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// A tree of `n` short real recordings (LJSpeech sentences) in two folders.
fn good_tree(root: &Path, n: usize) -> Vec<PathBuf> {
    (1..=n)
        .map(|i| {
            let src = corpus(&format!("en_read/ljspeech/LJ001-{i:04}.wav"));
            let dst = root
                .join(if i % 2 == 0 { "even" } else { "odd" })
                .join(format!("sentence {i}.wav"));
            copy(&src, &dst);
            dst
        })
        .collect()
}

#[test]
fn a_tree_of_good_bad_hidden_and_unicode_files() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("podcasts");
    copy(
        &corpus("jfk.flac"),
        &input.join("show one/jfk inaugural.flac"),
    );
    copy(
        &corpus("en_read/ljspeech/LJ001-0001.wav"),
        &input.join("émission/épisode 1.wav"),
    );
    copy(
        &corpus("formats/ljspeech_LJ001-0001.mp3"),
        &input.join("émission/épisode 1.mp3"),
    );
    std::fs::create_dir_all(input.join("bad")).unwrap();
    std::fs::write(input.join("bad/empty.wav"), b"").unwrap();
    let noise: Vec<u8> = (0..40_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(input.join("bad/random.mp3"), &noise).unwrap();
    std::fs::write(
        input.join("bad/text.wav"),
        "this is not audio\n".repeat(100),
    )
    .unwrap();
    // A FLAC cut after 2 s of its 11: decoded up to the cut, with a warning.
    let flac = std::fs::read(corpus("jfk.flac")).unwrap();
    std::fs::write(input.join("bad/truncated.flac"), &flac[..flac.len() / 5]).unwrap();
    copy(&corpus("jfk.flac"), &input.join(".cache/hidden.flac"));
    copy(&corpus("jfk.flac"), &input.join("show one/.partial.flac"));
    std::fs::write(input.join("show one/notes.txt"), "show notes").unwrap();
    let outdir = tmp.path().join("out");

    let out = run(batch_into(
        &input,
        &outdir,
        &["-f", "txt,srt,json", "--progress", "plain"],
    ));
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "failures give exit status 1\n{err}"
    );
    let r = report(&outdir);
    assert_eq!(r["ok"], 4, "{err}");
    assert_eq!(r["failed"], 3, "{err}");
    assert_eq!(r["skipped"], 0);
    assert_eq!(
        r["ignored_hidden"], 2,
        "the .cache folder and the .partial file"
    );
    assert_eq!(r["ignored_not_audio"], 1);
    let failures: BTreeMap<String, String> = r["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_string(),
                f["error"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let names: BTreeSet<&str> = failures
        .keys()
        .map(|f| f.rsplit('/').next().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["empty.wav", "random.mp3", "text.wav"])
    );
    for (file, error) in &failures {
        assert!(
            error.contains(file.as_str()),
            "the error names its file: {error}"
        );
        assert!(
            err.contains(error.as_str()),
            "each failure is printed: {error}"
        );
    }
    assert!(failures.values().any(|e| e.contains("empty")));

    // Outputs mirror the tree, names kept; the two "épisode 1" inputs keep their extensions.
    let files = outputs(&outdir);
    let expected: BTreeSet<PathBuf> = [
        "show one/jfk inaugural",
        "émission/épisode 1.wav",
        "émission/épisode 1.mp3",
        "bad/truncated",
    ]
    .iter()
    .flat_map(|stem| ["txt", "srt", "json"].map(|e| PathBuf::from(format!("{stem}.{e}"))))
    .collect();
    assert_eq!(files.keys().cloned().collect::<BTreeSet<_>>(), expected);
    let jfk = &files[Path::new("show one/jfk inaugural.txt")];
    assert!(wer(&reference("jfk.flac"), jfk) < 10.0, "{jfk}");
    let lj = reference("en_read/ljspeech/LJ001-0001.wav");
    for ext in ["wav", "mp3"] {
        let text = &files[&PathBuf::from(format!("émission/épisode 1.{ext}.txt"))];
        assert!(wer(&lj, text) < 15.0, "{ext}: {text}");
    }
    let truncated = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["file"].as_str().unwrap().ends_with("truncated.flac"))
        .unwrap();
    assert_eq!(truncated["status"], "ok");
    assert!(
        truncated["warnings"][0]
            .as_str()
            .unwrap()
            .contains("truncated"),
        "{truncated}"
    );

    // A rerun skips every done file (untouched outputs) and retries the failed ones.
    let before: Vec<_> = files
        .keys()
        .map(|f| {
            std::fs::metadata(outdir.join(f))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    let out = run(batch_into(
        &input,
        &outdir,
        &["-f", "txt,srt,json", "--progress", "none"],
    ));
    assert_eq!(out.status.code(), Some(1));
    let r = report(&outdir);
    assert_eq!(
        (
            r["ok"].as_u64(),
            r["skipped"].as_u64(),
            r["failed"].as_u64()
        ),
        (Some(0), Some(4), Some(3))
    );
    let after: Vec<_> = files
        .keys()
        .map(|f| {
            std::fs::metadata(outdir.join(f))
                .unwrap()
                .modified()
                .unwrap()
        })
        .collect();
    assert_eq!(before, after, "skipped files are not rewritten");

    // A changed input is redone; so is everything under other options.
    let emission = |extra: &[&str]| {
        let (from, to) = (input.join("émission"), outdir.join("émission"));
        let mut args = vec![
            from.to_str().unwrap(),
            "-o",
            to.to_str().unwrap(),
            "-f",
            "txt",
        ];
        args.extend_from_slice(extra);
        let out = run(batch(&args));
        assert!(out.status.success(), "{}", stderr(&out));
        let r = report(&to);
        (r["ok"].as_u64().unwrap(), r["skipped"].as_u64().unwrap())
    };
    copy(
        &corpus("en_read/ljspeech/LJ001-0003.wav"),
        &input.join("émission/épisode 1.wav"),
    );
    assert_eq!(
        emission(&[]),
        (2, 0),
        "another output dir is another record"
    );
    assert_eq!(emission(&[]), (0, 2));
    copy(
        &corpus("en_read/ljspeech/LJ001-0004.wav"),
        &input.join("émission/épisode 1.wav"),
    );
    assert_eq!(emission(&[]), (1, 1), "only the changed file is redone");
    let text = std::fs::read_to_string(outdir.join("émission/épisode 1.wav.txt")).unwrap();
    assert!(
        wer(&reference("en_read/ljspeech/LJ001-0004.wav"), &text) < 20.0,
        "{text}"
    );
    assert_eq!(
        emission(&["--no-timestamps"]),
        (2, 0),
        "other options redo everything"
    );
    assert_eq!(emission(&["--no-timestamps"]), (0, 2));
    assert_eq!(
        emission(&["--no-timestamps", "--force"]),
        (2, 0),
        "--force redoes everything"
    );
    assert_eq!(
        emission(&["--no-timestamps", "--quantize", "q8_0"]),
        (2, 0),
        "a quantized decoder is another model"
    );
}

/// Runs a batch over `input` into `outdir` and sends it `signal` (a comma list: sent 0.1 s
/// apart) once `after` files are recorded; returns the process's output.
fn run_and_signal(
    input: &Path,
    outdir: &Path,
    signal: &str,
    after: usize,
    extra: &[&str],
) -> Output {
    let mut cmd = batch_into(
        input,
        outdir,
        &["-f", "txt,srt,json", "--progress", "plain"],
    );
    cmd.args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    let started = Instant::now();
    while recorded(outdir).len() < after {
        assert!(started.elapsed() < Duration::from_secs(120), "no progress");
        std::thread::sleep(Duration::from_millis(10));
    }
    for (i, signal) in signal.split(',').enumerate() {
        if i > 0 {
            std::thread::sleep(Duration::from_millis(100));
        }
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
    child.wait_with_output().unwrap()
}

#[test]
fn kill_9_then_rerun_does_every_file_exactly_once() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let files = good_tree(&input, 10);
    let clean = tmp.path().join("clean");
    let out = run(batch_into(&input, &clean, &["-f", "txt,srt,json"]));
    assert!(out.status.success(), "{}", stderr(&out));

    let outdir = tmp.path().join("killed");
    let killed = run_and_signal(&input, &outdir, "-KILL", 3, &[]);
    assert!(!killed.status.success());
    let first: BTreeSet<String> = recorded(&outdir).into_iter().collect();
    assert!(
        first.len() >= 3 && first.len() < files.len(),
        "killed mid-run: {} done",
        first.len()
    );
    assert!(
        !outdir.join("report.json").exists(),
        "a killed run writes no report"
    );
    // Whatever the kill interrupted, every visible output is complete.
    outputs(&outdir);

    let out = run(batch_into(
        &input,
        &outdir,
        &["-f", "txt,srt,json", "--progress", "plain"],
    ));
    assert!(out.status.success(), "{}", stderr(&out));
    let r = report(&outdir);
    let redone: BTreeSet<String> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["status"] == "ok")
        .map(|f| {
            std::fs::canonicalize(f["file"].as_str().unwrap())
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(r["skipped"].as_u64().unwrap() as usize, first.len());
    assert!(first.is_disjoint(&redone), "no file done twice");
    let all: BTreeSet<String> = files
        .iter()
        .map(|f| f.canonicalize().unwrap().display().to_string())
        .collect();
    assert_eq!(
        first.union(&redone).cloned().collect::<BTreeSet<_>>(),
        all,
        "every file done"
    );
    assert_eq!(
        outputs(&outdir),
        outputs(&clean),
        "outputs identical to a clean run"
    );
    assert_no_temporary_files(&outdir);
}

#[test]
fn ctrl_c_lets_running_files_finish() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let files = good_tree(&input, 8);
    let outdir = tmp.path().join("out");
    let out = run_and_signal(&input, &outdir, "-INT", 2, &["--jobs", "2"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert!(err.contains("stopped by Ctrl-C"), "{err}");
    let r = report(&outdir);
    assert_eq!(r["interrupted"], true);
    let ok = r["ok"].as_u64().unwrap() as usize;
    let not_started = r["not_started"].as_u64().unwrap() as usize;
    assert_eq!(ok + not_started, files.len(), "{r}");
    assert!(not_started > 0, "{r}");
    assert_eq!(
        recorded(&outdir).len(),
        ok,
        "every finished file is recorded"
    );
    // The files being transcribed at Ctrl-C were finished, not abandoned.
    assert!(ok >= 2);
    let out = run(batch_into(&input, &outdir, &["-f", "txt,srt,json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let r = report(&outdir);
    assert_eq!(
        (
            r["ok"].as_u64().unwrap() as usize,
            r["skipped"].as_u64().unwrap() as usize
        ),
        (not_started, ok)
    );

    // Twice: quit at once, without a report; what is recorded is complete.
    let outdir = tmp.path().join("twice");
    let started = Instant::now();
    let out = run_and_signal(&input, &outdir, "-INT,-INT", 1, &["--jobs", "1"]);
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("quitting"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(60));
    assert!(!outdir.join("report.json").exists());
    let done = recorded(&outdir);
    assert!(!done.is_empty() && done.len() < files.len());
    assert!(outputs(&outdir).len() >= 3 * done.len());
}

/// A tmpfs mounted at `dir` (root only), unmounted on drop.
struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, options: &str) -> Mount {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs", dir.to_str().unwrap()])
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "this test mounts a tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Mount(dir.to_path_buf())
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

#[test]
fn a_read_only_output_subfolder_fails_its_files_alone() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    good_tree(&input, 4);
    let outdir = tmp.path().join("out");
    // Root ignores file modes: a read-only mount is what makes a folder read-only for it.
    let _mount = if is_root() {
        Some(Mount::tmpfs(&outdir.join("even"), "ro,size=1m"))
    } else {
        std::fs::create_dir_all(outdir.join("even")).unwrap();
        let mut perms = std::fs::metadata(outdir.join("even"))
            .unwrap()
            .permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o555);
        std::fs::set_permissions(outdir.join("even"), perms).unwrap();
        None
    };
    let out = run(batch_into(&input, &outdir, &[]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let r = report(&outdir);
    assert_eq!(
        (r["ok"].as_u64(), r["failed"].as_u64()),
        (Some(2), Some(2)),
        "{err}"
    );
    for f in r["failures"].as_array().unwrap() {
        let error = f["error"].as_str().unwrap();
        assert!(f["file"].as_str().unwrap().contains("/even/"), "{f}");
        assert!(
            error.contains("even/sentence") && error.contains(".txt"),
            "names the output: {error}"
        );
        assert!(
            error.contains("Read-only file system") || error.contains("Permission denied"),
            "says why: {error}"
        );
    }
    assert!(outdir.join("odd/sentence 1.txt").is_file());
}

#[test]
fn a_full_disk_stops_the_batch_cleanly() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    good_tree(&input, 10);
    let outdir = tmp.path().join("out");
    // Room for the record and a few files' outputs (a page each), not for ten.
    let _mount = Mount::tmpfs(&outdir, "size=48k");
    let out = run(batch_into(
        &input,
        &outdir,
        &["-f", "txt,srt,json", "--progress", "plain"],
    ));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("disk full"), "{err}");
    assert!(err.contains("No space left on device"), "{err}");
    let done = recorded(&outdir);
    assert!(
        !done.is_empty() && done.len() < 10,
        "{} recorded\n{err}",
        done.len()
    );
    let stopped: usize = err
        .lines()
        .find_map(|l| l.split(", ").find_map(|p| p.strip_suffix(" not started")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no 'not started' count\n{err}"));
    assert!(stopped > 0, "no new file starts after a full disk");
    // Every recorded file has all three outputs, complete; no temporary file is left.
    let files = outputs(&outdir);
    for input in &done {
        let stem = Path::new(input)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let parent = Path::new(input)
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for ext in ["txt", "srt", "json"] {
            assert!(
                files.contains_key(&PathBuf::from(format!("{parent}/{stem}.{ext}"))),
                "{input}: {ext} missing"
            );
        }
    }
    assert_no_temporary_files(&outdir);
}

#[test]
fn limits_and_flag_errors() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    copy(&corpus("jfk.flac"), &input.join("jfk.flac"));
    copy(
        &corpus("en_read/ljspeech/LJ001-0002.wav"),
        &input.join("short.wav"),
    );
    let outdir = tmp.path().join("out");
    // 0.001 h = 3.6 s: jfk (11 s) is over, the 1.9 s sentence is not.
    let out = run(batch_into(&input, &outdir, &["--max-hours", "0.001"]));
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let r = report(&outdir);
    assert_eq!((r["ok"].as_u64(), r["failed"].as_u64()), (Some(1), Some(1)));
    assert!(
        r["failures"][0]["error"]
            .as_str()
            .unwrap()
            .contains("longer than the limit"),
        "{r}"
    );

    // A list file: relative entries from the list's folder, missing entries fail alone.
    let list = tmp.path().join("episodes.txt");
    std::fs::write(
        &list,
        "# episodes\nin/short.wav\n\nin/missing.mp3\n/etc/../etc/hostname\n",
    )
    .unwrap();
    let listed = tmp.path().join("listed");
    let out = run(batch(&[
        &format!("@{}", list.display()),
        "-o",
        listed.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    let r = report(&listed);
    assert_eq!(
        (r["ok"].as_u64(), r["failed"].as_u64()),
        (Some(1), Some(2)),
        "{r}"
    );
    assert!(listed.join("in/short.txt").is_file());
    // The absolute entry is named below the output dir, never at its own path.
    assert!(r["failures"].to_string().contains("hostname"));

    let out = run(batch(&[
        tmp.path().join("nothing").to_str().unwrap(),
        "-o",
        outdir.to_str().unwrap(),
    ]));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("nothing"), "{}", stderr(&out));
    std::fs::create_dir_all(tmp.path().join("empty")).unwrap();
    let out = run(batch(&[
        tmp.path().join("empty").to_str().unwrap(),
        "-o",
        outdir.to_str().unwrap(),
    ]));
    assert!(stderr(&out).contains("no audio files"), "{}", stderr(&out));
    let out = run(batch_into(&input, &outdir, &["-f", "docx"]));
    assert!(stderr(&out).contains("docx"), "{}", stderr(&out));
    let out = run(batch_into(&input, &outdir, &["--jobs", "0"]));
    assert!(stderr(&out).contains("--jobs"), "{}", stderr(&out));
}

#[test]
fn a_terminal_gets_the_overall_bar_and_a_line_per_job() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    good_tree(&input, 4);
    common::models::store_model("tiny.en");
    let outdir = tmp.path().join("out");
    // `script` runs the command on a pseudo-terminal, as a user's shell would.
    let command = format!(
        "{} batch -m tiny.en -j 2 '{}' -o '{}'",
        env!("CARGO_BIN_EXE_whisper-spec"),
        input.display(),
        outdir.display()
    );
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm-256color")
        .output()
        .expect("script (util-linux) runs a command on a pseudo-terminal");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    // The overall bar: audio time done of the total, files, speed and ETA...
    assert!(screen.contains(" audio  "), "{screen:?}");
    assert!(screen.contains("/4 files"), "{screen:?}");
    assert!(screen.contains("x real time  ETA "), "{screen:?}");
    // ...a line per job naming its file and how far it is...
    assert!(
        screen.contains("job 1: ") && screen.contains("job 2: "),
        "{screen:?}"
    );
    assert!(screen.contains("sentence "), "{screen:?}");
    // ...redrawn in place, with each finished file printed above the bars.
    assert!(screen.contains("\x1b[2K"), "{screen:?}");
    assert_eq!(screen.matches("] ok ").count(), 4, "{screen:?}");
    assert!(screen.contains("batch: 4 ok, 0 failed"), "{screen:?}");
}
