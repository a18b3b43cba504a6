//! A Hugging Face hub on 127.0.0.1 serving local folders as hub repositories: the endpoint the
//! synthetic full-size benchmark (and the hub tests) point `HF_ENDPOINT`-style settings at, so
//! that models go through the real download path (hf-hub, the cache's snapshot layout, resumed
//! range requests) on machines that cannot reach huggingface.co.
//!
//! It answers `GET`/`HEAD /{repo}/resolve/{revision}/{file}` with the headers hf-hub reads
//! (ETag, X-Repo-Commit, Content-Range for `Range: bytes=A-B`), one connection at a time, until
//! stopped or dropped.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;

/// The commit every served file claims to belong to.
pub const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

/// A running local hub.
pub struct LocalHub {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// Requests answered so far.
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl LocalHub {
    /// Serves the files of `dir` as the repo `repo` (e.g. "openai/whisper-tiny.en").
    pub fn serve(repo: &str, dir: &Path) -> std::io::Result<LocalHub> {
        Self::serve_repos(&[(repo.to_string(), dir.to_path_buf())])
    }

    /// Serves each folder as its repo id.
    pub fn serve_repos(repos: &[(String, PathBuf)]) -> std::io::Result<LocalHub> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let routes: Vec<(String, PathBuf)> = repos
            .iter()
            .map(|(repo, dir)| (format!("/{repo}/resolve/"), dir.clone()))
            .collect();
        let thread = {
            let stop = stop.clone();
            let requests = requests.clone();
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        requests.fetch_add(1, Ordering::SeqCst);
                        if let Err(e) = answer(stream, &routes) {
                            tracing::debug!("local hub: {e}");
                        }
                    }
                }
            })
        };
        Ok(LocalHub {
            endpoint: format!("http://127.0.0.1:{port}"),
            requests,
            stop,
            port,
            thread: Some(thread),
        })
    }

    /// Stops the server and waits until its port is closed.
    pub fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.stop.store(true, Ordering::SeqCst);
            // Wake the blocking accept.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            let _ = thread.join();
        }
    }
}

impl Drop for LocalHub {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One request: the file it names, whole or the byte range asked for, or 404.
fn answer(mut stream: TcpStream, routes: &[(String, PathBuf)]) -> std::io::Result<()> {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut range_start: Option<u64> = None;
    let mut range_end: Option<u64> = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(spec) = lower.strip_prefix("range: bytes=") {
            let spec = spec.trim();
            let (a, b) = spec.split_once('-').unwrap_or((spec, ""));
            range_start = a.parse().ok();
            range_end = b.parse().ok();
        }
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    let file = routes
        .iter()
        .find_map(|(prefix, dir)| {
            let (_revision, file) = target.strip_prefix(prefix.as_str())?.split_once('/')?;
            // No way out of the served folder.
            (!file.split('/').any(|part| part == ".." || part.is_empty())).then(|| dir.join(file))
        })
        .filter(|p| p.is_file());
    let Some(file) = file else {
        let body = b"Entry not found";
        write!(
            stream,
            "HTTP/1.1 404 Not Found\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        return stream.write_all(body);
    };
    let size = file.metadata()?.len();
    let etag = format!("\"{:x}-{}\"", size, etag_name(&file));
    let start = range_start.unwrap_or(0).min(size);
    let end = range_end.map_or(size.saturating_sub(1), |e| e.min(size.saturating_sub(1)));
    let len = if size == 0 { 0 } else { end + 1 - start };
    let (status, range_header) = if range_start.is_some() {
        (
            "206 Partial Content",
            format!("Content-Range: bytes {start}-{end}/{size}\r\n"),
        )
    } else {
        ("200 OK", String::new())
    };
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Length: {len}\r\nETag: {etag}\r\nX-Repo-Commit: {COMMIT}\r\n\
         {range_header}Accept-Ranges: bytes\r\nConnection: close\r\n\r\n"
    )?;
    if method != "HEAD" {
        let mut f = std::fs::File::open(&file)?;
        f.seek(SeekFrom::Start(start))?;
        std::io::copy(&mut f.take(len), &mut stream)?;
    }
    stream.flush()
}

/// A file's name as an ETag-safe word.
fn etag_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().replace('.', "_"))
        .unwrap_or_default()
}
