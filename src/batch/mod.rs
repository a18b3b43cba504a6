//! Batch transcription of whole archives (`whisper-spec batch`): find the audio under the
//! inputs ([`discover`]), name each file's outputs below the output directory ([`naming`]),
//! skip what an earlier run finished ([`state`]), transcribe the rest with a pool of workers
//! sharing one model ([`runner`]) while showing progress ([`progress`]), and report
//! ([`report`]).
//!
//! The guarantees: an output file that exists is complete (atomic writes); an input recorded
//! as done has all its outputs; one bad input fails alone; a full disk stops the batch cleanly;
//! a rerun of the same command picks up where a stopped or killed one left off.

pub mod discover;
pub mod naming;
pub mod progress;
pub mod report;
pub mod runner;
pub mod state;

pub use discover::{Discovery, Found, discover};
pub use progress::{Progress, ProgressMode};
pub use report::Report;
pub use runner::{RunResult, Settings, Task};
pub use state::{Fingerprint, State};

/// Removes the temporary files an interrupted run left in `outdir` (`.NAME.XXXXXX.tmp`, see
/// [`crate::output::write_file`]): they are hidden and never mistaken for output, but would
/// pile up over many killed runs. Call only while holding the directory's lock. Returns how
/// many were removed.
pub fn remove_stale_temps(outdir: &std::path::Path) -> usize {
    walkdir::WalkDir::new(outdir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.starts_with('.') && name.ends_with(".tmp")
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}
