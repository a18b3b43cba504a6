//! Batch transcription of whole archives (`whisper-spec batch`): find the audio under the
//! inputs, local or in object storage ([`discover`]), name each file's outputs below the
//! output tree ([`naming`]), take this task's part of the archive ([`shard`]), skip what an
//! earlier run finished ([`ledger`]), transcribe the rest with a pool of workers sharing one
//! model ([`runner`]) while showing progress ([`progress`]), and report this run
//! ([`report`]) and the whole tree ([`merged_report`]).
//!
//! The guarantees: an output file that exists is complete (atomic writes and whole-object
//! puts, [`output_tree`]); an input recorded as done has all its outputs and is recorded once,
//! however many tasks share the tree; one bad input fails alone; a full disk stops the batch
//! cleanly; a rerun of the same command (or shard) picks up where a stopped or killed one left
//! off.

pub mod discover;
pub mod ledger;
pub mod merged_report;
pub mod naming;
pub mod output_tree;
pub mod progress;
pub mod report;
pub mod runner;
pub mod shard;

pub use discover::{Discovery, Found, Source, discover};
pub use ledger::{Fingerprint, Ledger};
pub use output_tree::OutputTree;
pub use progress::{Progress, ProgressMode};
pub use report::Report;
pub use runner::{RunResult, Settings, Task};
pub use shard::Shard;

/// How old a temporary file must be before [`remove_stale_temps`] takes it for a leftover: an
/// atomic write holds one for milliseconds, so an hour-old one belongs to no running task.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the temporary files killed runs left in `outdir` (`.NAME.XXXXXX.tmp`, see
/// [`crate::output::write_file`]): they are hidden and never mistaken for output, but would
/// pile up over many killed runs. Only files older than an hour are taken, so the
/// in-flight writes of other shards sharing the directory are left alone. Returns how many
/// were removed.
pub fn remove_stale_temps(outdir: &std::path::Path) -> usize {
    let now = std::time::SystemTime::now();
    walkdir::WalkDir::new(outdir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.starts_with('.') && name.ends_with(".tmp")
        })
        .filter(|e| {
            e.metadata()
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| now.duration_since(t).ok())
                .is_some_and(|age| age >= STALE_TEMP_AGE)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}
