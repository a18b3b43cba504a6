//! `whisper-spec serve` as its clients see it: the official `openai` Python client (from PyPI)
//! against the running server (json, verbose_json with words, srt, text, a translation, a bad
//! upload, a missing and a wrong key, an unknown model, an upload over the limit, 6 requests at
//! once), the live WebSocket streamed a file by a `websockets` client, and the queue refusing
//! what it cannot hold.

mod common;

use common::serve::Server;

use std::path::PathBuf;
use std::process::Command;

const KEY: &str = "sk-test-0123456789";

fn client_python() -> PathBuf {
    common::python_env::venv_python(
        "serve-clients",
        &["openai==3.63.0", "websockets==17.4"],
        "import openai, websockets",
    )
}

fn corpus(rel: &str) -> PathBuf {
    common::shared_dir().join("corpus").join(rel)
}

/// Runs Python code against a server.
trait Client {
    /// Runs `code` with `openai.OpenAI(base_url=.../v1, api_key=KEY)` bound to `client` and
    /// the server's URL in `url`; returns its stdout as JSON.
    fn python(&self, code: &str, args: &[&str]) -> serde_json::Value;
}

impl Client for Server {
    fn python(&self, code: &str, args: &[&str]) -> serde_json::Value {
        let script = format!(
            "import json, sys, openai\nurl = '{}'\nclient = openai.OpenAI(base_url=url + '/v1', \
             api_key='{KEY}', max_retries=0, timeout=300)\n{code}",
            self.url
        );
        let out = Command::new(client_python())
            .args(["-c", &script])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
    }
}

/// What `whisper-spec transcribe` prints for `file` (the same model and defaults).
fn offline_text(file: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_whisper-spec"))
        .args(["transcribe", "-m", "tiny.en", "-f", "json"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["text"].as_str().unwrap().to_string()
}

#[test]
fn the_official_openai_client_gets_what_transcribe_gives() {
    let server = Server::start(&["--api-key", KEY]);
    let jfk = corpus("jfk.flac");
    let ljs = corpus("en_read/ljspeech/LJ001-0001.wav");
    let got = server.python(
        "path = sys.argv[1]\n\
         out = {}\n\
         with open(path, 'rb') as f:\n\
         \x20   out['json'] = client.audio.transcriptions.create(model='whisper-1', file=f).text\n\
         with open(path, 'rb') as f:\n\
         \x20   v = client.audio.transcriptions.create(model='tiny.en', file=f, response_format='verbose_json', timestamp_granularities=['word', 'segment'], language='en')\n\
         \x20   out['verbose'] = v.model_dump()\n\
         with open(path, 'rb') as f:\n\
         \x20   out['srt'] = client.audio.transcriptions.create(model='whisper-1', file=f, response_format='srt')\n\
         with open(path, 'rb') as f:\n\
         \x20   out['text'] = client.audio.transcriptions.create(model='whisper-1', file=f, response_format='text')\n\
         out['models'] = [m.id for m in client.models.list().data]\n\
         print(json.dumps(out))\n",
        &[jfk.to_str().unwrap()],
    );
    let expected = offline_text(&jfk);
    assert_eq!(got["json"], expected.as_str());
    assert_eq!(got["text"].as_str().unwrap().trim(), expected);
    let verbose = &got["verbose"];
    assert_eq!(verbose["language"], "english");
    assert_eq!(verbose["text"], expected.as_str());
    assert!(
        (verbose["duration"].as_f64().unwrap() - 11.0).abs() < 0.1,
        "{verbose}"
    );
    let segments = verbose["segments"].as_array().unwrap();
    assert!(!segments.is_empty());
    for key in [
        "id",
        "seek",
        "start",
        "end",
        "text",
        "tokens",
        "temperature",
        "avg_logprob",
        "compression_ratio",
        "no_speech_prob",
    ] {
        assert!(
            !segments[0][key].is_null(),
            "segment field {key}: {verbose}"
        );
    }
    let words = verbose["words"].as_array().unwrap();
    let joined: Vec<&str> = words.iter().map(|w| w["word"].as_str().unwrap()).collect();
    assert_eq!(joined.join(" "), expected.trim(), "words in order");
    assert!(
        words
            .windows(2)
            .all(|p| p[0]["start"].as_f64() <= p[1]["start"].as_f64())
    );
    let srt = got["srt"].as_str().unwrap();
    assert!(srt.starts_with("1\n00:00:00,000 --> "), "{srt}");
    assert_eq!(got["models"], serde_json::json!(["tiny.en", "whisper-1"]));

    // Six requests at once on two files: every answer is the file's own transcript.
    let many = server.python(
        "from concurrent.futures import ThreadPoolExecutor\n\
         def one(path):\n\
         \x20   with open(path, 'rb') as f:\n\
         \x20       return client.audio.transcriptions.create(model='whisper-1', file=f).text\n\
         paths = [sys.argv[1 + i % 2] for i in range(6)]\n\
         with ThreadPoolExecutor(6) as pool:\n\
         \x20   print(json.dumps(list(pool.map(one, paths))))\n",
        &[jfk.to_str().unwrap(), ljs.to_str().unwrap()],
    );
    let ljs_text = offline_text(&ljs);
    for (i, text) in many.as_array().unwrap().iter().enumerate() {
        let want = if i % 2 == 0 { &expected } else { &ljs_text };
        assert_eq!(text.as_str().unwrap(), want, "request {i}");
    }
}

#[test]
fn errors_come_in_openais_shape_and_the_server_stays_up() {
    let server = Server::start(&["--api-key", KEY, "--max-upload-mb", "2"]);
    let jfk = corpus("jfk.flac");
    let got = server.python(
        "def status(call):\n\
         \x20   try:\n\
         \x20       call()\n\
         \x20       return ['ok']\n\
         \x20   except openai.APIStatusError as e:\n\
         \x20       return [e.status_code, e.body]\n\
         path = sys.argv[1]\n\
         bad = ('notes.mp3', b'this is not audio ' * 100)\n\
         big = ('big.wav', b'\\0' * (3 * 1024 * 1024))\n\
         wrong = openai.OpenAI(base_url=url + '/v1', api_key='sk-wrong', max_retries=0)\n\
         out = {\n\
         \x20 'bad': status(lambda: client.audio.transcriptions.create(model='whisper-1', file=bad)),\n\
         \x20 'wrong_key': status(lambda: wrong.audio.transcriptions.create(model='whisper-1', file=open(path, 'rb'))),\n\
         \x20 'model': status(lambda: client.audio.transcriptions.create(model='large-v9', file=open(path, 'rb'))),\n\
         \x20 'format': status(lambda: client.audio.transcriptions.create(model='whisper-1', file=open(path, 'rb'), response_format='mp3')),\n\
         \x20 'big': status(lambda: client.audio.transcriptions.create(model='whisper-1', file=big)),\n\
         \x20 'translate_en_only': status(lambda: client.audio.translations.create(model='whisper-1', file=open(path, 'rb'))),\n\
         \x20 'after': client.audio.transcriptions.create(model='whisper-1', file=open(path, 'rb')).text,\n\
         }\n\
         print(json.dumps(out))\n",
        &[jfk.to_str().unwrap()],
    );
    let check = |name: &str, code: u64, needle: &str| {
        let v = &got[name];
        assert_eq!(v[0], code, "{name}: {v}");
        // The client hands over the body's `error` object.
        let error = &v[1];
        assert!(
            error["type"].is_string() && error["message"].is_string(),
            "{name}: {v}"
        );
        assert!(
            error["message"].as_str().unwrap().contains(needle),
            "{name}: {v}"
        );
    };
    check("bad", 400, "notes.mp3");
    check("wrong_key", 401, "Incorrect API key");
    check("model", 404, "large-v9");
    check("format", 400, "response_format");
    check("big", 413, "2 MB");
    check("translate_en_only", 400, "");
    assert_eq!(got["wrong_key"][1]["code"], "invalid_api_key");
    assert!(
        got["after"]
            .as_str()
            .unwrap()
            .contains("ask not what your country")
    );

    // No key at all, with plain HTTP.
    let out = Command::new(client_python())
        .args([
            "-c",
            "import sys, urllib.request, urllib.error\n\
             try:\n\
             \x20   urllib.request.urlopen(sys.argv[1] + '/v1/models')\n\
             except urllib.error.HTTPError as e:\n\
             \x20   print(e.code, e.read().decode())\n",
            &server.url,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("401 ") && text.contains("Missing API key"),
        "{text}"
    );
}

#[test]
fn a_full_queue_answers_503_at_once() {
    // One worker, no waiting room: of several requests at once, some are refused.
    let server = Server::start(&["--api-key", KEY, "--workers", "1", "--queue", "0"]);
    let ljs = corpus("long/ljspeech_LJ001-0001_to_0032_concat.flac");
    let got = server.python(
        "from concurrent.futures import ThreadPoolExecutor\n\
         def one(_):\n\
         \x20   try:\n\
         \x20       with open(sys.argv[1], 'rb') as f:\n\
         \x20           client.audio.transcriptions.create(model='whisper-1', file=f)\n\
         \x20       return 200\n\
         \x20   except openai.APIStatusError as e:\n\
         \x20       return [e.status_code, e.body['code']]\n\
         with ThreadPoolExecutor(4) as pool:\n\
         \x20   print(json.dumps(list(pool.map(one, range(4)))))\n",
        &[ljs.to_str().unwrap()],
    );
    let answers = got.as_array().unwrap();
    let ok = answers.iter().filter(|a| **a == 200).count();
    let busy = answers
        .iter()
        .filter(|a| **a == serde_json::json!([503, "queue_full"]))
        .count();
    assert!(ok >= 1 && busy >= 1 && ok + busy == 4, "{got}");
}

/// Streams LJ001-0001 to the live WebSocket (with `query`) as PCM16 in 100 ms frames, as fast
/// as the socket takes them, then `end`; every message the server sent, `done` last.
fn stream_ljspeech(server: &Server, query: &str) -> serde_json::Value {
    let ljs = corpus("en_read/ljspeech/LJ001-0001.wav");
    let ws = format!("{}/v1/live?{query}", server.url.replace("http://", "ws://"));
    server.python(
        "import asyncio, wave, websockets\n\
         async def main():\n\
         \x20   w = wave.open(sys.argv[1])\n\
         \x20   assert w.getframerate() == 22050 or w.getframerate() == 16000\n\
         \x20   import array\n\
         \x20   raw = array.array('h', w.readframes(w.getnframes()))\n\
         \x20   rate = w.getframerate()\n\
         \x20   pcm = array.array('h', (raw[int(i * rate / 16000)] for i in range(int(len(raw) * 16000 / rate))))\n\
         \x20   messages = []\n\
         \x20   async with websockets.connect(sys.argv[2], additional_headers={'Authorization': 'Bearer ' + sys.argv[3]}) as ws:\n\
         \x20       for i in range(0, len(pcm), 1600):\n\
         \x20           await ws.send(pcm[i:i + 1600].tobytes())\n\
         \x20       await ws.send(json.dumps({'type': 'end'}))\n\
         \x20       async for m in ws:\n\
         \x20           m = json.loads(m)\n\
         \x20           messages.append(m)\n\
         \x20           if m['type'] == 'done':\n\
         \x20               break\n\
         \x20   print(json.dumps(messages))\n\
         asyncio.run(main())\n",
        &[ljs.to_str().unwrap(), &ws, KEY],
    )
}

#[test]
fn a_live_client_that_asks_for_a_lag_limit_is_skipped_ahead_when_the_server_falls_behind() {
    let server = Server::start(&["--api-key", KEY]);
    // The whole file arrives at once, as if the server had fallen 9 s behind a microphone.
    let got = stream_ljspeech(&server, "language=en&max_lag=3");
    let messages = got.as_array().unwrap();
    assert_eq!(messages.last().unwrap()["type"], "done");
    let skipped: f64 = messages
        .iter()
        .filter(|m| m["type"] == "skipped")
        .map(|m| m["seconds"].as_f64().unwrap())
        .sum();
    assert!(skipped >= 3.0, "{messages:?}");
    // The newest audio is still captioned: the recording's last words.
    let committed: String = messages
        .iter()
        .filter(|m| m["type"] == "committed")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert!(
        committed.to_lowercase().contains("exhibition"),
        "{committed:?}"
    );

    // A limit under the 3 s a jump keeps is refused before the upgrade.
    let status = server.python(
        "import websockets, websockets.sync.client as c\n\
         try:\n\
         \x20   c.connect(sys.argv[1], additional_headers={'Authorization': 'Bearer ' + sys.argv[2]})\n\
         \x20   print(json.dumps(101))\n\
         except websockets.exceptions.InvalidStatus as e:\n\
         \x20   print(json.dumps(e.response.status_code))\n",
        &[
            &format!("{}/v1/live?max_lag=1", server.url.replace("http://", "ws://")),
            KEY,
        ],
    );
    assert_eq!(status, 400);
}

#[test]
fn the_live_websocket_captions_a_streamed_file() {
    let server = Server::start(&["--api-key", KEY]);
    let got = stream_ljspeech(&server, "language=en");
    let messages = got.as_array().unwrap();
    assert_eq!(messages.last().unwrap()["type"], "done");
    let committed: String = messages
        .iter()
        .filter(|m| m["type"] == "committed")
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    let committed = committed.to_lowercase();
    for word in ["printing", "differs", "arts and crafts", "exhibition"] {
        assert!(
            committed.contains(word),
            "{word} missing from {committed:?}"
        );
    }
    assert!(messages.iter().any(|m| m["type"] == "partial"));
    let stats: Vec<_> = messages.iter().filter(|m| m["type"] == "stats").collect();
    assert!(!stats.is_empty());
    assert!(
        stats
            .iter()
            .all(|s| s["target_passes"].as_u64().unwrap() >= 1)
    );
    // The rounds of each decode, as text: what was kept and the target's tokens spell out
    // words of the recording.
    let spelled: String = stats
        .iter()
        .flat_map(|s| s["rounds"].as_array().unwrap().clone())
        .map(|r| {
            format!(
                "{}{}",
                r["accepted"].as_str().unwrap(),
                r["target"].as_str().unwrap()
            )
        })
        .collect();
    assert!(spelled.to_lowercase().contains("printing"), "{spelled}");
    // Committed words come in time order.
    let ends: Vec<f64> = messages
        .iter()
        .filter(|m| m["type"] == "committed")
        .map(|m| m["end"].as_f64().unwrap())
        .collect();
    assert!(ends.windows(2).all(|p| p[0] <= p[1]), "{ends:?}");
}
