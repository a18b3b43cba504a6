//! The end of a batch run: what was done, how fast, and what failed and why, printed and
//! written to the output tree (whole, like every output): `report.json` for a run over the
//! whole archive, the shard's own file beside its plan for one shard of several (see
//! [`super::merged_report`] for the report of all of them).

use std::path::PathBuf;

use serde::Serialize;

use super::progress::clock;
use super::runner::{FileResult, Outcome};

/// The report's file name in the output directory.
pub const REPORT_FILE: &str = "report.json";

/// A file that failed, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Failure {
    /// The input.
    pub file: String,
    /// The error, naming the file and the cause.
    pub error: String,
}

/// One input's line in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FileEntry {
    /// The input.
    pub file: String,
    /// `ok` (transcribed by this run), `skipped` (done by an earlier run), `failed`, or
    /// `not_started` (the run was stopped first).
    pub status: &'static str,
    /// Outputs, relative to the output directory (ok and skipped files).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub outputs: Vec<PathBuf>,
    /// Audio seconds (ok and skipped files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_s: Option<f64>,
    /// Wall seconds of this run's transcription (ok files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wall_s: Option<f64>,
    /// What the decoder noticed (a truncated stream), for files transcribed anyway.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl FileEntry {
    /// An entry with a status and nothing else known.
    fn new(file: String, status: &'static str) -> FileEntry {
        FileEntry {
            file,
            status,
            outputs: Vec::new(),
            audio_s: None,
            wall_s: None,
            warnings: Vec::new(),
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// The output directory.
    pub output_dir: String,
    /// The shard this run did (`K/N`; `0/1` for the whole archive).
    pub shard: String,
    /// The model.
    pub model: String,
    /// The speculative draft, if any.
    pub draft: Option<String>,
    /// Workers and threads per worker.
    pub jobs: usize,
    /// Threads per worker.
    pub threads: usize,
    /// Files transcribed by this run.
    pub ok: usize,
    /// Files that failed (unreadable inputs included).
    pub failed: usize,
    /// Files skipped because an earlier run did them with the same options.
    pub skipped: usize,
    /// Files not started because the run was stopped (Ctrl-C, or a full disk).
    pub not_started: usize,
    /// Hidden files and directories ignored.
    pub ignored_hidden: usize,
    /// Files in directories ignored for their extension.
    pub ignored_not_audio: usize,
    /// Hours of audio transcribed by this run.
    pub audio_hours: f64,
    /// Wall time of the run (model load included), seconds.
    pub wall_s: f64,
    /// Real-time factor: wall time / audio time (below 1 is faster than real time).
    pub rtf: f64,
    /// Audio hours per wall hour (1 / rtf).
    pub speed: f64,
    /// Share of the draft's proposals the model accepted, over this run (speculative only).
    pub acceptance_rate: Option<f64>,
    /// Tokens the draft proposed.
    pub draft_tokens: usize,
    /// Proposals accepted.
    pub accepted_tokens: usize,
    /// Whether the run was stopped by Ctrl-C.
    pub interrupted: bool,
    /// Why the run stopped early, when a failure stopped it (a full disk).
    pub stopped: Option<String>,
    /// Every failure, with its reason.
    pub failures: Vec<Failure>,
    /// Every input, with its status.
    pub files: Vec<FileEntry>,
}

impl Report {
    /// Tallies `results` of this run.
    pub fn tally(&mut self, results: &[FileResult]) {
        let mut audio_s = 0.0;
        for r in results {
            let file = r.path.display().to_string();
            match &r.outcome {
                Outcome::Done {
                    audio_s: a,
                    wall_s,
                    stats,
                    outputs,
                    warnings,
                } => {
                    self.ok += 1;
                    audio_s += a;
                    self.draft_tokens += stats.draft_tokens;
                    self.accepted_tokens += stats.accepted_tokens;
                    self.files.push(FileEntry {
                        outputs: outputs.clone(),
                        audio_s: Some(*a),
                        wall_s: Some(*wall_s),
                        warnings: warnings.clone(),
                        ..FileEntry::new(file, "ok")
                    });
                }
                Outcome::Failed(error) => self.fail(file, error.clone()),
                Outcome::DoneElsewhere { outputs } => {
                    self.skip(file, outputs.clone(), None);
                }
            }
        }
        self.audio_hours = audio_s / 3600.0;
        if self.draft.is_some() && self.draft_tokens > 0 {
            self.acceptance_rate = Some(self.accepted_tokens as f64 / self.draft_tokens as f64);
        }
    }

    /// Adds a file skipped because an earlier run did it.
    pub fn skip(&mut self, file: String, outputs: Vec<PathBuf>, audio_s: Option<f64>) {
        self.skipped += 1;
        self.files.push(FileEntry {
            outputs,
            audio_s,
            ..FileEntry::new(file, "skipped")
        });
    }

    /// Adds the `queued` files that have no entry yet: the run stopped before them.
    pub fn not_started(&mut self, queued: Vec<String>) {
        let known: std::collections::HashSet<String> =
            self.files.iter().map(|f| f.file.clone()).collect();
        for file in queued {
            if !known.contains(&file) {
                self.not_started += 1;
                self.files.push(FileEntry::new(file, "not_started"));
            }
        }
    }

    /// Adds a failure.
    pub fn fail(&mut self, file: String, error: String) {
        self.failed += 1;
        self.files.push(FileEntry::new(file.clone(), "failed"));
        self.failures.push(Failure { file, error });
    }

    /// Sets the wall time and the rates derived from it.
    pub fn finish(&mut self, wall_s: f64) {
        self.wall_s = wall_s;
        let audio_s = self.audio_hours * 3600.0;
        self.rtf = if audio_s > 0.0 { wall_s / audio_s } else { 0.0 };
        self.speed = if wall_s > 0.0 { audio_s / wall_s } else { 0.0 };
    }

    /// Writes the report to `rel` in `tree` (whole, atomically); returns how it is named.
    pub fn write(
        &self,
        tree: &super::OutputTree,
        rel: &str,
    ) -> Result<String, super::output_tree::TreeError> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("reports serialize");
        bytes.push(b'\n');
        tree.write(rel, &bytes)?;
        Ok(tree.display(rel))
    }

    /// The summary for the terminal: counts, speed, and each failure with its reason.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "batch: {} ok, {} failed, {} skipped (done before)",
            self.ok, self.failed, self.skipped
        );
        if self.not_started > 0 {
            s += &format!(", {} not started", self.not_started);
        }
        if self.ignored_hidden + self.ignored_not_audio > 0 {
            s += &format!(
                "; ignored {} hidden and {} non-audio files",
                self.ignored_hidden, self.ignored_not_audio
            );
        }
        s += &format!(
            "\nbatch: {:.2} h of audio in {} ({:.1}x real time, RTF {:.3})",
            self.audio_hours,
            clock(self.wall_s),
            self.speed,
            self.rtf
        );
        if let (Some(d), Some(rate)) = (&self.draft, self.acceptance_rate) {
            s += &format!(", draft {d} acceptance {:.1} %", 100.0 * rate);
        }
        if let Some(why) = &self.stopped {
            s += &format!(
                "\nbatch: stopped early: {why}\nbatch: fix that and rerun the same command: finished files are kept"
            );
        } else if self.interrupted {
            s += "\nbatch: stopped by Ctrl-C; rerun the same command to finish";
        }
        if !self.failures.is_empty() {
            s += "\nfailed:";
            for f in &self.failures {
                s += &format!("\n  {}", f.error);
            }
        }
        s
    }
}
