//! A connected bucket prefix with blocking calls: the batch's workers are plain threads, so
//! each call runs to completion on one small process-wide tokio runtime.

use std::io::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::azure::MicrosoftAzureBuilder;
use object_store::gcp::GoogleCloudStorageBuilder;
use object_store::path::Path as ObjectPath;
use object_store::{
    BackoffConfig, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig,
};
use url::Url;

/// A failed call, naming the object (or prefix) and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{url}: {source}")]
pub struct ObjectError {
    /// The object or prefix, as a URL.
    pub url: String,
    /// What the store answered.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// One object found under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFile {
    /// Its key relative to the bucket's prefix (`show/ep1.mp3`).
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modification, nanoseconds since the Unix epoch.
    pub modified_ns: i64,
}

/// A prefix in a bucket (`s3://bucket/prefix`), connected.
#[derive(Debug, Clone)]
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    /// `scheme://bucket`.
    base: String,
    /// The prefix inside the bucket, without slashes at either end (may be empty).
    prefix: String,
}

/// The runtime every bucket's calls run on: one worker thread is plenty for a few requests
/// at a time, and creating it once keeps connections pooled across calls.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("object-store")
            .enable_all()
            .build()
            .expect("starting the object-storage runtime")
    })
}

/// Retries for transient failures: up to 8 retries with exponential backoff from 0.2 s to
/// 15 s, within 3 minutes per request.
fn retry_policy() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(15),
            base: 2.0,
        },
        max_retries: 8,
        retry_timeout: Duration::from_secs(180),
    }
}

/// Whether `endpoint` is a plain-http URL on this machine, where TLS buys nothing (a local
/// S3-compatible server).
fn is_loopback_http(endpoint: &str) -> bool {
    let Ok(url) = Url::parse(endpoint) else {
        return false;
    };
    url.scheme() == "http"
        && match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

impl Bucket {
    /// Connects to the bucket and prefix `url` names (see [`super::Location`]).
    pub fn connect(url: &Url) -> Result<Bucket, ObjectError> {
        let fail = |source: object_store::Error| ObjectError {
            url: url.to_string(),
            source: Box::new(source),
        };
        let scheme = url.scheme().to_ascii_lowercase();
        let store: Arc<dyn ObjectStore> = match scheme.as_str() {
            "s3" | "s3a" => {
                let mut builder = AmazonS3Builder::from_env()
                    .with_url(url.as_str())
                    .with_retry(retry_policy());
                let endpoint = ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_ENDPOINT"]
                    .iter()
                    .find_map(|k| std::env::var(k).ok());
                if endpoint.as_deref().is_some_and(is_loopback_http) {
                    builder = builder.with_allow_http(true);
                }
                Arc::new(builder.build().map_err(fail)?)
            }
            "gs" => Arc::new(
                GoogleCloudStorageBuilder::from_env()
                    .with_url(url.as_str())
                    .with_retry(retry_policy())
                    .build()
                    .map_err(fail)?,
            ),
            _ => Arc::new(
                MicrosoftAzureBuilder::from_env()
                    .with_url(url.as_str())
                    .with_retry(retry_policy())
                    .build()
                    .map_err(fail)?,
            ),
        };
        let host = url.host_str().unwrap_or_default();
        Ok(Bucket {
            store,
            base: format!("{scheme}://{host}"),
            prefix: url.path().trim_matches('/').to_string(),
        })
    }

    /// The URL of `key` (relative to the prefix), for messages and reports.
    pub fn url_of(&self, key: &str) -> String {
        match (self.prefix.is_empty(), key.is_empty()) {
            (true, _) => format!("{}/{key}", self.base),
            (false, true) => format!("{}/{}", self.base, self.prefix),
            (false, false) => format!("{}/{}/{key}", self.base, self.prefix),
        }
    }

    /// The URL of the prefix itself.
    pub fn url(&self) -> String {
        self.url_of("")
    }

    fn path(&self, key: &str) -> ObjectPath {
        let key = key.trim_matches('/');
        match (self.prefix.is_empty(), key.is_empty()) {
            (true, _) => ObjectPath::from(key),
            (false, true) => ObjectPath::from(self.prefix.as_str()),
            (false, false) => ObjectPath::from(format!("{}/{key}", self.prefix)),
        }
    }

    fn error(&self, key: &str, source: object_store::Error) -> ObjectError {
        ObjectError {
            url: self.url_of(key),
            source: Box::new(source),
        }
    }

    /// Every object under `dir` (relative to the prefix; empty for all of it), recursively, in
    /// key order.
    pub fn list(&self, dir: &str) -> Result<Vec<RemoteFile>, ObjectError> {
        let root = self.path(dir);
        let strip = if self.prefix.is_empty() {
            0
        } else {
            self.prefix.len() + 1
        };
        let mut files = runtime().block_on(async {
            let mut stream = self.store.list(Some(&root));
            let mut files = Vec::new();
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.error(dir, e))?;
                let full = meta.location.to_string();
                files.push(RemoteFile {
                    key: full.get(strip..).unwrap_or_default().to_string(),
                    size: meta.size,
                    modified_ns: meta.last_modified.timestamp_nanos_opt().unwrap_or(0),
                });
            }
            Ok::<_, ObjectError>(files)
        })?;
        files.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(files)
    }

    /// Streams `key` into `out` chunk by chunk (never whole in memory); returns the bytes
    /// written.
    pub fn download(&self, key: &str, out: &mut impl Write) -> Result<u64, ObjectError> {
        let path = self.path(key);
        runtime().block_on(async {
            let got = self
                .store
                .get(&path)
                .await
                .map_err(|e| self.error(key, e))?;
            let mut stream = got.into_stream();
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| self.error(key, e))?;
                out.write_all(&chunk).map_err(|e| ObjectError {
                    url: self.url_of(key),
                    source: Box::new(e),
                })?;
                written += chunk.len() as u64;
            }
            Ok(written)
        })
    }

    /// The whole of `key`, or `None` when there is no such object.
    pub fn read(&self, key: &str) -> Result<Option<Vec<u8>>, ObjectError> {
        let path = self.path(key);
        runtime().block_on(async {
            match self.store.get(&path).await {
                Ok(got) => {
                    let bytes = got.bytes().await.map_err(|e| self.error(key, e))?;
                    Ok(Some(bytes.to_vec()))
                }
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(self.error(key, e)),
            }
        })
    }

    /// Whether `key` exists.
    pub fn exists(&self, key: &str) -> Result<bool, ObjectError> {
        let path = self.path(key);
        runtime().block_on(async {
            match self.store.head(&path).await {
                Ok(_) => Ok(true),
                Err(object_store::Error::NotFound { .. }) => Ok(false),
                Err(e) => Err(self.error(key, e)),
            }
        })
    }

    /// Writes `key` whole, in one request: readers see the old object or the new one, never
    /// a part.
    pub fn write(&self, key: &str, bytes: Vec<u8>) -> Result<(), ObjectError> {
        let path = self.path(key);
        runtime().block_on(async {
            self.store
                .put(&path, PutPayload::from(bytes))
                .await
                .map(drop)
                .map_err(|e| self.error(key, e))
        })
    }

    /// Creates `key` only if no object has that key (a conditional put): `false` when one
    /// already does. Of two racing writers exactly one gets `true`.
    pub fn create_new(&self, key: &str, bytes: Vec<u8>) -> Result<bool, ObjectError> {
        let path = self.path(key);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        runtime().block_on(async {
            match self
                .store
                .put_opts(&path, PutPayload::from(bytes), opts)
                .await
            {
                Ok(_) => Ok(true),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => Ok(false),
                Err(e) => Err(self.error(key, e)),
            }
        })
    }

    /// Deletes `key` (no error when it is already gone).
    pub fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let path = self.path(key);
        runtime().block_on(async {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(self.error(key, e)),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_this_machine() {
        assert!(is_loopback_http("http://127.0.0.1:5000"));
        assert!(is_loopback_http("http://localhost:9000/"));
        assert!(is_loopback_http("http://[::1]:9000"));
        assert!(!is_loopback_http("https://127.0.0.1:5000"));
        assert!(!is_loopback_http("http://s3.example.com"));
    }
}
