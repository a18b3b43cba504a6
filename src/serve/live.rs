//! `GET /v1/live`: live captions over a WebSocket.
//!
//! The client sends binary frames of 16 kHz mono PCM16 (little-endian) and, at the end, the
//! text frame `{"type":"end"}`. The server answers with text frames: `{"type":"committed",
//! "text", "start", "end"}` for words that are final, `{"type":"partial", "text", "start",
//! "end"}` for the tentative words after each decode (replacing the previous ones), `{"type":
//! "stats", ...}` with each decode's speculation counts (drafted and accepted tokens, target
//! passes, time) and its rounds (`{"accepted", "rejected", "target", "corrected"}` as text),
//! `{"type":"skipped", "seconds"}` when the session jumped ahead (below), `{"type":"error",
//! "message"}` on a protocol error, and finally `{"type":"done"}`.
//!
//! Each connection runs a [`LiveSession`] (the same session and commit policy as `caption`) on
//! its own thread, decoding after every `--step-ms` of new audio; a session that falls behind
//! takes in up to 5 s at once, and the frames of a client faster than that wait in a bounded
//! queue (the socket is not read while it is full). A client sending in real time asks for
//! `?max_lag=SECONDS` (the page does, 6): past that much undecoded audio the session commits
//! its tentative words and jumps to the newest audio, as `caption --max-lag` does. Sessions are limited to
//! `--max-live` at once (503 before the upgrade beyond that).

use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::sync::mpsc::UnboundedSender;

use super::AppState;
use super::api_error::ApiError;
use crate::audio::SAMPLE_RATE;
use crate::text::WhisperTokenizer;
use crate::text::languages::resolve_language;
use crate::transcribe::agreement::LiveWord;
use crate::transcribe::draft_rounds::round_text;
use crate::transcribe::stream::{LiveConfig, LiveSession, LiveStats, LiveUpdate};

/// Frames waiting for the session thread before the socket stops being read (a browser's
/// frames are 8 ms: about 16 s).
const FEED_FRAMES: usize = 2048;

/// The most audio (seconds) one decode takes in when the session is behind.
const CATCH_UP_S: f64 = 5.0;

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// Language code or name (detected when absent, on multilingual models).
    pub language: Option<String>,
    /// For a client sending in real time (a microphone): past this much undecoded audio
    /// (seconds, at least [`RESUME_S`](crate::transcribe::stream::RESUME_S)), the session
    /// jumps to the newest audio and sends a `skipped` message. Absent or `none`: every sample is decoded, however late (a client
    /// sending a file faster than real time loses nothing).
    pub max_lag: Option<String>,
}

/// `max_lag`'s value, checked as `caption --max-lag` is (`none`, or seconds from the 3 s a
/// jump keeps to 600); absent or empty is `none`.
fn parse_max_lag(value: Option<&str>) -> Result<Option<f64>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => crate::cli::ranges::max_lag(v)
            .map(|lag| lag.0)
            .map_err(|e| ApiError::invalid(format!("max_lag: {e}"))),
    }
}

/// What the socket task hands the session thread.
enum Feed {
    Audio(Vec<f32>),
    End,
}

/// Upgrades to a WebSocket if a live slot is free.
pub async fn upgrade(
    State(state): State<Arc<AppState>>,
    Query(query): Query<LiveQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let language = match query.language.filter(|l| !l.is_empty()) {
        Some(l) => Some(
            resolve_language(&l)
                .ok_or_else(|| ApiError::invalid(format!("unknown language `{l}`")))?
                .to_string(),
        ),
        None => None,
    };
    let max_lag_s = parse_max_lag(query.max_lag.as_deref())?;
    let slot = Arc::clone(&state.live_slots)
        .try_acquire_owned()
        .map_err(|_| ApiError::busy())?;
    Ok(ws
        .on_upgrade(move |socket| async move {
            run(socket, state, language, max_lag_s).await;
            drop(slot);
        })
        .into_response())
}

async fn run(
    mut socket: WebSocket,
    state: Arc<AppState>,
    language: Option<String>,
    max_lag_s: Option<f64>,
) {
    let (feed_tx, feed_rx) = std::sync::mpsc::sync_channel::<Feed>(FEED_FRAMES);
    let (out_tx, mut out_rx) = tokio::sync::mpsc::unbounded_channel::<serde_json::Value>();
    let session_state = Arc::clone(&state);
    let session = std::thread::Builder::new()
        .name("live-session".into())
        .spawn(move || session_loop(&session_state, language, max_lag_s, feed_rx, out_tx));
    if session.is_err() {
        let _ = socket
            .send(text(
                serde_json::json!({"type": "error", "message": "cannot start a session"}),
            ))
            .await;
        return;
    }
    let feed_tx = Some(feed_tx);
    let mut feed_tx = feed_tx;
    loop {
        tokio::select! {
            message = out_rx.recv() => match message {
                Some(m) => {
                    let done = m["type"] == "done";
                    if socket.send(text(m)).await.is_err() || done {
                        break;
                    }
                }
                None => break,
            },
            incoming = socket.recv(), if feed_tx.is_some() => match incoming {
                Some(Ok(Message::Binary(bytes))) => {
                    if bytes.len() % 2 != 0 {
                        let _ = socket.send(text(serde_json::json!({
                            "type": "error",
                            "message": "binary frames carry PCM16 samples: an even number of bytes"
                        }))).await;
                        break;
                    }
                    let samples: Vec<f32> = bytes
                        .chunks_exact(2)
                        .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
                        .collect();
                    if !send_feed(&feed_tx, Feed::Audio(samples)).await {
                        break;
                    }
                }
                Some(Ok(Message::Text(t))) => {
                    let end = serde_json::from_str::<serde_json::Value>(&t)
                        .is_ok_and(|v| v["type"] == "end");
                    if end {
                        let _ = send_feed(&feed_tx, Feed::End).await;
                        // Nothing more is read; the session's last messages are sent.
                        feed_tx = None;
                    } else {
                        let _ = socket.send(text(serde_json::json!({
                            "type": "error",
                            "message": "the only text frame understood is {\"type\":\"end\"}"
                        }))).await;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}

/// Hands `feed` to the session thread, waiting (off the runtime's threads) while its queue is
/// full; `false` when the session has ended.
async fn send_feed(tx: &Option<SyncSender<Feed>>, feed: Feed) -> bool {
    let Some(tx) = tx.clone() else { return false };
    tokio::task::spawn_blocking(move || tx.send(feed).is_ok())
        .await
        .unwrap_or(false)
}

fn text(value: serde_json::Value) -> Message {
    Message::Text(value.to_string().into())
}

/// The session thread: steps the session each `live_step_s` of new audio; at the end, finishes
/// it and says done.
fn session_loop(
    state: &AppState,
    language: Option<String>,
    max_lag_s: Option<f64>,
    feed: Receiver<Feed>,
    out: UnboundedSender<serde_json::Value>,
) {
    let mut opts = state.defaults.clone();
    if language.is_some() {
        opts.language = language;
    }
    let config = LiveConfig {
        max_lag_s,
        ..state.live.clone()
    };
    let mut session = LiveSession::new(state.transcriber, &opts, config);
    let mut reporter = Reporter {
        out,
        previous: LiveStats::default(),
        last_partial: String::new(),
        tokenizer: state.transcriber.tokenizer(),
    };
    let step = (state.live_step_s * f64::from(SAMPLE_RATE)) as usize;
    // With a lag limit the session sees all that waits (and jumps past it); without one it
    // catches up `CATCH_UP_S` at a time.
    let catch_up = match max_lag_s {
        Some(_) => usize::MAX,
        None => (CATCH_UP_S * f64::from(SAMPLE_RATE)) as usize,
    };
    let mut pending: Vec<f32> = Vec::new();
    loop {
        let mut ended = match feed.recv_timeout(Duration::from_millis(200)) {
            Ok(Feed::Audio(samples)) => {
                pending.extend(samples);
                false
            }
            Ok(Feed::End) | Err(RecvTimeoutError::Disconnected) => true,
            Err(RecvTimeoutError::Timeout) => false,
        };
        // Everything else that has arrived (frames are small: a browser sends 8 ms each).
        while !ended {
            match feed.try_recv() {
                Ok(Feed::Audio(samples)) => pending.extend(samples),
                Ok(Feed::End) | Err(TryRecvError::Disconnected) => ended = true,
                Err(TryRecvError::Empty) => break,
            }
        }
        // What has arrived, at least a step and at most `CATCH_UP_S`: a session that fell
        // behind (a slow machine, a client faster than real time) catches up in few decodes
        // instead of one per step.
        while pending.len() >= step {
            let take = pending.len().min(step.max(catch_up));
            session.push(&pending[..take]);
            pending.drain(..take);
            if !reporter.run(&mut session, LiveSession::step) {
                return;
            }
        }
        if ended {
            session.push(&pending);
            reporter.run(&mut session, LiveSession::finish);
            let _ = reporter.out.send(serde_json::json!({"type": "done"}));
            return;
        }
    }
}

/// Sends what each decode changed.
struct Reporter<'t> {
    out: UnboundedSender<serde_json::Value>,
    /// The session's totals after the previous decode.
    previous: LiveStats,
    /// The tentative text last sent.
    last_partial: String,
    tokenizer: &'t WhisperTokenizer,
}

impl Reporter<'_> {
    /// Runs `decode` (a step, or the finish) on `session` and sends what it changed; `false`
    /// when the session must stop (the client left, or the decode failed).
    fn run<'a>(
        &mut self,
        session: &mut LiveSession<'a>,
        decode: impl FnOnce(&mut LiveSession<'a>) -> crate::error::Result<LiveUpdate>,
    ) -> bool {
        let started = Instant::now();
        let update = match decode(session) {
            Ok(u) => u,
            Err(e) => {
                let _ = self
                    .out
                    .send(serde_json::json!({"type": "error", "message": e.to_string()}));
                let _ = self.out.send(serde_json::json!({"type": "done"}));
                return false;
            }
        };
        let mut sent = true;
        if update.skipped_s > 0.0 {
            sent &= self
                .out
                .send(serde_json::json!({"type": "skipped", "seconds": update.skipped_s}))
                .is_ok();
        }
        if !update.committed.is_empty() {
            sent &= self
                .out
                .send(words_message("committed", &update.committed))
                .is_ok();
        }
        let partial: String = update.tentative.iter().map(|w| w.text.as_str()).collect();
        if update.decoded || partial != self.last_partial {
            sent &= self
                .out
                .send(words_message("partial", &update.tentative))
                .is_ok();
            self.last_partial = partial;
        }
        if update.decoded {
            let now = session.stats();
            let previous = &self.previous;
            sent &= self
                .out
                .send(serde_json::json!({
                    "type": "stats",
                    "decode_ms": (started.elapsed().as_secs_f64() * 1000.0).round(),
                    "tokens": now.tokens - previous.tokens,
                    "drafted": now.draft_tokens - previous.draft_tokens,
                    "accepted": now.accepted_tokens - previous.accepted_tokens,
                    "target_passes": now.target_calls - previous.target_calls,
                    "rounds": session
                        .last_rounds()
                        .iter()
                        .map(|r| round_text(r, self.tokenizer))
                        .collect::<Vec<_>>(),
                }))
                .is_ok();
            self.previous = now.clone();
        }
        sent
    }
}

/// `{"type", "text", "start", "end"}` over `words` (their own spacing kept, so committed
/// messages concatenate into the transcript).
fn words_message(kind: &str, words: &[LiveWord]) -> serde_json::Value {
    let text: String = words.iter().map(|w| w.text.as_str()).collect();
    serde_json::json!({
        "type": kind,
        "text": text,
        "start": words.first().map_or(0.0, |w| w.start),
        "end": words.last().map_or(0.0, |w| w.end),
    })
}
