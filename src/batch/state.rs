//! The resume record of a batch: which inputs are done, kept in the output directory.
//!
//! The record is a JSON-lines log (`.whisper-spec-batch.jsonl`): one line per finished input,
//! appended and synced only after all of that input's outputs are in place. A line holds the
//! input's identity (canonical path, size, modification time) and the options it was done with
//! (model and a fingerprint of every flag that changes the text), so a rerun skips exactly the
//! inputs whose outputs it would write again, and redoes changed ones. A run killed at any
//! point leaves at worst a torn last line, which the next run ignores: the input it was about
//! is simply done again. The log is rewritten compactly (atomically) when a run opens it.
//!
//! An exclusive lock on `.whisper-spec-batch.lock` keeps two batches from writing one output
//! directory at once.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use serde::{Deserialize, Serialize};

/// The record's file name in the output directory.
pub const STATE_FILE: &str = ".whisper-spec-batch.jsonl";
/// The lock file's name in the output directory.
pub const LOCK_FILE: &str = ".whisper-spec-batch.lock";

/// What identifies one version of an input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Canonical path (links resolved), the record's key.
    pub input: String,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the Unix epoch.
    pub mtime_ns: i64,
}

impl Fingerprint {
    /// The fingerprint of `path` as it is now.
    pub fn of(path: &Path) -> io::Result<Fingerprint> {
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

/// One finished input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Which input, in which version.
    #[serde(flatten)]
    pub fingerprint: Fingerprint,
    /// The model, as named on the command line.
    pub model: String,
    /// Fingerprint of the options (see [`options_key`]).
    pub options: String,
    /// The outputs written, relative to the output directory.
    pub outputs: Vec<PathBuf>,
    /// Audio duration, seconds.
    pub audio_s: f64,
    /// Wall time of the transcription, seconds.
    pub wall_s: f64,
}

/// The open record of an output directory, locked for this process.
#[derive(Debug)]
pub struct State {
    dir: PathBuf,
    log: File,
    done: HashMap<String, Record>,
    _lock: File,
}

/// Why the record could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Another process holds the lock.
    #[error(
        "another batch is writing to {0} (it holds {LOCK_FILE}); wait for it or use another output directory"
    )]
    Locked(PathBuf),
    /// Reading or writing the record failed.
    #[error("{path}: {source}")]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
}

impl State {
    /// Locks `dir`'s record and reads it (creating both files when missing). Lines that do not
    /// parse (a torn last line after a kill) are dropped; the log is then rewritten with one
    /// line per input.
    pub fn open(dir: &Path) -> Result<State, StateError> {
        let io_err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { path, source }
        };
        let lock_path = dir.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StateError::Locked(dir.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let path = dir.join(STATE_FILE);
        let mut done = HashMap::new();
        let mut lines = 0usize;
        match File::open(&path) {
            Ok(f) => {
                for line in BufReader::new(f).lines() {
                    let line = line.map_err(io_err(&path))?;
                    lines += 1;
                    match serde_json::from_str::<Record>(&line) {
                        Ok(r) => {
                            done.insert(r.fingerprint.input.clone(), r);
                        }
                        Err(e) => tracing::warn!(
                            "{}: ignoring an unreadable line (an interrupted write?): {e}",
                            path.display()
                        ),
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(&path)(e)),
        }
        if lines != done.len() {
            let mut records: Vec<&Record> = done.values().collect();
            records.sort_by(|a, b| a.fingerprint.input.cmp(&b.fingerprint.input));
            crate::output::write_file(&path, |out| {
                for r in records {
                    serde_json::to_writer(&mut *out, r)?;
                    out.write_all(b"\n")?;
                }
                Ok(())
            })
            .map_err(|e| StateError::Io {
                path: path.clone(),
                source: io::Error::other(e),
            })?;
        }
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_err(&path))?;
        Ok(State {
            dir: dir.to_path_buf(),
            log,
            done,
            _lock: lock,
        })
    }

    /// Whether `input` (as it is now) was done with `options` by `model`, and all of
    /// `outputs` (relative to the output directory) still exist.
    pub fn is_done(
        &self,
        input: &Fingerprint,
        model: &str,
        options: &str,
        outputs: &[PathBuf],
    ) -> bool {
        self.done.get(&input.input).is_some_and(|r| {
            r.fingerprint == *input
                && r.model == model
                && r.options == options
                && outputs.iter().all(|o| self.dir.join(o).is_file())
        })
    }

    /// The record of `input`, whatever its version.
    pub fn get(&self, input: &str) -> Option<&Record> {
        self.done.get(input)
    }

    /// Records `record` as done: one line appended and synced to disk before this returns.
    pub fn record(&mut self, record: Record) -> io::Result<()> {
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        // One write of the whole line: with O_APPEND a kill leaves it whole or torn at the end.
        self.log.write_all(&line)?;
        self.log.sync_data()?;
        self.done.insert(record.fingerprint.input.clone(), record);
        Ok(())
    }

    /// How many inputs are recorded as done.
    pub fn len(&self) -> usize {
        self.done.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.done.is_empty()
    }
}

/// A fingerprint of everything that decides an input's outputs besides the input itself: a
/// 64-bit FNV-1a hash, in hex, of the description `describe` (the model's options and output
/// layout, written out by the caller). FNV is fixed by its definition, so the key is the same
/// from one build to the next, unlike std's hasher.
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

    fn record(input: &str, outputs: &[&str]) -> Record {
        Record {
            fingerprint: Fingerprint {
                input: input.into(),
                size: 10,
                mtime_ns: 5,
            },
            model: "base".into(),
            options: "k".into(),
            outputs: outputs.iter().map(PathBuf::from).collect(),
            audio_s: 1.0,
            wall_s: 0.5,
        }
    }

    #[test]
    fn records_survive_a_torn_line_and_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("a.txt"), "x").unwrap();
        {
            let mut s = State::open(tmp.path()).unwrap();
            s.record(record("/in/a.mp3", &["a.txt"])).unwrap();
            s.record(record("/in/b.mp3", &["b.txt"])).unwrap();
        }
        // A kill in the middle of a write.
        let path = tmp.path().join(STATE_FILE);
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"input\":\"/in/c.mp3\",\"si").unwrap();
        drop(f);
        let s = State::open(tmp.path()).unwrap();
        assert_eq!(s.len(), 2);
        let a = &s.get("/in/a.mp3").unwrap().fingerprint;
        assert!(s.is_done(a, "base", "k", &[PathBuf::from("a.txt")]));
        // Another model, other options, a missing output or a changed file: not done.
        assert!(!s.is_done(a, "tiny.en", "k", &[PathBuf::from("a.txt")]));
        assert!(!s.is_done(a, "base", "other", &[PathBuf::from("a.txt")]));
        let b = &s.get("/in/b.mp3").unwrap().fingerprint;
        assert!(!s.is_done(b, "base", "k", &[PathBuf::from("b.txt")]));
        let changed = Fingerprint {
            size: 11,
            ..a.clone()
        };
        assert!(!s.is_done(&changed, "base", "k", &[PathBuf::from("a.txt")]));
        // The log was compacted: no torn line left.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
    }

    #[test]
    fn a_second_batch_on_the_same_directory_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let _first = State::open(tmp.path()).unwrap();
        let err = State::open(tmp.path()).unwrap_err();
        assert!(matches!(err, StateError::Locked(_)), "{err}");
    }

    #[test]
    fn options_key_is_fnv1a() {
        // The published FNV-1a test vectors.
        assert_eq!(options_key(""), "cbf29ce484222325");
        assert_eq!(options_key("a"), "af63dc4c8601ec8c");
    }
}
