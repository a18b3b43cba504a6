//! The page at `/`: live captions from the browser's microphone (getUserMedia, an
//! AudioWorklet at 16 kHz, PCM16 frames over `/v1/live`), transcription of a dropped file
//! (`/v1/audio/transcriptions`, verbose_json), committed and tentative text, and each decode's
//! speculation counts (drafted, accepted, target passes). One self-contained file, served as
//! is: no build step, nothing fetched from elsewhere.

use axum::response::Html;

/// The page.
const INDEX: &str = include_str!("assets/index.html");

/// `GET /`.
pub async fn index() -> Html<&'static str> {
    Html(INDEX)
}
