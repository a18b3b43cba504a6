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

/// Removes the temporary files killed runs left in `outdir` (`.NAME.WRITER.XXXXXX.tmp`, see
/// [`crate::output::write_file`]): they are hidden and never mistaken for output, but would
/// pile up over many killed runs. A file is taken when its writer was a process of this
/// machine that has ended, or (a writer elsewhere) when it is older than an hour, so the
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
            crate::output::left_by_dead_writer(&e.file_name().to_string_lossy())
                || e.metadata()
                    .ok()
                    .and_then(|m| m.modified().ok())
                    .and_then(|t| now.duration_since(t).ok())
                    .is_some_and(|age| age >= STALE_TEMP_AGE)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file's name as `write_file` makes it, for the writer `tag`.
    fn temp_name(tag: &str) -> String {
        format!(".episode 1.srt.{tag}.AbC123.tmp")
    }

    #[test]
    fn a_dead_writers_leftover_goes_and_live_writes_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let mut sleeper = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let boot = crate::output::writer_tag()
            .split_once('-')
            .unwrap()
            .1
            .to_string();
        let names = [
            temp_name(&format!("{dead}-{boot}")),
            temp_name(&crate::output::writer_tag()),
            temp_name(&format!("{}-{boot}", sleeper.id())),
            temp_name(&format!("{dead}-0123abcd")),
            ".old-style.srt.AbC123.tmp".to_string(),
        ];
        for name in &names {
            std::fs::write(dir.path().join(name), "partial").unwrap();
        }
        assert_eq!(remove_stale_temps(dir.path()), 1);
        sleeper.kill().unwrap();
        sleeper.wait().unwrap();
        let left: std::collections::BTreeSet<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        // Only the dead process of this machine's write is gone: this process's, a running
        // one's, another machine's and a nameless writer's stay (until they are an hour old).
        assert_eq!(left, names[1..].iter().cloned().collect());
    }
}
