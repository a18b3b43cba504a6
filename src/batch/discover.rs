//! From the command line's inputs to the list of audio files to transcribe: files as given,
//! directories walked recursively (in name order, following links, without loops), and list
//! files (`@episodes.txt`, one path per line). Files in directories are chosen by extension;
//! hidden entries and other files are skipped and counted. Whether a chosen file really is
//! audio is found out when it is opened: a `notes.wav` holding text fails alone, with its
//! reason, and the batch goes on.

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use super::naming;
use crate::objects::Bucket;

/// File extensions taken from directories: what the decoder reads (audio containers, and video
/// containers for their audio track).
pub const AUDIO_EXTENSIONS: &[&str] = &[
    "wav", "wave", "flac", "mp3", "mp2", "mpga", "ogg", "oga", "opus", "m4a", "m4b", "mp4", "aac",
    "adts", "webm", "mka", "mkv", "aif", "aiff", "aifc", "caf",
];

/// One audio file to transcribe.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The path to open, or the object's URL (what messages and reports name).
    pub path: PathBuf,
    /// Its outputs' path below the output directory, without extension (see [`naming`]).
    pub rel: PathBuf,
    /// Where its bytes are.
    pub source: Source,
}

/// Where an input's bytes are.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A file on this machine, at [`Found::path`].
    File,
    /// An object in one of the batch's input buckets (its index among them, as given to
    /// [`discover`]), with its size and modification time from the listing.
    Object {
        /// Which bucket.
        bucket: usize,
        /// The object's key relative to the bucket's prefix.
        key: String,
        /// Size in bytes.
        size: u64,
        /// Modification time, nanoseconds since the Unix epoch.
        modified_ns: i64,
    },
}

/// An input that could not be read at all (a missing path, an unreadable directory).
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// The path, as given or as found in the walk.
    pub path: PathBuf,
    /// Why.
    pub error: String,
}

/// What the inputs hold.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    /// Audio files, in input order (directories in name order), each once.
    pub files: Vec<Found>,
    /// Hidden files and directories skipped (names starting with `.`).
    pub hidden: usize,
    /// Files in directories skipped for their extension.
    pub not_audio: usize,
    /// Inputs that could not be read; each becomes a failure of the batch.
    pub unreadable: Vec<Unreadable>,
}

/// Finds the audio files of `inputs` (files, directories, `@list` files) and under the
/// prefixes of `buckets` (objects chosen by extension like a directory's files; their outputs
/// mirror their keys below the prefix). `outdir` (a local output directory) is never walked
/// into (a batch run inside its own input tree would otherwise read its outputs). A list file
/// or a bucket that cannot be read is an error: it is the batch's whole job description.
pub fn discover(
    inputs: &[PathBuf],
    buckets: &[Bucket],
    outdir: Option<&Path>,
) -> anyhow::Result<Discovery> {
    let mut d = Discovery::default();
    let mut found: Vec<(PathBuf, PathBuf, Source)> = Vec::new();
    let skip_dir = outdir.and_then(|o| o.canonicalize().ok());
    let cwd = std::env::current_dir().unwrap_or_default();
    for input in inputs {
        match list_file(input) {
            Some(list) => {
                let text = std::fs::read_to_string(list).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot read list file {}: {e}", list.display()),
                    )
                })?;
                let base = list.parent().unwrap_or(Path::new(""));
                for line in text.lines().map(str::trim) {
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    let entry = Path::new(line);
                    // Relative entries are relative to the list; outputs mirror the entry as
                    // written (an absolute one below the output directory, not at its path).
                    let path = if entry.is_absolute() {
                        entry.to_path_buf()
                    } else {
                        base.join(entry)
                    };
                    add_input(&path, entry, true, skip_dir.as_deref(), &mut d, &mut found);
                }
            }
            None => {
                // An absolute path below the working directory mirrors as if given relative.
                let mirrored = input.strip_prefix(&cwd).unwrap_or(input);
                add_input(
                    input,
                    mirrored,
                    false,
                    skip_dir.as_deref(),
                    &mut d,
                    &mut found,
                )
            }
        }
    }
    for (index, bucket) in buckets.iter().enumerate() {
        for object in bucket.list("")? {
            let key = Path::new(&object.key);
            let hidden = key
                .components()
                .any(|c| c.as_os_str().to_string_lossy().starts_with('.'));
            if hidden {
                d.hidden += 1;
            } else if !has_audio_extension(key) {
                d.not_audio += 1;
            } else {
                let source = Source::Object {
                    bucket: index,
                    key: object.key.clone(),
                    size: object.size,
                    modified_ns: object.modified_ns,
                };
                found.push((
                    PathBuf::from(bucket.url_of(&object.key)),
                    key.into(),
                    source,
                ));
            }
        }
    }
    // The same file reached twice (given and inside a given directory, or through a link) is
    // transcribed once.
    let mut seen = HashSet::new();
    found.retain(|(path, _, _)| seen.insert(path.canonicalize().unwrap_or_else(|_| path.clone())));
    let mut rels: Vec<PathBuf> = found
        .iter()
        .map(|(_, mirrored, _)| naming::mirror(mirrored))
        .collect();
    let sources: Vec<&Path> = found.iter().map(|(path, _, _)| path.as_path()).collect();
    naming::make_unique(&mut rels, &sources);
    d.files = found
        .into_iter()
        .zip(rels)
        .map(|((path, _, source), rel)| Found { path, rel, source })
        .collect();
    Ok(d)
}

/// `@list.txt` names a list file.
fn list_file(input: &Path) -> Option<&Path> {
    input
        .to_str()
        .and_then(|s| s.strip_prefix('@'))
        .filter(|s| !s.is_empty())
        .map(Path::new)
}

/// Adds one input path: a file as it is, a directory walked. `mirrored` is the path whose
/// components a file's outputs mirror; a directory's tree is mirrored from the output
/// directory's top, or below the entry's own path when it comes from a list file (so two
/// listed directories do not mix).
fn add_input(
    path: &Path,
    mirrored: &Path,
    from_list: bool,
    skip_dir: Option<&Path>,
    d: &mut Discovery,
    found: &mut Vec<(PathBuf, PathBuf, Source)>,
) {
    match std::fs::metadata(path) {
        Err(e) => d.unreadable.push(Unreadable {
            path: path.to_path_buf(),
            error: format!("{}: {e}", path.display()),
        }),
        Ok(meta) if meta.is_dir() => {
            let prefix = if from_list { mirrored } else { Path::new("") };
            walk(path, prefix, skip_dir, d, found)
        }
        // A file named on the command line or in a list is wanted whatever its extension:
        // opening it decides whether it is audio.
        Ok(_) => found.push((path.to_path_buf(), mirrored.to_path_buf(), Source::File)),
    }
}

/// Walks `dir` recursively; outputs mirror the tree below it, under `prefix`.
fn walk(
    dir: &Path,
    prefix: &Path,
    skip_dir: Option<&Path>,
    d: &mut Discovery,
    found: &mut Vec<(PathBuf, PathBuf, Source)>,
) {
    let mut walker = WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter();
    while let Some(entry) = walker.next() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                d.unreadable.push(Unreadable {
                    error: format!("{}: {e}", path.display()),
                    path,
                });
                continue;
            }
        };
        if entry.depth() == 0 {
            continue;
        }
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if entry.file_type().is_dir() {
            let inside_outdir =
                skip_dir.is_some_and(|out| entry.path().canonicalize().is_ok_and(|p| p == out));
            if hidden || inside_outdir {
                d.hidden += usize::from(hidden);
                walker.skip_current_dir();
            }
            continue;
        }
        if hidden {
            d.hidden += 1;
            continue;
        }
        if !has_audio_extension(entry.path()) {
            d.not_audio += 1;
            continue;
        }
        let below = entry.path().strip_prefix(dir).unwrap_or(entry.path());
        found.push((entry.path().to_path_buf(), prefix.join(below), Source::File));
    }
}

/// Whether `path`'s extension is one of [`AUDIO_EXTENSIONS`] (any case).
pub fn has_audio_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.iter().any(|a| e.eq_ignore_ascii_case(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(path: &Path) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, b"x").unwrap();
    }

    #[test]
    fn walks_lists_and_mirrors() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("pods");
        touch(&root.join("show a/ep1.mp3"));
        touch(&root.join("show a/ep1.WAV"));
        touch(&root.join("show a/notes.txt"));
        touch(&root.join(".hidden/x.mp3"));
        touch(&root.join("show b/.y.mp3"));
        touch(&root.join("show b/z.flac"));
        touch(&root.join("out/old.mp3"));
        let list = tmp.path().join("list.txt");
        std::fs::write(
            &list,
            format!(
                "# comment\n\npods/show b/z.flac\n{}\nmissing.mp3\n",
                root.join("show a/ep1.mp3").display()
            ),
        )
        .unwrap();
        let out = root.join("out");
        std::fs::create_dir_all(&out).unwrap();
        let d = discover(std::slice::from_ref(&root), &[], Some(&out)).unwrap();
        let rels: Vec<_> = d.files.iter().map(|f| f.rel.clone()).collect();
        assert_eq!(
            rels,
            [
                // Byte order of names: upper case first.
                PathBuf::from("show a/ep1.WAV"),
                PathBuf::from("show a/ep1.mp3"),
                PathBuf::from("show b/z"),
            ]
        );
        assert_eq!((d.hidden, d.not_audio), (2, 1));

        let mut at = std::ffi::OsString::from("@");
        at.push(&list);
        let d = discover(&[PathBuf::from(at)], &[], Some(&out)).unwrap();
        assert_eq!(d.files.len(), 2);
        assert_eq!(d.files[0].rel, Path::new("pods/show b/z"));
        // The absolute entry mirrors below the output directory, never at its own path.
        assert!(d.files[1].rel.is_relative());
        assert!(d.files[1].rel.ends_with("pods/show a/ep1"));
        assert_eq!(d.unreadable.len(), 1);
        assert!(d.unreadable[0].error.contains("missing.mp3"));
    }
}
