//! A real S3-compatible server for the tests: moto's server (from PyPI, installed on first use
//! into a virtual environment under the target directory), started on a free loopback port
//! and stopped when dropped. Buckets are made and inspected with boto3 from the same
//! environment, the client every S3 user knows, so the tests check our objects through
//! another implementation than ours.

use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto release the tests pin.
const MOTO: &str = "moto[server]==5.2.6";

/// A running moto server.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    python: PathBuf,
}

/// The virtual environment's python, with moto installed.
fn moto_python() -> PathBuf {
    super::python_env::venv_python("moto", &[MOTO], "import moto.server, boto3")
}

impl S3Server {
    /// Starts moto on a free port and waits until it answers.
    pub fn start() -> S3Server {
        let python = moto_python();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(python.parent().unwrap().join("moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let server = S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            python,
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "moto did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// The environment a client of this server needs (credentials moto accepts, a region,
    /// the endpoint).
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
        ]
    }

    /// Runs `code` with boto3's client bound to `s3` and `args` in `sys.argv[1..]`; returns
    /// its standard output.
    pub fn boto3(&self, code: &str, args: &[&str]) -> String {
        let script = format!(
            "import boto3, json, os, sys\ns3 = boto3.client('s3', endpoint_url='{}', \
             aws_access_key_id='test', aws_secret_access_key='test', region_name='us-east-1')\n{code}",
            self.endpoint
        );
        let out = Command::new(&self.python)
            .args(["-c", &script])
            .args(args)
            .output()
            .expect("run boto3");
        assert!(
            out.status.success(),
            "boto3 failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Downloads every object of `bucket` into `dir` (keys as paths); returns the keys.
    pub fn download_all(&self, bucket: &str, dir: &std::path::Path) -> Vec<String> {
        let listing = self.boto3(
            &format!(
                "pages = s3.get_paginator('list_objects_v2').paginate(Bucket='{bucket}')\n\
             for page in pages:\n\
             \x20   for o in page.get('Contents', []):\n\
             \x20       path = os.path.join(sys.argv[1], o['Key'])\n\
             \x20       os.makedirs(os.path.dirname(path), exist_ok=True)\n\
             \x20       s3.download_file('{bucket}', o['Key'], path)\n\
             \x20       print(o['Key'])\n"
            ),
            &[dir.to_str().unwrap()],
        );
        listing.lines().map(str::to_string).collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
