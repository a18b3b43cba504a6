//! One report for an output tree that several shards wrote (`whisper-spec report OUT`): every
//! shard's plan merged with the done and failure records, so it is right whichever tasks ran,
//! were killed or never started.
//!
//! The current split is the shard count of the plan started last; its shards' inputs are
//! reported, each `ok` (done marker), `skipped` (done before its shard's current run started),
//! `failed` (a failure record and no done marker) or `not_started`. A shard is unfinished when
//! it has no plan, or its plan has no end (killed or still running), or it ended early
//! (interrupted or stopped), or any of its inputs is not started.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ledger::{self, LedgerError, Plan};
use super::output_tree::OutputTree;

/// One input's line in the merged report.
#[derive(Debug, Clone, Serialize)]
pub struct MergedFile {
    /// The input (path or URL).
    pub file: String,
    /// `ok`, `skipped`, `failed` or `not_started`.
    pub status: &'static str,
    /// The shard it belongs to.
    pub shard: usize,
    /// Outputs, relative to the output tree (when done).
    pub outputs: Vec<String>,
    /// Audio duration, seconds (when done).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_s: Option<f64>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One failure.
#[derive(Debug, Clone, Serialize)]
pub struct MergedFailure {
    /// The input.
    pub file: String,
    /// Why.
    pub reason: String,
}

/// The report of a whole output tree.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MergedReport {
    /// The output tree.
    pub output: String,
    /// The number of shards of the current split.
    pub shards: usize,
    /// Inputs done by the current runs.
    pub ok: usize,
    /// Inputs done by earlier runs.
    pub skipped: usize,
    /// Inputs that failed.
    pub failed: usize,
    /// Inputs no task has tried yet (or whose task was killed before finishing them).
    pub not_started: usize,
    /// Audio done (ok and skipped), hours.
    pub audio_hours: f64,
    /// Shards that did not run to their end, by index.
    pub unfinished_shards: Vec<usize>,
    /// Every failure, with its reason.
    pub failures: Vec<MergedFailure>,
    /// Every input of the split.
    pub files: Vec<MergedFile>,
}

/// Merges the records of `tree`. An empty tree (no plan) is an error: there is nothing to
/// report, most likely the wrong directory.
pub fn merge(tree: &OutputTree) -> Result<MergedReport, MergeError> {
    let plans = ledger::plans(tree)?;
    let newest = plans
        .iter()
        .max_by(|a, b| a.started_unix.total_cmp(&b.started_unix))
        .ok_or_else(|| MergeError::NoBatch(tree.top()))?;
    let count = newest.shards;
    let mut current: BTreeMap<usize, &Plan> = BTreeMap::new();
    for plan in plans.iter().filter(|p| p.shards == count) {
        // Two plans of one shard cannot both be on disk (same file); keep the newest anyway.
        let slot = current.entry(plan.shard).or_insert(plan);
        if plan.started_unix > slot.started_unix {
            *slot = plan;
        }
    }
    let done = ledger::done_ids(tree)?;
    let failed = ledger::failed_ids(tree)?;
    let mut report = MergedReport {
        output: tree.top(),
        shards: count,
        ..MergedReport::default()
    };
    for index in 0..count {
        let Some(plan) = current.get(&index) else {
            report.unfinished_shards.push(index);
            continue;
        };
        let mut complete = plan
            .ended
            .as_ref()
            .is_some_and(|e| !e.interrupted && e.stopped.is_none());
        for u in &plan.unreadable {
            report.failed += 1;
            report.failures.push(MergedFailure {
                file: u.file.clone(),
                reason: u.reason.clone(),
            });
            report.files.push(MergedFile {
                file: u.file.clone(),
                status: "failed",
                shard: index,
                outputs: Vec::new(),
                audio_s: None,
                reason: Some(u.reason.clone()),
            });
        }
        for f in &plan.files {
            let mut entry = MergedFile {
                file: f.file.clone(),
                status: "not_started",
                shard: index,
                outputs: Vec::new(),
                audio_s: None,
                reason: None,
            };
            if done.contains(&f.id) {
                let record = ledger::record_in(tree, &f.id)?;
                let earlier = record
                    .as_ref()
                    .is_some_and(|r| r.at_unix < plan.started_unix);
                entry.status = if earlier { "skipped" } else { "ok" };
                if let Some(r) = record {
                    report.audio_hours += r.audio_s / 3600.0;
                    entry.audio_s = Some(r.audio_s);
                    entry.outputs = r.outputs.iter().map(|o| ledger::slash_path(o)).collect();
                }
            } else if failed.contains(&f.id) {
                let reason = ledger::failure_of(tree, &f.id)?
                    .map(|r| r.reason)
                    .unwrap_or_default();
                entry.status = "failed";
                report.failures.push(MergedFailure {
                    file: f.file.clone(),
                    reason: reason.clone(),
                });
                entry.reason = Some(reason);
            } else {
                complete = false;
            }
            match entry.status {
                "ok" => report.ok += 1,
                "skipped" => report.skipped += 1,
                "failed" => report.failed += 1,
                _ => report.not_started += 1,
            }
            report.files.push(entry);
        }
        if !complete {
            report.unfinished_shards.push(index);
        }
    }
    report.files.sort_by(|a, b| a.file.cmp(&b.file));
    report.failures.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(report)
}

impl MergedReport {
    /// The human summary: totals, unfinished shards and failures.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {} shard{}; {} ok, {} skipped (done earlier), {} failed, {} not started; {:.2} h of audio done\n",
            self.output,
            self.shards,
            if self.shards == 1 { "" } else { "s" },
            self.ok,
            self.skipped,
            self.failed,
            self.not_started,
            self.audio_hours
        );
        if self.unfinished_shards.is_empty() {
            s.push_str("every shard ran to its end\n");
        } else {
            let list: Vec<String> = self
                .unfinished_shards
                .iter()
                .map(|k| format!("{k}/{}", self.shards))
                .collect();
            s.push_str(&format!(
                "unfinished shards (run them again): {}\n",
                list.join(", ")
            ));
        }
        for f in &self.failures {
            s.push_str(&format!("failed: {}\n", f.reason));
        }
        s
    }
}

/// Why no report could be made.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No shard ever started here.
    #[error("{0}: no batch has run here (no .whisper-spec-batch/shards/*.json)")]
    NoBatch(String),
    /// The records could not be read.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}
