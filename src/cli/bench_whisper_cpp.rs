//! `whisper-spec bench --vs-whisper-cpp PATH`: our transcription against whisper.cpp's
//! `whisper-cli` on the same weights (the CTranslate2 model converted to ggml by
//! `../shared/peers/whisper_cpp/ct2_to_ggml.py`), side by side in one run.
//!
//! Both programs run as whole processes, model load and audio decoding included, because
//! whisper-cli reports no in-process time that leaves them out; each process's peak RSS comes
//! from `wait4`. The two sides alternate which goes first from run to run (the machine is
//! noisy), and every interleaved pair gives a ratio ours / theirs, whose median is the
//! headline. Settings: English, the same thread count, timestamps on both sides (whisper-cli's
//! `-nt` decodes without them), greedy or beam 5 with best-of 5, with or without temperature
//! fallback. WER is against the corpus manifest's reference where the file has one.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;

use super::bench_stats::median;
use crate::text::wer::wer;

/// One decoding setting, spelled the same way on both sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Beams (1: greedy).
    pub beams: usize,
    /// Temperature fallback on (both programs' default) or off.
    pub fallback: bool,
}

impl Setting {
    /// Parses `greedy`, `beam5`, ... with an optional `-nf` suffix (no fallback).
    pub fn parse(s: &str) -> anyhow::Result<Setting> {
        let (body, fallback) = match s.strip_suffix("-nf") {
            Some(b) => (b, false),
            None => (s, true),
        };
        let beams = match body {
            "greedy" => 1,
            _ => body
                .strip_prefix("beam")
                .and_then(|n| n.parse::<usize>().ok())
                .filter(|&n| n >= 1)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "unknown setting {s:?}: expected greedy or beamN, optionally with -nf"
                    )
                })?,
        };
        Ok(Setting { beams, fallback })
    }

    /// The name `parse` reads.
    pub fn name(&self) -> String {
        let body = if self.beams == 1 {
            "greedy".to_string()
        } else {
            format!("beam{}", self.beams)
        };
        if self.fallback {
            body
        } else {
            format!("{body}-nf")
        }
    }

    /// whisper-cli's flags for this setting (its best-of stays at its default, 5, as ours).
    fn whisper_cpp_flags(&self) -> Vec<String> {
        let mut f = vec!["-bs".to_string(), self.beams.to_string()];
        if !self.fallback {
            f.push("-nf".into());
        }
        f
    }

    /// `transcribe`'s flags for this setting (greedy: our default decoding, draft included).
    fn our_flags(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.beams > 1 {
            f.extend(["--beam-size".to_string(), self.beams.to_string()]);
        }
        if !self.fallback {
            f.extend([
                "--temperature-increment-on-fallback".to_string(),
                "none".to_string(),
            ]);
        }
        f
    }
}

/// What the side-by-side measures.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// whisper-cli.
    pub whisper_cli: &'a Path,
    /// The ggml model whisper-cli reads (the same weights as `model`).
    pub ggml_model: &'a Path,
    /// Our model name.
    pub model: &'a str,
    /// Inputs.
    pub files: &'a [PathBuf],
    /// Decoding settings.
    pub settings: &'a [Setting],
    /// Runs per side, setting and file.
    pub runs: usize,
    /// Threads on both sides.
    pub threads: usize,
}

/// One file under one setting.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    /// The input.
    pub file: String,
    /// The setting's name (`greedy`, `beam5-nf`, ...).
    pub setting: String,
    /// Median wall seconds of our whole process.
    pub ours_s: f64,
    /// Median wall seconds of whisper-cli's whole process.
    pub theirs_s: f64,
    /// Median over interleaved pairs of ours / theirs.
    pub ratio: f64,
    /// Largest peak RSS of our runs, MB.
    pub ours_rss_mb: f64,
    /// Largest peak RSS of theirs, MB.
    pub theirs_rss_mb: f64,
    /// Our WER in percent against the manifest's reference (None: no reference).
    pub ours_wer: Option<f64>,
    /// whisper.cpp's WER.
    pub theirs_wer: Option<f64>,
    /// Whether the texts are the same (whitespace aside).
    pub same_text: bool,
}

/// One finished process.
struct Measured {
    wall_s: f64,
    rss_mb: f64,
    text: String,
}

/// Measures every file x setting, both sides alternating.
pub fn compare(plan: &Plan<'_>) -> anyhow::Result<Vec<Row>> {
    anyhow::ensure!(
        plan.whisper_cli.is_file(),
        "--vs-whisper-cpp: no whisper-cli at {} (build it from a fetched whisper.cpp, see \
         ../shared/peers/README.md)",
        plan.whisper_cli.display()
    );
    anyhow::ensure!(
        plan.ggml_model.is_file(),
        "--whisper-cpp-model: no file at {} (convert the CTranslate2 model with \
         ../shared/peers/whisper_cpp/ct2_to_ggml.py)",
        plan.ggml_model.display()
    );
    let ours = std::env::current_exe().context("cannot find this program's path")?;
    let threads = plan.threads.to_string();
    let mut rows = Vec::new();
    for file in plan.files {
        let reference = reference_for(file)?;
        for setting in plan.settings {
            let ours_cmd = || {
                let mut c = Command::new(&ours);
                c.args(["transcribe", "-m", plan.model, "-l", "en", "-f", "json"])
                    .args(["-t", &threads])
                    .args(setting.our_flags())
                    .arg(file);
                c
            };
            let theirs_cmd = || {
                let mut c = Command::new(plan.whisper_cli);
                c.arg("-m")
                    .arg(plan.ggml_model)
                    .args(["-l", "en", "-t", &threads, "-np"])
                    .args(setting.whisper_cpp_flags())
                    .arg("-f")
                    .arg(file);
                c
            };
            let (mut us, mut them) = (Vec::new(), Vec::new());
            for run in 0..plan.runs {
                if run % 2 == 0 {
                    us.push(measure(ours_cmd(), Side::Ours)?);
                    them.push(measure(theirs_cmd(), Side::WhisperCpp)?);
                } else {
                    them.push(measure(theirs_cmd(), Side::WhisperCpp)?);
                    us.push(measure(ours_cmd(), Side::Ours)?);
                }
            }
            let ratios = us.iter().zip(&them).map(|(a, b)| a.wall_s / b.wall_s);
            let (our_text, their_text) = (&us[us.len() - 1].text, &them[them.len() - 1].text);
            rows.push(Row {
                file: file.display().to_string(),
                setting: setting.name(),
                ours_s: median(us.iter().map(|m| m.wall_s).collect()),
                theirs_s: median(them.iter().map(|m| m.wall_s).collect()),
                ratio: median(ratios.collect()),
                ours_rss_mb: us.iter().map(|m| m.rss_mb).fold(0.0, f64::max),
                theirs_rss_mb: them.iter().map(|m| m.rss_mb).fold(0.0, f64::max),
                ours_wer: reference.as_deref().map(|r| wer(r, our_text)),
                theirs_wer: reference.as_deref().map(|r| wer(r, their_text)),
                same_text: squash(our_text) == squash(their_text),
            });
        }
    }
    Ok(rows)
}

/// Which program ran.
#[derive(Debug, Clone, Copy)]
enum Side {
    Ours,
    WhisperCpp,
}

/// Runs `cmd` to the end: whole-process wall time, peak RSS (`wait4`) and the text it printed.
fn measure(mut cmd: Command, side: Side) -> anyhow::Result<Measured> {
    let shown = format!("{cmd:?}");
    let t0 = Instant::now();
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
    let (status, rss_kb) = super::bench_peer::wait4(child.id())?;
    let wall_s = t0.elapsed().as_secs_f64();
    let err = err_reader.join().unwrap_or_default();
    anyhow::ensure!(status == 0, "{shown} failed (status {status}): {err}");
    let text = match side {
        Side::Ours => {
            let json: serde_json::Value = serde_json::from_str(&out)
                .with_context(|| format!("{shown}: output is not the expected JSON: {out}"))?;
            json["text"].as_str().unwrap_or_default().to_string()
        }
        Side::WhisperCpp => whisper_cli_text(&out)
            .with_context(|| format!("{shown}: unexpected output (stderr: {err})"))?,
    };
    Ok(Measured {
        wall_s,
        rss_mb: rss_kb / 1024.0,
        text,
    })
}

/// The transcript in whisper-cli's standard output: the text of its segment lines
/// (`[00:00:00.000 --> 00:00:07.600]   And so ...`), joined by spaces. Fails on any other
/// non-blank line, so that a change of format shows instead of counting as missing words.
pub fn whisper_cli_text(stdout: &str) -> anyhow::Result<String> {
    let mut parts = Vec::new();
    for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
        let text = line
            .trim_start()
            .strip_prefix('[')
            .and_then(|rest| rest.split_once(']'))
            .filter(|(times, _)| times.contains("-->"))
            .map(|(_, text)| text.trim())
            .ok_or_else(|| anyhow::anyhow!("not a segment line: {line:?}"))?;
        if !text.is_empty() {
            parts.push(text);
        }
    }
    Ok(parts.join(" "))
}

/// Whitespace-insensitive text.
fn squash(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The reference transcript of `file` from the nearest `manifest.tsv` in the folders above it
/// (the corpus's), matched by the path relative to that folder; None where there is none.
pub(super) fn reference_for(file: &Path) -> anyhow::Result<Option<String>> {
    let file =
        std::fs::canonicalize(file).with_context(|| format!("cannot read {}", file.display()))?;
    for dir in file.ancestors().skip(1) {
        let manifest = dir.join("manifest.tsv");
        if !manifest.is_file() {
            continue;
        }
        let Ok(rel) = file.strip_prefix(dir) else {
            continue;
        };
        let text = std::fs::read_to_string(&manifest)
            .with_context(|| format!("cannot read {}", manifest.display()))?;
        return Ok(manifest_reference(&text, &rel.to_string_lossy()));
    }
    Ok(None)
}

/// The `transcript` column of the manifest row whose `file` column is `rel` (tab-separated,
/// the first line names the columns).
pub fn manifest_reference(manifest: &str, rel: &str) -> Option<String> {
    let mut lines = manifest.lines();
    let header: Vec<&str> = lines.next()?.split('\t').collect();
    let file_col = header.iter().position(|h| *h == "file")?;
    let text_col = header.iter().position(|h| *h == "transcript")?;
    lines
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|cols| cols.get(file_col) == Some(&rel))
        .and_then(|cols| cols.get(text_col).map(|t| t.to_string()))
        .filter(|t| !t.trim().is_empty())
}

/// Prints the table and, per setting, the median over files of the ratios; returns those
/// medians as `(setting, ratio)`.
pub fn print(rows: &[Row]) -> Vec<(String, f64)> {
    let pct = |w: Option<f64>| w.map_or("-".to_string(), |w| format!("{w:.1}"));
    println!(
        "{:<40} {:<10} {:>8} {:>8} {:>6} {:>9} {:>10} {:>7} {:>7} same",
        "file", "setting", "ours s", "cpp s", "ratio", "RSS ours", "RSS cpp", "WER us", "WER cpp"
    );
    for r in rows {
        let file: String = {
            let chars: Vec<char> = r.file.chars().collect();
            chars[chars.len().saturating_sub(40)..].iter().collect()
        };
        println!(
            "{:<40} {:<10} {:>8.2} {:>8.2} {:>6.2} {:>8.0}M {:>9.0}M {:>7} {:>7} {}",
            file,
            r.setting,
            r.ours_s,
            r.theirs_s,
            r.ratio,
            r.ours_rss_mb,
            r.theirs_rss_mb,
            pct(r.ours_wer),
            pct(r.theirs_wer),
            r.same_text
        );
    }
    let mut totals: Vec<(String, f64)> = Vec::new();
    for r in rows {
        if totals.iter().any(|(k, _)| *k == r.setting) {
            continue;
        }
        let ratios = rows
            .iter()
            .filter(|x| x.setting == r.setting)
            .map(|x| x.ratio)
            .collect();
        totals.push((r.setting.clone(), median(ratios)));
    }
    for (setting, ratio) in &totals {
        println!("median {setting}: ours / whisper.cpp = {ratio:.2}");
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_name() {
        for name in ["greedy", "greedy-nf", "beam5", "beam5-nf", "beam2"] {
            assert_eq!(Setting::parse(name).unwrap().name(), name);
        }
        assert_eq!(
            Setting::parse("beam5-nf").unwrap(),
            Setting {
                beams: 5,
                fallback: false
            }
        );
        for bad in ["beam", "beam0", "beamx", "greedy-nf-nf", "sample"] {
            assert!(Setting::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_on_both_sides() {
        let greedy = Setting::parse("greedy").unwrap();
        assert_eq!(greedy.whisper_cpp_flags(), ["-bs", "1"]);
        assert!(greedy.our_flags().is_empty());
        let beam = Setting::parse("beam5-nf").unwrap();
        assert_eq!(beam.whisper_cpp_flags(), ["-bs", "5", "-nf"]);
        assert_eq!(
            beam.our_flags(),
            [
                "--beam-size",
                "5",
                "--temperature-increment-on-fallback",
                "none"
            ]
        );
    }

    #[test]
    fn reads_whisper_cli_segments() {
        let out = "\n[00:00:00.000 --> 00:00:07.600]   And so my fellow Americans, ask not\n\
                   [00:00:07.600 --> 00:00:11.000]   what your country can do for you.\n\
                   [00:00:11.000 --> 00:00:12.000]  \n";
        assert_eq!(
            whisper_cli_text(out).unwrap(),
            "And so my fellow Americans, ask not what your country can do for you."
        );
        assert_eq!(whisper_cli_text("").unwrap(), "");
        assert!(whisper_cli_text("whisper_init_from_file: loading model\n").is_err());
        assert!(whisper_cli_text("[not times] text\n").is_err());
    }

    #[test]
    fn finds_the_manifest_reference() {
        let manifest = "file\tduration_s\ttranscript\tnotes\n\
                        a/one.flac\t1.0\tHELLO THERE\tx\n\
                        long/two.flac\t2.0\t\tno text\n";
        assert_eq!(
            manifest_reference(manifest, "a/one.flac").as_deref(),
            Some("HELLO THERE")
        );
        assert_eq!(manifest_reference(manifest, "long/two.flac"), None);
        assert_eq!(manifest_reference(manifest, "missing.flac"), None);
        assert_eq!(manifest_reference("no columns\n", "a/one.flac"), None);
    }
}
