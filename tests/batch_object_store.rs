//! `batch` from and to object storage, against a real S3-compatible server (moto) started by
//! the test, reached through a proxy that answers the first request of every third connection
//! with 503 Slow Down: inputs are listed and downloaded, every output is uploaded whole, the
//! records and the merged report live in the bucket, transient errors are retried, and the
//! outputs are those of the same batch on local files.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::s3_server::S3Server;

const GOOD: [&str; 4] = ["LJ001-0001", "LJ001-0002", "LJ001-0003", "LJ001-0004"];

fn corpus_wav(name: &str) -> PathBuf {
    common::shared_dir()
        .join("corpus/en_read/ljspeech")
        .join(format!("{name}.wav"))
}

/// A proxy to `upstream` that fails the first request of every third connection with a 503
/// (after reading it whole, as a throttling server would) and forwards the others untouched.
/// Returns its address and the count of failures it injected.
fn flaky_proxy(upstream: String) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let injected = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&injected);
    std::thread::spawn(move || {
        for (n, client) in listener.incoming().enumerate() {
            let Ok(client) = client else { continue };
            let upstream = upstream.clone();
            let count = Arc::clone(&count);
            std::thread::spawn(move || {
                if n % 3 == 0 {
                    refuse(client);
                    count.fetch_add(1, Ordering::SeqCst);
                } else {
                    forward(client, &upstream);
                }
            });
        }
    });
    (address, injected)
}

/// Reads one request (head and Content-Length body) and answers 503, closing the connection.
fn refuse(client: TcpStream) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    let _ = reader.read_exact(&mut body);
    let mut client = client;
    let _ = client
        .write_all(b"HTTP/1.1 503 Slow Down\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

/// Pipes the connection to `upstream` (`http://host:port`) both ways until either side closes.
fn forward(client: TcpStream, upstream: &str) {
    let Ok(server) = TcpStream::connect(upstream.trim_start_matches("http://")) else {
        return;
    };
    let (mut c_read, mut s_write) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    let _ = std::io::copy(&mut s_read, &mut c_write);
    let _ = c_write.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

fn whisper(endpoint: &str, server: &S3Server, args: &[&str]) -> Output {
    common::models::store_model("tiny.en");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_whisper-spec"));
    cmd.args(args);
    for (k, v) in server.env() {
        cmd.env(k, v);
    }
    cmd.env("AWS_ENDPOINT_URL", endpoint);
    cmd.output().unwrap()
}

fn batch_args<'a>(input: &'a str, output: &'a str) -> Vec<&'a str> {
    vec![
        "batch",
        input,
        "-o",
        output,
        "-m",
        "tiny.en",
        "-l",
        "en",
        "-f",
        "txt,json",
        "--progress",
        "plain",
    ]
}

/// What a batch wrote, without the input's name (a URL on one side, a path on the other).
fn outputs(dir: &Path) -> BTreeMap<PathBuf, String> {
    common::batch_outputs::outputs_without(dir, &["stats", "file"])
}

#[test]
fn s3_in_and_out_with_throttling_every_output_whole() {
    let server = S3Server::start();
    let tmp = tempfile::tempdir().unwrap();
    let local = tmp.path().join("local");
    for name in GOOD {
        let dst = local.join("2024").join(format!("{name}.wav"));
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(corpus_wav(name), dst).unwrap();
    }
    std::fs::write(local.join("bad.mp3"), "not audio ".repeat(300)).unwrap();
    std::fs::write(local.join("notes.txt"), "show notes").unwrap();
    server.boto3(
        "s3.create_bucket(Bucket='archive')\n\
         s3.create_bucket(Bucket='results')\n\
         root = sys.argv[1]\n\
         for d, _, files in os.walk(root):\n\
         \x20   for f in files:\n\
         \x20       p = os.path.join(d, f)\n\
         \x20       s3.upload_file(p, 'archive', 'shows/' + os.path.relpath(p, root))\n",
        &[local.to_str().unwrap()],
    );

    let (proxy, injected) = flaky_proxy(server.endpoint.clone());
    let first = whisper(
        &proxy,
        &server,
        &batch_args("s3://archive/shows", "s3://results/tx"),
    );
    let log = String::from_utf8_lossy(&first.stderr);
    assert!(!first.status.success(), "bad.mp3 fails: {log}");
    assert!(
        log.contains("s3://archive/shows/bad.mp3: not a recognised audio file"),
        "the failure names the object: {log}"
    );
    assert!(log.contains("4 ok, 1 failed"), "{log}");
    assert!(
        injected.load(Ordering::SeqCst) > 0,
        "the proxy injected no failure"
    );

    // What landed in the bucket: every output whole, equal to the same batch on local files.
    let got = tmp.path().join("got");
    let keys = server.download_all("results", &got);
    assert!(keys.iter().any(|k| k == "tx/report.json"), "{keys:?}");
    assert!(keys.iter().all(|k| !k.ends_with(".tmp")), "{keys:?}");
    let local_out = tmp.path().join("local-out");
    let reference = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(batch_args(
            local.to_str().unwrap(),
            local_out.to_str().unwrap(),
        ))
        .output()
        .unwrap();
    assert!(!reference.status.success());
    let remote = outputs(&got.join("tx"));
    assert_eq!(remote.len(), 2 * GOOD.len(), "{remote:?}");
    assert_eq!(remote, outputs(&local_out));

    let report = whisper(&proxy, &server, &["report", "s3://results/tx", "--json"]);
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(
        (r["ok"].as_u64(), r["failed"].as_u64()),
        (Some(4), Some(1)),
        "{r}"
    );
    assert_eq!(r["unfinished_shards"], serde_json::json!([]));
    assert_eq!(r["output"], "s3://results/tx");

    // A rerun skips what the bucket records as done, and tries the bad file again.
    let again = whisper(
        &proxy,
        &server,
        &batch_args("s3://archive/shows", "s3://results/tx"),
    );
    let log = String::from_utf8_lossy(&again.stderr);
    assert!(
        log.contains("4 files already done (skipped), 1 to transcribe"),
        "{log}"
    );
    assert!(log.contains("0 ok, 1 failed, 4 skipped"), "{log}");
}

#[test]
fn unknown_schemes_are_refused_before_anything_is_created() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("never");
    let out = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args([
            "batch",
            "ftp://host/x",
            "-o",
            out_dir.to_str().unwrap(),
            "-m",
            "tiny.en",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("ftp://host/x: unknown storage scheme ftp://"),
        "{err}"
    );
    assert!(
        !out_dir.exists(),
        "nothing is created for a refused command"
    );
}
