//! What an input or output argument names: a local path or a prefix in object storage.

use std::path::PathBuf;

use url::Url;

/// Schemes read through object_store: S3 (and S3-compatible servers), Google Cloud Storage and
/// Azure Blob Storage, with the aliases their own tools accept.
const OBJECT_SCHEMES: &[&str] = &["s3", "s3a", "gs", "az", "adl", "azure", "abfs", "abfss"];

/// A command-line location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A path on this machine (`file:///x` is `/x`).
    Local(PathBuf),
    /// A bucket and a prefix in it, as a URL (`s3://bucket/prefix`).
    Object(Url),
}

impl Location {
    /// Reads `arg`: a URL with an object-storage scheme, a `file://` URL, or else a path
    /// (a relative path, or a name with a colon in it, stays a path).
    pub fn parse(arg: &str) -> Result<Location, String> {
        let Some((scheme, _)) = arg.split_once("://") else {
            return Ok(Location::Local(PathBuf::from(arg)));
        };
        let scheme = scheme.to_ascii_lowercase();
        if scheme == "file" {
            let url = Url::parse(arg).map_err(|e| format!("{arg}: not a valid URL ({e})"))?;
            return url
                .to_file_path()
                .map(Location::Local)
                .map_err(|()| format!("{arg}: not a local file URL"));
        }
        if !OBJECT_SCHEMES.contains(&scheme.as_str()) {
            return Err(format!(
                "{arg}: unknown storage scheme {scheme}:// (known: file, {})",
                OBJECT_SCHEMES.join(", ")
            ));
        }
        let url = Url::parse(arg).map_err(|e| format!("{arg}: not a valid URL ({e})"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{arg}: names no bucket"));
        }
        Ok(Location::Object(url))
    }

    /// Whether this is object storage.
    pub fn is_object(&self) -> bool {
        matches!(self, Location::Object(_))
    }
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::Object(url) => write!(f, "{url}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_urls_and_refusals() {
        assert_eq!(
            Location::parse("in/a b.mp3").unwrap(),
            Location::Local("in/a b.mp3".into())
        );
        assert_eq!(
            Location::parse("file:///data/x").unwrap(),
            Location::Local("/data/x".into())
        );
        let s3 = Location::parse("s3://bucket/shows/2024").unwrap();
        assert!(s3.is_object());
        assert_eq!(s3.to_string(), "s3://bucket/shows/2024");
        assert!(Location::parse("GS://b/p").unwrap().is_object());
        let err = Location::parse("ftp://host/x").unwrap_err();
        assert!(err.contains("unknown storage scheme ftp://"), "{err}");
        assert!(
            Location::parse("s3:///x")
                .unwrap_err()
                .contains("no bucket")
        );
    }
}
