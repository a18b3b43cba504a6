//! Many tasks, one output tree: three shards of one archive run at once (each picking its shard
//! a different way: the flag, Slurm's array variables, a Kubernetes completion index), one is
//! killed with SIGKILL and run again, and every good file ends up transcribed and recorded
//! exactly once, bad files reported, and one merged report.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn corpus(rel: &str) -> PathBuf {
    common::shared_dir().join("corpus").join(rel)
}

/// A shard task: `batch IN -o OUT` with one job of one thread, tiny.en, plain progress.
fn shard_task(input: &Path, out: &Path) -> Command {
    common::models::store_model("tiny.en");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_whisper-spec"));
    cmd.arg("batch")
        .arg(input)
        .arg("-o")
        .arg(out)
        .args(["-m", "tiny.en", "-l", "en", "-f", "txt,json"])
        .args(["--jobs", "1", "--threads", "1", "--progress", "plain"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // The test's own environment must not pick a shard for the tasks.
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_COUNT",
        "JOB_COMPLETION_INDEX",
        "AWS_BATCH_JOB_ARRAY_INDEX",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn report(out: &Path) -> serde_json::Value {
    let got = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .arg("report")
        .arg(out)
        .arg("--json")
        .output()
        .unwrap();
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    serde_json::from_slice(&got.stdout).expect("report --json prints JSON")
}

/// Done markers by the shard that wrote them.
fn markers(out: &Path) -> Vec<serde_json::Value> {
    let Ok(dir) = std::fs::read_dir(out.join(".whisper-spec-batch/done")) else {
        return Vec::new();
    };
    dir.map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

use common::batch_outputs::outputs;

fn finish(child: Child) -> (Output, String) {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, text)
}

/// "[i/n] ok FILE: ..." lines: files this task transcribed and recorded.
fn ok_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.starts_with('[') && l.contains("] ok "))
        .map(str::to_string)
        .collect()
}

#[test]
fn three_shards_one_killed_and_rerun_transcribe_every_file_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let mut good = Vec::new();
    for i in 1..=9 {
        let dst = input
            .join(["a", "b", "c"][i % 3])
            .join(format!("LJ001-{i:04}.wav"));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(corpus(&format!("en_read/ljspeech/LJ001-{i:04}.wav")), &dst).unwrap();
        good.push(dst);
    }
    std::fs::write(input.join("notes.mp3"), "not audio at all\n".repeat(500)).unwrap();

    // The same archive by one process: what every shard's output must equal.
    let clean = tmp.path().join("clean");
    let (whole, log) = finish(shard_task(&input, &clean).spawn().unwrap());
    assert!(!whole.status.success(), "notes.mp3 fails: {log}");
    assert!(log.contains("shard 0/1"), "{log}");

    let out = tmp.path().join("out");
    let mut first = shard_task(&input, &out);
    first.args(["--shard", "0/3"]);
    let mut second = shard_task(&input, &out);
    second
        .env("SLURM_ARRAY_TASK_ID", "2")
        .env("SLURM_ARRAY_TASK_MIN", "1")
        .env("SLURM_ARRAY_TASK_COUNT", "3");
    let mut third = shard_task(&input, &out);
    third
        .env("JOB_COMPLETION_INDEX", "2")
        .args(["--shards", "3"]);
    let tasks = [
        first.spawn().unwrap(),
        second.spawn().unwrap(),
        third.spawn().unwrap(),
    ];
    let [first, second, third] = tasks;

    // Kill shard 1 (the Slurm task) once it has recorded one file, and printed its line
    // (a tenth of a second after the record; the next file takes longer).
    let started = Instant::now();
    while !markers(&out).iter().any(|m| m["shard"] == "1/3") {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "shard 1 made no progress"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        Command::new("kill")
            .args(["-KILL", &second.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let (killed, killed_log) = finish(second);
    assert!(!killed.status.success());
    let (_, log0) = finish(first);
    let (_, log2) = finish(third);
    assert!(log0.contains("shard 0/3 (--shard)"), "{log0}");
    assert!(
        killed_log.contains("shard 1/3 (from SLURM_ARRAY_TASK_ID)"),
        "{killed_log}"
    );
    assert!(
        log2.contains("shard 2/3 (from JOB_COMPLETION_INDEX)"),
        "{log2}"
    );

    let mid = report(&out);
    assert_eq!(mid["shards"], 3);
    assert_eq!(mid["unfinished_shards"], serde_json::json!([1]), "{mid}");
    let before = markers(&out).len();
    assert!(before < good.len(), "the kill left work: {before} done");

    // Shard 1 again: only its unfinished files.
    let mut again = shard_task(&input, &out);
    again.args(["--shard", "1/3"]);
    let (_, rerun_log) = finish(again.spawn().unwrap());
    assert!(rerun_log.contains("already done (skipped)"), "{rerun_log}");

    let r = report(&out);
    assert_eq!(r["unfinished_shards"], serde_json::json!([]), "{r}");
    assert_eq!(r["not_started"], 0, "{r}");
    assert_eq!(r["failed"], 1, "{r}");
    assert_eq!(
        r["ok"].as_u64().unwrap() + r["skipped"].as_u64().unwrap(),
        good.len() as u64,
        "{r}"
    );
    let failure = &r["failures"][0];
    assert!(
        failure["file"].as_str().unwrap().ends_with("notes.mp3"),
        "{r}"
    );
    assert!(
        failure["reason"].as_str().unwrap().contains("notes.mp3"),
        "{r}"
    );
    let statuses: Vec<&str> = r["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses.len(), good.len() + 1);

    // Exactly once: one done marker per good file, and the tasks' own logs together name
    // each good file once (the kill came between two files' records, or inside one that the
    // rerun then did).
    let done = markers(&out);
    assert_eq!(done.len(), good.len());
    let mut recorded: Vec<String> = done
        .iter()
        .map(|m| m["file"].as_str().unwrap().to_string())
        .collect();
    recorded.sort();
    recorded.dedup();
    assert_eq!(recorded.len(), good.len());
    let logged: usize = [&log0, &killed_log, &log2, &rerun_log]
        .iter()
        .map(|l| ok_lines(l).len())
        .sum();
    assert_eq!(
        logged,
        good.len(),
        "each good file transcribed and recorded once"
    );

    // The shards' outputs are those of the one-process run.
    assert_eq!(outputs(&out), outputs(&clean));
    let temps: Vec<_> = walkdir::WalkDir::new(&out)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

#[test]
fn shard_flags_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let input = corpus("en_read/ljspeech/LJ001-0001.wav");
    let out = tmp.path().join("out");
    for (args, env, expected) in [
        (vec!["--shard", "3/3"], None, "count from 0 to 2"),
        (vec!["--shard", "1/3", "--shards", "4"], None, "disagree"),
        (vec!["--shards", "4"], None, "without a shard index"),
        (vec![], Some(("JOB_COMPLETION_INDEX", "1")), "--shards N"),
        (
            vec![],
            Some(("SLURM_ARRAY_TASK_ID", "x")),
            "not a whole number",
        ),
    ] {
        let mut cmd = shard_task(&input, &out);
        cmd.args(&args);
        if let Some((k, v)) = env {
            cmd.env(k, v);
        }
        let got = cmd.output().unwrap();
        let err = String::from_utf8_lossy(&got.stderr);
        assert!(!got.status.success(), "{args:?} {env:?}");
        assert!(err.contains(expected), "{args:?} {env:?}: {err}");
    }
    // Two copies of one shard cannot run on one directory at once; another shard can.
    let mut a = shard_task(&corpus("en_read/ljspeech"), &out);
    a.args(["--shard", "0/2"]);
    let a = a.spawn().unwrap();
    let started = Instant::now();
    while !out.join(".whisper-spec-batch/shards/0-of-2.json").exists() {
        assert!(started.elapsed() < Duration::from_secs(120));
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut b = shard_task(&corpus("en_read/ljspeech"), &out);
    b.args(["--shard", "0/2"]);
    let got = b.output().unwrap();
    let err = String::from_utf8_lossy(&got.stderr);
    assert!(err.contains("another batch is running shard 0/2"), "{err}");
    Command::new("kill")
        .args(["-KILL", &a.id().to_string()])
        .status()
        .unwrap();
    let _ = a.wait_with_output();
}
