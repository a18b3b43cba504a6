//! Where each input's outputs go: a path under the output directory that mirrors the input's
//! place in its tree, made safe (never absolute, never `..`, no control characters), and
//! unique (two inputs never write the same file, whatever their names or the case-folding of
//! the filesystem).

use std::collections::{HashMap, HashSet};
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

/// Top-level output names the batch itself uses (`report.json`): an input called `report`
/// at the top of the tree is renamed as if it collided with another input.
pub const RESERVED_STEMS: &[&str] = &["report"];

/// The output path, relative to the output directory and without extension, of an input found
/// at `relative` (its path below the directory given, or a file's path as given): every
/// component sanitised, the root, `.` and `..` dropped, the last component's extension
/// removed. `talks/2024/ep 1.mp3` gives `talks/2024/ep 1`; `/data/x.wav` gives `data/x`;
/// `../../etc/x.wav` gives `etc/x`.
pub fn mirror(relative: &Path) -> PathBuf {
    let mut parts: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(name) => Some(sanitize(name)),
            Component::Prefix(_)
            | Component::RootDir
            | Component::CurDir
            | Component::ParentDir => None,
        })
        .collect();
    if let Some(last) = parts.last_mut() {
        let stem = Path::new(last.as_str())
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        *last = if stem.is_empty() { "_".into() } else { stem };
    } else {
        parts.push("_".into());
    }
    parts.iter().collect()
}

/// One path component made safe to create anywhere: control characters and the characters
/// Windows forbids (`\ : * ? " < > |`) become `_`; a name that would be empty, `.` or `..` is
/// `_`. Letters of any script and spaces are kept: a transcript should be findable by the
/// episode's own name. Names that are not valid UTF-8 keep their valid parts.
pub fn sanitize(name: &OsStr) -> String {
    let clean: String = name
        .to_string_lossy()
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    match clean.trim() {
        "" | "." | ".." => "_".into(),
        _ => clean,
    }
}

/// Makes the output paths `rels` unique, comparing case-insensitively (macOS and Windows
/// filesystems fold case). Each input's `source` is its original file name. Inputs that share
/// an output path all keep their source extension in it (`ep.mp3` and `ep.wav` give `ep.mp3`
/// and `ep.wav`, then `.txt` and so on), so no input's name depends on which other inputs were
/// in the batch or in which order; what still collides gets ` (2)`, ` (3)`... in input order.
pub fn make_unique(rels: &mut [PathBuf], sources: &[&Path]) {
    let key = |p: &Path| p.to_string_lossy().to_lowercase();
    let mut count: HashMap<String, usize> = HashMap::new();
    for rel in rels.iter() {
        *count.entry(key(rel)).or_default() += 1;
    }
    for (rel, source) in rels.iter_mut().zip(sources) {
        let reserved = rel.parent().is_none_or(|p| p.as_os_str().is_empty())
            && RESERVED_STEMS
                .iter()
                .any(|r| rel.as_os_str().eq_ignore_ascii_case(r));
        if (count[&key(rel)] > 1 || reserved)
            && let Some(ext) = source.extension()
        {
            let mut name = rel.as_os_str().to_os_string();
            name.push(".");
            name.push(sanitize(ext));
            *rel = PathBuf::from(name);
        }
    }
    let mut seen: HashSet<String> = RESERVED_STEMS.iter().map(|r| r.to_string()).collect();
    for rel in rels.iter_mut() {
        let base = rel.clone();
        let mut n = 1;
        while seen.contains(&key(rel)) {
            n += 1;
            let mut name = base.as_os_str().to_os_string();
            name.push(format!(" ({n})"));
            *rel = PathBuf::from(name);
        }
        seen.insert(key(rel));
    }
}

/// The file `rel` + `.ext` under `outdir` (the extension appended, never replacing part of a
/// name such as `ep.v2`).
pub fn output_file(outdir: &Path, rel: &Path, ext: &str) -> PathBuf {
    let mut name = outdir.join(rel).into_os_string();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_keeps_the_tree_and_drops_escapes() {
        assert_eq!(
            mirror(Path::new("talks/2024/ep 1.mp3")),
            Path::new("talks/2024/ep 1")
        );
        assert_eq!(mirror(Path::new("/data/x.wav")), Path::new("data/x"));
        assert_eq!(
            mirror(Path::new("../../etc/passwd.wav")),
            Path::new("etc/passwd")
        );
        assert_eq!(mirror(Path::new("./a/./b.v2.flac")), Path::new("a/b.v2"));
        assert_eq!(mirror(Path::new("..")), Path::new("_"));
        assert_eq!(
            mirror(Path::new("é/naïve épisode.ogg")),
            Path::new("é/naïve épisode")
        );
    }

    #[test]
    fn sanitize_replaces_what_filesystems_refuse() {
        assert_eq!(sanitize(OsStr::new("a:b?c\u{7}d")), "a_b_c_d");
        assert_eq!(sanitize(OsStr::new("..")), "_");
        assert_eq!(sanitize(OsStr::new("  ")), "_");
        assert_eq!(sanitize(OsStr::new("日本語 ep")), "日本語 ep");
    }

    #[test]
    fn collisions_keep_source_extensions_then_number() {
        let sources = [
            Path::new("a/ep.mp3"),
            Path::new("a/EP.wav"),
            Path::new("a/other.mp3"),
            Path::new("report.flac"),
            Path::new("x/y.mp3"),
            Path::new("x/y.mp3"),
        ];
        let mut rels: Vec<PathBuf> = sources.iter().map(|s| mirror(s)).collect();
        make_unique(&mut rels, &sources);
        assert_eq!(
            rels,
            [
                PathBuf::from("a/ep.mp3"),
                PathBuf::from("a/EP.wav"),
                PathBuf::from("a/other"),
                PathBuf::from("report.flac"),
                PathBuf::from("x/y.mp3"),
                PathBuf::from("x/y.mp3 (2)"),
            ]
        );
    }

    #[test]
    fn output_file_appends_the_extension() {
        assert_eq!(
            output_file(Path::new("out"), Path::new("s/ep.v2"), "srt"),
            Path::new("out/s/ep.v2.srt")
        );
    }
}
