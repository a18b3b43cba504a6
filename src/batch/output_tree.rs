//! The batch's output tree: a local directory or a bucket prefix, with the few operations the
//! batch needs and the same guarantees on both.
//!
//! - [`OutputTree::write`] replaces a file whole: a local file through a temporary file
//!   renamed over it, an object in one put. A reader never sees a part.
//! - [`OutputTree::create_new`] creates a file only if none exists, and of two racing writers
//!   exactly one succeeds: locally a complete temporary file hard-linked to the name (`link`
//!   fails on an existing name, atomically, even over NFS), on object stores a conditional put
//!   (`If-None-Match: *`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::objects::{Bucket, Location, ObjectError};
use crate::output::OutputError;

/// A failed operation on the tree, naming the file and the cause.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// A local file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A local file written through [`crate::output::write_file`].
    #[error(transparent)]
    Output(#[from] OutputError),
    /// An object.
    #[error(transparent)]
    Object(#[from] ObjectError),
}

/// Where a batch's outputs, records and report go.
#[derive(Debug, Clone)]
pub enum OutputTree {
    /// A directory on this machine.
    Local(PathBuf),
    /// A bucket prefix.
    Bucket(Bucket),
}

impl OutputTree {
    /// Opens `location`: a local directory is created if missing; a bucket is connected.
    pub fn open(location: &Location) -> Result<OutputTree, TreeError> {
        match location {
            Location::Local(dir) => {
                std::fs::create_dir_all(dir).map_err(|source| TreeError::Io {
                    path: dir.clone(),
                    source,
                })?;
                Ok(OutputTree::Local(dir.clone()))
            }
            Location::Object(url) => Ok(OutputTree::Bucket(Bucket::connect(url)?)),
        }
    }

    /// The local directory, if the tree is one.
    pub fn local_dir(&self) -> Option<&Path> {
        match self {
            OutputTree::Local(dir) => Some(dir),
            OutputTree::Bucket(_) => None,
        }
    }

    /// How messages name `rel` (a `/`-separated path below the tree's top).
    pub fn display(&self, rel: &str) -> String {
        match self {
            OutputTree::Local(dir) => dir.join(rel).display().to_string(),
            OutputTree::Bucket(b) => b.url_of(rel),
        }
    }

    /// How messages name the tree.
    pub fn top(&self) -> String {
        match self {
            OutputTree::Local(dir) => dir.display().to_string(),
            OutputTree::Bucket(b) => b.url(),
        }
    }

    /// Writes `rel` whole (creating its directories), replacing what was there.
    pub fn write(&self, rel: &str, bytes: &[u8]) -> Result<(), TreeError> {
        match self {
            OutputTree::Local(dir) => {
                let path = dir.join(rel);
                create_parent(&path)?;
                crate::output::write_file(&path, |out| out.write_all(bytes))?;
                Ok(())
            }
            OutputTree::Bucket(b) => Ok(b.write(rel, bytes.to_vec())?),
        }
    }

    /// Creates `rel` with `bytes` if nothing has that name; `false` (and nothing written) when
    /// something does.
    pub fn create_new(&self, rel: &str, bytes: &[u8]) -> Result<bool, TreeError> {
        match self {
            OutputTree::Local(dir) => {
                let path = dir.join(rel);
                create_parent(&path)?;
                let io_err = |source| TreeError::Io {
                    path: path.clone(),
                    source,
                };
                let parent = path.parent().unwrap_or(dir);
                let mut temp = tempfile::Builder::new()
                    .prefix(&format!(".new.{}.", crate::output::writer_tag()))
                    .suffix(".tmp")
                    .tempfile_in(parent)
                    .map_err(io_err)?;
                temp.write_all(bytes).map_err(io_err)?;
                temp.as_file().sync_all().map_err(io_err)?;
                // The temporary file is removed when `temp` drops, whatever happened.
                match std::fs::hard_link(temp.path(), &path) {
                    Ok(()) => {
                        sync_dir(parent);
                        Ok(true)
                    }
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
                    Err(e) => Err(io_err(e)),
                }
            }
            OutputTree::Bucket(b) => Ok(b.create_new(rel, bytes.to_vec())?),
        }
    }

    /// The whole of `rel`, or `None` if there is no such file.
    pub fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, TreeError> {
        match self {
            OutputTree::Local(dir) => {
                let path = dir.join(rel);
                match std::fs::read(&path) {
                    Ok(bytes) => Ok(Some(bytes)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(TreeError::Io { path, source }),
                }
            }
            OutputTree::Bucket(b) => Ok(b.read(rel)?),
        }
    }

    /// Whether `rel` exists (as a file).
    pub fn exists(&self, rel: &str) -> Result<bool, TreeError> {
        match self {
            OutputTree::Local(dir) => Ok(dir.join(rel).is_file()),
            OutputTree::Bucket(b) => Ok(b.exists(rel)?),
        }
    }

    /// The names of the files directly in the directory `rel` (none if it does not exist),
    /// hidden temporary files left out, sorted.
    pub fn list(&self, rel: &str) -> Result<Vec<String>, TreeError> {
        let mut names = match self {
            OutputTree::Local(dir) => {
                let path = dir.join(rel);
                match std::fs::read_dir(&path) {
                    Ok(entries) => entries
                        .filter_map(Result::ok)
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .collect(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
                    Err(source) => return Err(TreeError::Io { path, source }),
                }
            }
            OutputTree::Bucket(b) => b
                .list(rel)?
                .into_iter()
                .filter_map(|f| {
                    let below = f.key.strip_prefix(rel.trim_end_matches('/'))?;
                    let name = below.strip_prefix('/')?;
                    (!name.contains('/')).then(|| name.to_string())
                })
                .collect(),
        };
        names.retain(|n| !n.starts_with('.'));
        names.sort();
        Ok(names)
    }

    /// Removes `rel` if it exists.
    pub fn remove(&self, rel: &str) -> Result<(), TreeError> {
        match self {
            OutputTree::Local(dir) => {
                let path = dir.join(rel);
                match std::fs::remove_file(&path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(source) => Err(TreeError::Io { path, source }),
                }
            }
            OutputTree::Bucket(b) => Ok(b.delete(rel)?),
        }
    }
}

fn create_parent(path: &Path) -> Result<(), TreeError> {
    match path.parent() {
        Some(dir) => std::fs::create_dir_all(dir).map_err(|source| TreeError::Io {
            path: dir.to_path_buf(),
            source,
        }),
        None => Ok(()),
    }
}

/// Makes a new directory entry durable (best effort: not every filesystem allows it).
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_new_has_one_winner_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let tree = OutputTree::Local(tmp.path().to_path_buf());
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let tree = &tree;
                    s.spawn(move || tree.create_new("m/x.json", format!("{i}").as_bytes()))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap().unwrap()))
                .sum()
        });
        assert_eq!(winners, 1);
        assert_eq!(tree.list("m").unwrap(), vec!["x.json".to_string()]);
        let all: Vec<_> = std::fs::read_dir(tmp.path().join("m")).unwrap().collect();
        assert_eq!(all.len(), 1, "a temporary file was left");
        assert!(!tree.create_new("m/x.json", b"again").unwrap());
        tree.write("m/x.json", b"replaced").unwrap();
        assert_eq!(tree.read("m/x.json").unwrap().unwrap(), b"replaced");
        assert_eq!(tree.read("m/none").unwrap(), None);
        tree.remove("m/x.json").unwrap();
        assert!(!tree.exists("m/x.json").unwrap());
    }
}
