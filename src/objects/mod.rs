//! Object storage (`s3://`, `gs://`, `az://` and their aliases) for the batch's inputs and
//! outputs, through the object_store crate, used from synchronous code.
//!
//! A [`Location`] is what a command-line argument names: a local path (`file://` URLs
//! included) or a prefix in a bucket. [`Bucket`] is a connected bucket: credentials and
//! endpoints come from the usual environment variables of each service (`AWS_*`,
//! `GOOGLE_*`, `AZURE_*`), `AWS_ENDPOINT_URL` reaches an S3-compatible server, and plain
//! `http://` is allowed for an endpoint on this machine (loopback) or with `AWS_ALLOW_HTTP`.
//! Transient failures (5xx answers, throttling, dropped connections) are retried with
//! exponential backoff by object_store's client.

mod bucket;
mod location;

pub use bucket::{Bucket, ObjectError, RemoteFile};
pub use location::Location;
