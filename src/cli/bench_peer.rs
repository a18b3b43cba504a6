//! `whisper-spec bench --vs-faster-whisper`: our transcription against faster-whisper's on the
//! same CTranslate2 weights, side by side in one run.
//!
//! Each side runs as its own process per file and run (so each has its own peak RSS, read with
//! `wait4`), alternating (the machine is noisy), and medians are compared. Both report their
//! own in-process wall time without model load: ours is `stats.wall_s` of
//! `transcribe -f json` (audio decoding included), theirs the peers script's `wall_s`
//! (decoding excluded), so the comparison leans their way. Settings match the peers script:
//! greedy, no temperature fallback, no VAD, previous text as prompt, English, the same thread
//! count, timestamps unless `--no-timestamps`. Our rows run with the draft asked for and
//! with `--draft none`, so the table shows what speculative decoding adds. WER is against the
//! corpus manifest's reference where the file has one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

use crate::store::Store;

/// What one side of the comparison needs.
#[derive(Debug, Clone)]
pub struct PeerSetup {
    /// The Python of a venv with faster-whisper (`../shared/peers/setup.sh` makes one).
    pub python: PathBuf,
    /// The peers script (`faster_whisper_run.py`).
    pub script: PathBuf,
}

impl PeerSetup {
    /// From the flags, else `WHISPER_SPEC_PEER_PYTHON` / the venv `setup.sh` makes, and the
    /// script in the shared folder (`WHISPER_SPEC_SHARED`, else `../shared`). Fails with how to
    /// set it up when either is missing.
    pub fn find(python: Option<&Path>, script: Option<&Path>) -> anyhow::Result<PeerSetup> {
        let shared = std::env::var_os("WHISPER_SPEC_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared"));
        let python = python.map(Path::to_path_buf).unwrap_or_else(|| {
            std::env::var_os("WHISPER_SPEC_PEER_PYTHON")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    dirs::home_dir()
                        .unwrap_or_default()
                        .join(".cache/whisper-peers/venv/bin/python")
                })
        });
        let script = script
            .map(Path::to_path_buf)
            .unwrap_or_else(|| shared.join("peers/faster_whisper_run.py"));
        anyhow::ensure!(
            script.is_file(),
            "--vs-faster-whisper: no peers script at {} (give --peer-script, or set WHISPER_SPEC_SHARED)",
            script.display()
        );
        anyhow::ensure!(
            python.is_file(),
            "--vs-faster-whisper: no Python with faster-whisper at {}: create the venv with \
             `bash {}` (it prints the Python to give as --peer-python)",
            python.display(),
            script.with_file_name("setup.sh").display()
        );
        Ok(PeerSetup { python, script })
    }
}

/// One measured configuration on one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// Model name.
    pub model: String,
    /// Our weights' precision (`f32`, `q8_0`, `q4k`); theirs is float32 against f32 and
    /// int8 against the quantized ones.
    pub precision: &'static str,
    /// The input.
    pub file: String,
    /// Our draft (`none` or the label of the one used).
    pub draft: String,
    /// Median wall seconds, ours.
    pub ours_s: f64,
    /// Median wall seconds, faster-whisper's.
    pub theirs_s: f64,
    /// ours / theirs.
    pub ratio: f64,
    /// Our real-time factor.
    pub rtf: f64,
    /// Peak RSS of our process, MB.
    pub ours_rss_mb: f64,
    /// Peak RSS of theirs, MB.
    pub theirs_rss_mb: f64,
    /// Our WER in percent against the corpus manifest's reference (None: no reference).
    pub ours_wer: Option<f64>,
    /// faster-whisper's WER.
    pub theirs_wer: Option<f64>,
    /// Whether the texts are the same (whitespace aside).
    pub same_text: bool,
}

/// What the side-by-side measures.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Models to compare (each needs its CTranslate2 copy: the offline source has tiny.en and
    /// base).
    pub models: &'a [String],
    /// Inputs.
    pub files: &'a [PathBuf],
    /// Our draft besides `none` (f32 only: a quantized decoder has no draft).
    pub draft: &'a str,
    /// Our precisions: `f32`, `q8_0`, `q4k`.
    pub precisions: &'a [&'static str],
    /// Runs per side and configuration.
    pub runs: usize,
    /// Threads on both sides.
    pub threads: usize,
    /// Decode timestamps.
    pub timestamps: bool,
    /// Beam search with this many beams on both sides (`None`: greedy); our rows with a draft
    /// run the speculative beam search.
    pub beam_size: Option<usize>,
}

/// The faster-whisper side of a beam search comparison: the shared peers script decodes
/// greedily only, so beams run this one (written out next to the run).
const BEAM_PEER_SCRIPT: &str = include_str!("../../benches/faster_whisper_beam.py");

/// Measures every model x precision x file x draft against faster-whisper (float32 against
/// our f32, int8 against our quantized decoders).
pub fn compare(plan: &Plan<'_>, peer: &PeerSetup) -> anyhow::Result<Vec<Row>> {
    let ours = std::env::current_exe().context("cannot find this program's path")?;
    let store = Store::from_env();
    let beam_script = tempfile::Builder::new()
        .prefix("faster_whisper_beam")
        .suffix(".py")
        .tempfile()
        .context("cannot write the beam search peer script")?;
    std::fs::write(beam_script.path(), BEAM_PEER_SCRIPT)
        .context("cannot write the beam search peer script")?;
    let mut rows = Vec::new();
    for model in plan.models {
        let ct2 = store.fetch_ct2(model)?;
        for (&precision, file) in plan
            .precisions
            .iter()
            .flat_map(|p| plan.files.iter().map(move |f| (p, f)))
        {
            let reference = super::bench_whisper_cpp::reference_for(file)?;
            let wer = |text: &str| reference.as_deref().map(|r| crate::text::wer::wer(r, text));
            let compute_type = if precision == "f32" {
                "float32"
            } else {
                "int8"
            };
            let theirs_cmd = || {
                let mut c = Command::new(&peer.python);
                match plan.beam_size {
                    Some(beams) => c
                        .arg(beam_script.path())
                        .args(["--beam-size", &beams.to_string()]),
                    None => c.arg(&peer.script),
                }
                .arg("--model-dir")
                .arg(&ct2)
                .args(["--compute-type", compute_type, "--language", "en"])
                .args(["--threads", &plan.threads.to_string()]);
                if plan.timestamps {
                    c.arg("--timestamps");
                }
                c.arg(file);
                c
            };
            let ours_cmd = |draft: &str| {
                let mut c = Command::new(&ours);
                c.args(["transcribe", "-m", model, "-l", "en", "-f", "json"])
                    .args(["--temperature-increment-on-fallback", "none"])
                    .args(["--draft", draft, "-t", &plan.threads.to_string()]);
                if precision != "f32" {
                    c.args(["--quantize", precision]);
                }
                if let Some(beams) = plan.beam_size {
                    c.args(["--beam-size", &beams.to_string()]);
                    if draft != "none" {
                        c.arg("--speculative-beams");
                    }
                }
                if !plan.timestamps {
                    c.arg("--no-timestamps");
                }
                c.arg(file);
                c
            };
            let drafts: &[&str] = if precision == "f32" {
                &[plan.draft, "none"]
            } else {
                &["none"]
            };
            let mut ours_runs: Vec<Vec<Measured>> = vec![Vec::new(); drafts.len()];
            let mut theirs_runs = Vec::new();
            for _ in 0..plan.runs {
                for (i, draft) in drafts.iter().enumerate() {
                    ours_runs[i].push(measure(ours_cmd(draft), Side::Ours)?);
                }
                theirs_runs.push(measure(theirs_cmd(), Side::Theirs)?);
            }
            let theirs = Measured::summary(&theirs_runs);
            for runs in &ours_runs {
                let us = Measured::summary(runs);
                rows.push(Row {
                    model: model.clone(),
                    precision,
                    file: file.display().to_string(),
                    draft: us.draft.clone(),
                    ours_s: us.wall_s,
                    theirs_s: theirs.wall_s,
                    ratio: us.wall_s / theirs.wall_s,
                    rtf: us.wall_s / us.audio_s.max(1e-9),
                    ours_rss_mb: us.rss_mb,
                    theirs_rss_mb: theirs.rss_mb,
                    ours_wer: wer(&us.text),
                    theirs_wer: wer(&theirs.text),
                    same_text: squash(&us.text) == squash(&theirs.text),
                });
            }
        }
    }
    Ok(rows)
}

/// Which program printed the JSON.
#[derive(Debug, Clone, Copy)]
enum Side {
    Ours,
    Theirs,
}

/// One process's result.
#[derive(Debug, Clone)]
struct Measured {
    wall_s: f64,
    audio_s: f64,
    rss_mb: f64,
    text: String,
    draft: String,
}

impl Measured {
    /// Several runs as one: the median wall time, the largest RSS, the last text.
    fn summary(runs: &[Measured]) -> Measured {
        let last = runs.last().expect("at least one run");
        Measured {
            wall_s: super::bench_stats::median(runs.iter().map(|m| m.wall_s).collect()),
            rss_mb: runs.iter().map(|m| m.rss_mb).fold(0.0, f64::max),
            ..last.clone()
        }
    }
}

/// Whitespace-insensitive text.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs `cmd`, waits for it with `wait4` for its peak RSS, and reads its last stdout line.
fn measure(mut cmd: Command, side: Side) -> anyhow::Result<Measured> {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {shown}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let err_reader =
        std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let out = std::io::read_to_string(stdout).unwrap_or_default();
    let (status, rss_kb) = wait4(child.id())?;
    let err = err_reader.join().unwrap_or_default();
    anyhow::ensure!(status == 0, "{shown} failed (status {status}): {err}");
    let json: serde_json::Value = match side {
        // `transcribe -f json` prints one indented document.
        Side::Ours => serde_json::from_str(&out),
        Side::Theirs => serde_json::from_str(out.lines().last().unwrap_or_default()),
    }
    .with_context(|| format!("{shown}: output is not the expected JSON: {out}"))?;
    if let Some(e) = json.get("error") {
        anyhow::bail!("{shown}: {e}");
    }
    let f = |v: &serde_json::Value| v.as_f64().unwrap_or(0.0);
    Ok(match side {
        Side::Ours => Measured {
            wall_s: f(&json["stats"]["wall_s"]),
            audio_s: f(&json["duration_s"]),
            rss_mb: rss_kb / 1024.0,
            text: json["text"].as_str().unwrap_or_default().to_string(),
            draft: json["stats"]["draft"]
                .as_str()
                .unwrap_or("none")
                .to_string(),
        },
        Side::Theirs => Measured {
            wall_s: f(&json["wall_s"]),
            audio_s: f(&json["audio_s"]),
            rss_mb: rss_kb / 1024.0,
            text: json["text"].as_str().unwrap_or_default().to_string(),
            draft: String::new(),
        },
    })
}

/// Waits for process `pid`: its exit status (or 128 + signal) and peak RSS in KB.
pub(super) fn wait4(pid: u32) -> anyhow::Result<(i32, f64)> {
    let mut status = 0;
    // SAFETY: rusage is plain data, zero is a valid value; wait4 writes both out-parameters.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = libc::pid_t::try_from(pid).context("process id out of range")?;
    // SAFETY: `pid` is our own child, not yet waited for; the pointers are to live locals.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    anyhow::ensure!(got == pid, "wait4: {}", std::io::Error::last_os_error());
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        128 + libc::WTERMSIG(status)
    };
    Ok((code, usage.ru_maxrss as f64))
}

/// Prints the table, and returns the total ratio (sum of ours / sum of theirs) of each
/// precision and draft, as `("f32 self-int8", ratio)`.
pub fn print(rows: &[Row]) -> Vec<(String, f64)> {
    println!(
        "{:<8} {:<5} {:<40} {:<10} {:>8} {:>8} {:>6} {:>7} {:>9} {:>10} {:>7} {:>7} same",
        "model",
        "prec",
        "file",
        "draft",
        "ours s",
        "theirs s",
        "ratio",
        "RTF",
        "RSS ours",
        "RSS theirs",
        "WER us",
        "WER them"
    );
    let pct = |w: Option<f64>| w.map_or("-".to_string(), |w| format!("{w:.1}"));
    for r in rows {
        let file: String = {
            let chars: Vec<char> = r.file.chars().collect();
            chars[chars.len().saturating_sub(40)..].iter().collect()
        };
        println!(
            "{:<8} {:<5} {:<40} {:<10} {:>8.3} {:>8.3} {:>6.2} {:>7.3} {:>8.0}M {:>9.0}M {:>7} {:>7} {}",
            r.model,
            r.precision,
            file,
            r.draft,
            r.ours_s,
            r.theirs_s,
            r.ratio,
            r.rtf,
            r.ours_rss_mb,
            r.theirs_rss_mb,
            pct(r.ours_wer),
            pct(r.theirs_wer),
            r.same_text
        );
    }
    // Totals per precision and draft: sum of ours / sum of theirs.
    let mut totals: Vec<(String, f64)> = Vec::new();
    for r in rows {
        let key = format!("{} {}", r.precision, r.draft);
        if totals.iter().any(|(k, _)| *k == key) {
            continue;
        }
        let picked = rows
            .iter()
            .filter(|x| x.precision == r.precision && x.draft == r.draft);
        let (ours, theirs) = picked.fold((0.0, 0.0), |(o, t), x| (o + x.ours_s, t + x.theirs_s));
        totals.push((key, ours / theirs));
    }
    for (key, ratio) in &totals {
        println!("total {key}: ours / faster-whisper = {ratio:.2}");
    }
    totals
}
