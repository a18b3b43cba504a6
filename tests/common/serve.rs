//! A `whisper-spec serve` for the tests: started on a free port with tiny.en, its address read
//! from its start line, its log drained (a full pipe would block it), killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// `serve -m tiny.en --port 0 EXTRA...`, once it listens.
    pub fn start(extra: &[&str]) -> Server {
        super::models::store_model("tiny.en");
        let mut child = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
            .args(["serve", "-m", "tiny.en", "--port", "0"])
            .args(extra)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let started = Instant::now();
        let url = loop {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "no start line"
            );
            let line = lines.next().expect("serve exited").unwrap();
            if let Some(at) = line.find("http://") {
                let url = line[at..].split_whitespace().next().unwrap();
                break url.trim_end_matches('/').to_string();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Server { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
