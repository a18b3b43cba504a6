//! `whisper-spec serve`: an HTTP server that the official OpenAI clients can talk to, live
//! captions over a WebSocket, and a web page that uses both.
//!
//! - [`transcriptions`]: `POST /v1/audio/transcriptions` and `/v1/audio/translations`, in
//!   OpenAI's multipart form and response formats ([`openai_format`]), errors in its shape
//!   ([`api_error`]).
//! - [`live`]: `GET /v1/live`, a WebSocket of 16 kHz PCM in and committed and tentative text
//!   out, with `caption`'s session and commit policy.
//! - [`page`]: the page at `/`.
//!
//! One model, loaded once, is shared by a fixed pool of decode workers with a bounded queue
//! ([`decode_pool`]): a request that finds the queue full is answered 503 at once. A bad upload
//! fails alone (400), a decode that panics fails alone (500); the server stays up.

pub mod api_error;
pub mod decode_pool;
pub mod live;
pub mod openai_format;
pub mod page;
pub mod transcriptions;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

use api_error::ApiError;
use decode_pool::DecodePool;

use crate::transcribe::stream::LiveConfig;
use crate::transcribe::{TranscribeOptions, Transcriber};

/// Everything a request handler needs.
#[derive(Debug)]
pub struct AppState {
    /// The model, shared by every worker for the server's lifetime.
    pub transcriber: &'static Transcriber,
    /// Its name (`model` in requests may be this or `whisper-1`).
    pub model_name: String,
    /// The decode workers.
    pub pool: DecodePool,
    /// The key clients must send as `Authorization: Bearer KEY` (none: open).
    pub api_key: Option<String>,
    /// The upload limit, MB.
    pub max_upload_mb: u64,
    /// The longest audio accepted, seconds.
    pub max_audio_s: f64,
    /// Decoding options every request starts from (the command line's).
    pub defaults: TranscribeOptions,
    /// Live sessions: their configuration and how many may run at once.
    pub live: LiveConfig,
    /// Seconds of new audio between two live decodes.
    pub live_step_s: f64,
    /// Live sessions allowed at once.
    pub live_slots: Arc<tokio::sync::Semaphore>,
}

/// The router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    // The multipart limit is checked by the field reader (a 413 in OpenAI's shape); the body
    // limit sits a little above it so that the form's other fields fit.
    let body_limit =
        usize::try_from(state.max_upload_mb * 1024 * 1024 + 64 * 1024).unwrap_or(usize::MAX);
    let api = Router::new()
        .route(
            "/v1/audio/transcriptions",
            post(transcriptions::transcriptions),
        )
        .route("/v1/audio/translations", post(transcriptions::translations))
        .route("/v1/models", get(models))
        .route("/v1/live", get(live::upgrade))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            authorize,
        ))
        .layer(DefaultBodyLimit::max(body_limit));
    Router::new()
        .route("/", get(page::index))
        .route("/health", get(health))
        .merge(api)
        .fallback(|| async { ApiError::invalid("no such endpoint").with_status(404) })
        .with_state(state)
}

impl ApiError {
    /// The same error with another status.
    pub fn with_status(mut self, status: u16) -> ApiError {
        self.status = axum::http::StatusCode::from_u16(status).unwrap_or(self.status);
        self
    }
}

/// Checks the Bearer key on `/v1/*` (or `?api_key=` on the WebSocket, which browsers cannot
/// give headers to).
async fn authorize(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let Some(key) = &state.api_key else {
        return Ok(next.run(request).await);
    };
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let query = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "api_key")
            .map(|(_, v)| v.into_owned())
    });
    let given = bearer.map(str::to_string).or(query);
    match given {
        Some(g) if constant_time_eq(g.as_bytes(), key.as_bytes()) => Ok(next.run(request).await),
        Some(_) => Err(ApiError::unauthorized("Incorrect API key provided")),
        None => Err(ApiError::unauthorized(
            "Missing API key: send `Authorization: Bearer KEY`",
        )),
    }
}

/// Compares without stopping at the first difference, so the time taken says nothing about
/// how much of a guessed key was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /v1/models`: the served model (and its `whisper-1` alias).
async fn models(State(state): State<Arc<AppState>>) -> axum::Json<serde_json::Value> {
    let entry = |id: &str| serde_json::json!({"id": id, "object": "model", "created": 0, "owned_by": "whisper-spec"});
    axum::Json(serde_json::json!({
        "object": "list",
        "data": [entry(&state.model_name), entry("whisper-1")],
    }))
}

/// `GET /health`: up, which model, and whether a key is needed (the page asks for one then).
async fn health(State(state): State<Arc<AppState>>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "status": "ok",
        "model": state.model_name,
        "draft": state.transcriber.draft().map(|d| d.label().to_string()),
        "auth_required": state.api_key.is_some(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
