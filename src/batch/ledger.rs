//! The batch's records in its output tree, shared by every task that writes there: which
//! inputs are done, which failed, and what each shard set out to do.
//!
//! ```text
//! OUT/.whisper-spec-batch/
//!   done/ID.json         one per finished input, created create-only
//!   failed/ID.json       the last failure of an input not yet done
//!   shards/K-of-N.json   shard K's plan: its inputs, when it started, how it ended
//!   shards/K-of-N.lock   held while shard K runs (local trees)
//! ```
//!
//! `ID` names one version of one input done one way: its output path, size, modification time,
//! model and options (see [`entry_id`]). A done marker is written only after all the input's
//! outputs are in place, and create-only ([`OutputTree::create_new`]), so an input is never
//! recorded twice even when two tasks race on it; a changed input or other options give another
//! ID, and the input is done again. A killed task leaves at worst outputs without a marker:
//! the input is simply redone when the shard runs again.
//!
//! Local shards are locked (`flock`), so the same shard cannot run twice at once; other shards,
//! and other splits of the same archive, share the tree freely. Object stores have no locks: two
//! copies of one shard would do its work twice, and the conditional puts still keep one record
//! per input.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::output_tree::{OutputTree, TreeError};
use super::shard::Shard;

/// The records' directory in the output tree.
pub const LEDGER_DIR: &str = ".whisper-spec-batch";
const DONE: &str = ".whisper-spec-batch/done";
const FAILED: &str = ".whisper-spec-batch/failed";
const SHARDS: &str = ".whisper-spec-batch/shards";

/// What identifies one version of an input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Canonical path (links resolved) or object URL.
    pub input: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl Fingerprint {
    /// The fingerprint of the local file `path` as it is now.
    pub fn of(path: &Path) -> std::io::Result<Fingerprint> {
        let meta = std::fs::metadata(path)?;
        let canonical = path.canonicalize()?;
        let mtime_ns = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        Ok(Fingerprint {
            input: canonical.to_string_lossy().into_owned(),
            size: meta.len(),
            mtime_ns,
        })
    }
}

/// One finished input: the content of its done marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The input as named in messages (path or URL).
    pub file: String,
    /// Which version of it.
    #[serde(flatten)]
    pub fingerprint: Fingerprint,
    /// The model, as named on the command line.
    pub model: String,
    /// Fingerprint of the options (see [`options_key`]).
    pub options: String,
    /// The outputs written, relative to the output tree.
    pub outputs: Vec<PathBuf>,
    /// Audio duration, seconds.
    pub audio_s: f64,
    /// Wall time of the transcription, seconds.
    pub wall_s: f64,
    /// The shard that did it (`K/N`).
    pub shard: String,
    /// When it was recorded, seconds since the Unix epoch.
    pub at_unix: f64,
}

/// An input's last failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureRecord {
    /// The input as named in messages.
    pub file: String,
    /// Why (the message names the file and the cause).
    pub reason: String,
    /// The shard that tried (`K/N`).
    pub shard: String,
    /// When, seconds since the Unix epoch.
    pub at_unix: f64,
}

/// One input of a shard's plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlannedFile {
    /// The input as named in messages.
    pub file: String,
    /// Its record ID ([`entry_id`]).
    pub id: String,
    /// Outputs, relative to the output tree.
    pub outputs: Vec<PathBuf>,
    /// Its duration from its header (or estimated from its size), seconds.
    pub estimate_s: f64,
}

/// How a shard's run ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanEnd {
    /// When, seconds since the Unix epoch.
    pub at_unix: f64,
    /// Ctrl-C stopped it before every input was tried.
    pub interrupted: bool,
    /// A reason every later input would share stopped it (a full disk).
    pub stopped: Option<String>,
}

/// What one shard set out to do, and whether it got to the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Which shard.
    pub shard: usize,
    /// Of how many.
    pub shards: usize,
    /// The model.
    pub model: String,
    /// The options' key.
    pub options: String,
    /// When it started, seconds since the Unix epoch.
    pub started_unix: f64,
    /// The machine and process that ran it.
    pub host: String,
    /// The process.
    pub pid: u32,
    /// Its inputs, in the shard's order.
    pub files: Vec<PlannedFile>,
    /// Inputs that could not be read at all, with why (shard 0 reports them).
    pub unreadable: Vec<FailureRecord>,
    /// Set when it ended (not after a kill).
    pub ended: Option<PlanEnd>,
}

/// Seconds since the Unix epoch.
pub fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Why the records could not be opened or written.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Another process runs this shard on this tree.
    #[error(
        "another batch is running shard {shard} in {dir} (it holds {lock}); wait for it, or give this one another --shard or output directory"
    )]
    Locked {
        /// The shard.
        shard: Shard,
        /// The output directory.
        dir: PathBuf,
        /// The lock file.
        lock: String,
    },
    /// A record could not be read or written.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A record that is not valid JSON (not written by this program).
    #[error("{path}: not a batch record ({reason})")]
    Corrupt {
        /// The record.
        path: String,
        /// The parser's complaint.
        reason: String,
    },
}

/// The records of one output tree, opened for one shard.
#[derive(Debug)]
pub struct Ledger {
    tree: OutputTree,
    shard: Shard,
    done: HashSet<String>,
    _lock: Option<File>,
}

impl Ledger {
    /// Opens the records of `tree` for `shard`: locks the shard (local trees) and lists the
    /// inputs done so far (by any shard).
    pub fn open(tree: &OutputTree, shard: Shard) -> Result<Ledger, LedgerError> {
        let lock = match tree.local_dir() {
            Some(dir) => Some(lock_shard(dir, shard)?),
            None => None,
        };
        let done = done_ids(tree)?;
        Ok(Ledger {
            tree: tree.clone(),
            shard,
            done,
            _lock: lock,
        })
    }

    /// The tree the records are in.
    pub fn tree(&self) -> &OutputTree {
        &self.tree
    }

    /// The shard this ledger was opened for.
    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// Whether `id` was recorded as done when the ledger was opened, and its `outputs` still
    /// exist (an output deleted by hand makes its input be done again).
    pub fn is_done(&self, id: &str, outputs: &[PathBuf]) -> Result<bool, LedgerError> {
        if !self.done.contains(id) {
            return Ok(false);
        }
        for output in outputs {
            if !self.tree.exists(&slash_path(output))? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether another task has recorded `id` since the ledger was opened (asked just before
    /// starting an input, so that racing tasks rarely do one twice).
    pub fn done_since(&self, id: &str) -> Result<bool, LedgerError> {
        Ok(self.tree.exists(&done_path(id))?)
    }

    /// The record of `id`, if it is done.
    pub fn record_of(&self, id: &str) -> Result<Option<Record>, LedgerError> {
        read_json(&self.tree, &done_path(id))
    }

    /// Records `id` as done (create-only); `false` when another task recorded it first. A
    /// failure recorded earlier for it is removed.
    pub fn record_done(&mut self, id: &str, record: &Record) -> Result<bool, LedgerError> {
        let bytes = serde_json::to_vec(record).expect("records serialize");
        let created = self.tree.create_new(&done_path(id), &bytes)?;
        self.done.insert(id.to_string());
        // A failure left from an earlier try is stale now; a leftover only shows until the
        // next run, since the report goes by the done marker first.
        let _ = self.tree.remove(&failed_path(id));
        Ok(created)
    }

    /// Forgets that `id` was done (`--force`): its marker is removed, so it is done again
    /// and recorded anew.
    pub fn forget(&mut self, id: &str) -> Result<(), LedgerError> {
        self.tree.remove(&done_path(id))?;
        self.done.remove(id);
        Ok(())
    }

    /// Records the failure of `id` (replacing an earlier one).
    pub fn record_failure(&self, id: &str, failure: &FailureRecord) -> Result<(), LedgerError> {
        let bytes = serde_json::to_vec(failure).expect("records serialize");
        Ok(self.tree.write(&failed_path(id), &bytes)?)
    }

    /// Writes this shard's plan (at start, and again with its end).
    pub fn write_plan(&self, plan: &Plan) -> Result<(), LedgerError> {
        let bytes = serde_json::to_vec_pretty(plan).expect("plans serialize");
        Ok(self
            .tree
            .write(&format!("{SHARDS}/{}.json", self.shard.file_stem()), &bytes)?)
    }
}

/// Every shard plan in `tree`.
pub fn plans(tree: &OutputTree) -> Result<Vec<Plan>, LedgerError> {
    let mut plans = Vec::new();
    for name in tree.list(SHARDS)? {
        if name.ends_with(".json") && !name.ends_with(".report.json") {
            let path = format!("{SHARDS}/{name}");
            if let Some(plan) = read_json(tree, &path)? {
                plans.push(plan);
            }
        }
    }
    Ok(plans)
}

/// The IDs of every done input in `tree`.
pub fn done_ids(tree: &OutputTree) -> Result<HashSet<String>, LedgerError> {
    ids_in(tree, DONE)
}

/// The IDs of every input with a failure record in `tree`.
pub fn failed_ids(tree: &OutputTree) -> Result<HashSet<String>, LedgerError> {
    ids_in(tree, FAILED)
}

/// The failure recorded for `id`.
pub fn failure_of(tree: &OutputTree, id: &str) -> Result<Option<FailureRecord>, LedgerError> {
    read_json(tree, &failed_path(id))
}

/// The done record of `id`.
pub fn record_in(tree: &OutputTree, id: &str) -> Result<Option<Record>, LedgerError> {
    read_json(tree, &done_path(id))
}

/// Where shard `shard`'s own run report goes.
pub fn shard_report_path(shard: Shard) -> String {
    format!("{SHARDS}/{}.report.json", shard.file_stem())
}

fn ids_in(tree: &OutputTree, dir: &str) -> Result<HashSet<String>, LedgerError> {
    Ok(tree
        .list(dir)?
        .into_iter()
        .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
        .collect())
}

fn done_path(id: &str) -> String {
    format!("{DONE}/{id}.json")
}

fn failed_path(id: &str) -> String {
    format!("{FAILED}/{id}.json")
}

/// `path` with `/` between its components, as object keys and report entries write it.
pub fn slash_path(path: &Path) -> String {
    path.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn read_json<T: serde::de::DeserializeOwned>(
    tree: &OutputTree,
    rel: &str,
) -> Result<Option<T>, LedgerError> {
    match tree.read(rel)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| LedgerError::Corrupt {
                path: tree.display(rel),
                reason: e.to_string(),
            }),
    }
}

/// Locks shard `shard` of the local tree `dir`.
fn lock_shard(dir: &Path, shard: Shard) -> Result<File, LedgerError> {
    let shards = dir.join(SHARDS);
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| LedgerError::Tree(TreeError::Io { path, source })
    };
    std::fs::create_dir_all(&shards).map_err(io_err(&shards))?;
    let path = shards.join(format!("{}.lock", shard.file_stem()));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io_err(&path))?;
    match lock.try_lock() {
        Ok(()) => Ok(lock),
        Err(std::fs::TryLockError::WouldBlock) => Err(LedgerError::Locked {
            shard,
            dir: dir.to_path_buf(),
            lock: format!("{SHARDS}/{}.lock", shard.file_stem()),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(io_err(&path)(e)),
    }
}

/// The record ID of input `rel` (its output path) in version `size`/`mtime_ns`, done by
/// `model` with options `options`: a 128-bit FNV-1a hash in hex. FNV is fixed by its
/// definition, so every task on every machine computes the same ID.
pub fn entry_id(rel: &Path, size: u64, mtime_ns: i64, model: &str, options: &str) -> String {
    let text = format!(
        "{}\0{size}\0{mtime_ns}\0{model}\0{options}",
        slash_path(rel)
    );
    let mut hash: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for byte in text.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    format!("{hash:032x}")
}

/// A fingerprint of everything that decides an input's outputs besides the input itself: a
/// 64-bit FNV-1a hash, in hex, of the description `describe` (the model's options and output
/// layout, written out by the caller).
pub fn options_key(describe: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in describe.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(file: &str) -> Record {
        Record {
            file: file.into(),
            fingerprint: Fingerprint {
                input: file.into(),
                size: 10,
                mtime_ns: 5,
            },
            model: "base".into(),
            options: "k".into(),
            outputs: vec![PathBuf::from("a.txt")],
            audio_s: 1.0,
            wall_s: 0.5,
            shard: "0/1".into(),
            at_unix: 0.0,
        }
    }

    #[test]
    fn an_input_is_recorded_once_across_shards() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = OutputTree::Local(tmp.path().to_path_buf());
        std::fs::write(tmp.path().join("a.txt"), "x").unwrap();
        let id = entry_id(Path::new("a"), 10, 5, "base", "k");
        let mut first = Ledger::open(&tree, Shard::new(0, 2).unwrap()).unwrap();
        let mut second = Ledger::open(&tree, Shard::new(1, 2).unwrap()).unwrap();
        assert!(!first.is_done(&id, &[PathBuf::from("a.txt")]).unwrap());
        first
            .record_failure(
                &id,
                &FailureRecord {
                    file: "a".into(),
                    reason: "x".into(),
                    shard: "0/2".into(),
                    at_unix: 0.0,
                },
            )
            .unwrap();
        assert!(failed_ids(&tree).unwrap().contains(&id));
        assert!(first.record_done(&id, &record("a")).unwrap());
        assert!(second.done_since(&id).unwrap());
        assert!(!second.record_done(&id, &record("a")).unwrap());
        assert!(failed_ids(&tree).unwrap().is_empty());
        let reopened = Ledger::open(&tree, Shard::new(1, 3).unwrap()).unwrap();
        assert!(reopened.is_done(&id, &[PathBuf::from("a.txt")]).unwrap());
        // An output deleted by hand: not done any more.
        assert!(!reopened.is_done(&id, &[PathBuf::from("b.txt")]).unwrap());
        assert_eq!(reopened.record_of(&id).unwrap().unwrap(), record("a"));
    }

    #[test]
    fn one_shard_runs_once_at_a_time() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = OutputTree::Local(tmp.path().to_path_buf());
        let _held = Ledger::open(&tree, Shard::new(1, 3).unwrap()).unwrap();
        let err = Ledger::open(&tree, Shard::new(1, 3).unwrap()).unwrap_err();
        assert!(matches!(err, LedgerError::Locked { .. }), "{err}");
        assert!(Ledger::open(&tree, Shard::new(2, 3).unwrap()).is_ok());
    }

    #[test]
    fn ids_depend_on_every_part() {
        let id = entry_id(Path::new("show/ep"), 1, 2, "base", "k");
        assert_eq!(id.len(), 32);
        assert_eq!(id, entry_id(Path::new("show/ep"), 1, 2, "base", "k"));
        for other in [
            entry_id(Path::new("show/ep2"), 1, 2, "base", "k"),
            entry_id(Path::new("show/ep"), 3, 2, "base", "k"),
            entry_id(Path::new("show/ep"), 1, 3, "base", "k"),
            entry_id(Path::new("show/ep"), 1, 2, "tiny.en", "k"),
            entry_id(Path::new("show/ep"), 1, 2, "base", "j"),
        ] {
            assert_ne!(id, other);
        }
    }

    #[test]
    fn options_key_is_fnv1a() {
        // The published FNV-1a test vectors.
        assert_eq!(options_key(""), "cbf29ce484222325");
        assert_eq!(options_key("a"), "af63dc4c8601ec8c");
    }
}
