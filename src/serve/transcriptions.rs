//! `POST /v1/audio/transcriptions` and `/v1/audio/translations`: OpenAI's multipart form
//! (`file`, `model`, `language`, `prompt`, `response_format`, `temperature`,
//! `timestamp_granularities[]`), decoded on the shared model by a worker of the pool.

use std::sync::Arc;

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartError};
use axum::http::StatusCode;
use axum::response::Response;

use super::AppState;
use super::api_error::ApiError;
use super::openai_format::{ResponseFormat, render};
use crate::audio::{AudioError, AudioStream};
use crate::text::Task;
use crate::text::languages::resolve_language;

/// What the form asked for.
#[derive(Debug, Default)]
struct Form {
    file: Option<(String, Vec<u8>)>,
    model: Option<String>,
    language: Option<String>,
    prompt: Option<String>,
    response_format: Option<String>,
    temperature: Option<String>,
    granularities: Vec<String>,
}

/// `POST /v1/audio/transcriptions`.
pub async fn transcriptions(
    State(state): State<Arc<AppState>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    handle(state, multipart, Task::Transcribe).await
}

/// `POST /v1/audio/translations` (to English).
pub async fn translations(
    State(state): State<Arc<AppState>>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    handle(state, multipart, Task::Translate).await
}

async fn handle(
    state: Arc<AppState>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
    task: Task,
) -> Result<Response, ApiError> {
    let mut multipart = multipart.map_err(|e| {
        ApiError::invalid(format!(
            "expected a multipart/form-data body: {}",
            e.body_text()
        ))
    })?;
    let form = read_form(&mut multipart, state.max_upload_mb).await?;
    let (name, bytes) = form
        .file
        .ok_or_else(|| ApiError::invalid("the form has no `file` field"))?;
    let model = form
        .model
        .ok_or_else(|| ApiError::invalid("the form has no `model` field"))?;
    if model != state.model_name && model != "whisper-1" {
        return Err(ApiError::model_not_found(&model, &state.model_name));
    }
    let format = ResponseFormat::parse(form.response_format.as_deref().unwrap_or("json"))?;
    let mut opts = state.defaults.clone();
    opts.task = task;
    if let Some(language) = form.language.filter(|l| !l.is_empty()) {
        let code = resolve_language(&language)
            .ok_or_else(|| ApiError::invalid(format!("unknown language `{language}`")))?;
        opts.language = Some(code.to_string());
    }
    opts.initial_prompt = form.prompt.filter(|p| !p.is_empty());
    if let Some(t) = form.temperature.filter(|t| !t.is_empty()) {
        let t: f32 = t
            .trim()
            .parse()
            .ok()
            .filter(|t: &f32| (0.0..=1.0).contains(t))
            .ok_or_else(|| {
                ApiError::invalid(format!("temperature `{t}` is not between 0 and 1"))
            })?;
        // OpenAI: 0 means greedy with automatic temperature increases; above 0 samples at it.
        if t > 0.0 {
            opts.temperature = t;
            opts.temperature_increment = None;
        }
    }
    let mut words = false;
    let mut segments = format != ResponseFormat::VerboseJson;
    for g in &form.granularities {
        match g.as_str() {
            "word" => words = true,
            "segment" => segments = true,
            other => {
                return Err(ApiError::invalid(format!(
                    "timestamp_granularities `{other}` is not word or segment"
                )));
            }
        }
    }
    if format == ResponseFormat::VerboseJson && form.granularities.is_empty() {
        segments = true;
    }
    if words && format != ResponseFormat::VerboseJson {
        return Err(ApiError::invalid(
            "timestamp_granularities[]=word needs response_format verbose_json",
        ));
    }
    opts.word_timestamps = words;
    state
        .transcriber
        .check_options(&opts)
        .map_err(|e| ApiError::invalid(e.to_string()))?;

    let transcriber = state.transcriber;
    let max_s = state.max_audio_s;
    let label = name.clone();
    let job = state
        .pool
        .submit(move || -> Result<crate::transcript::Transcript, ApiError> {
            let audio = AudioStream::from_bytes(&label, bytes)
                .and_then(|s| s.collect_at_most(max_s))
                .map_err(|e| audio_error(&e))?;
            transcriber
                .transcribe_samples(&audio.samples, &opts, &label)
                .map_err(|e| ApiError::internal(format!("{label}: {e}")))
        })
        .map_err(|_| ApiError::busy())?;
    let transcript = job
        .await
        .map_err(|_| ApiError::internal("the decode worker stopped"))?
        .map_err(|p| ApiError::internal(format!("{name}: internal error (a bug): {}", p.0)))??;
    let task_name = match task {
        Task::Transcribe => "transcribe",
        Task::Translate => "translate",
    };
    Ok(render(&transcript, format, task_name, words, segments))
}

/// Bad audio is the client's: 400, naming the upload and the cause.
fn audio_error(e: &AudioError) -> ApiError {
    ApiError::invalid(e.to_string())
}

/// Reads every field; an upload past `max_upload_mb` is a 413.
async fn read_form(multipart: &mut Multipart, max_upload_mb: u64) -> Result<Form, ApiError> {
    let mut form = Form::default();
    let field_error = |e: MultipartError| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(max_upload_mb)
        } else {
            ApiError::invalid(format!("cannot read the form: {}", e.body_text()))
        }
    };
    while let Some(field) = multipart.next_field().await.map_err(field_error)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            let file_name = field.file_name().unwrap_or("upload").to_string();
            let bytes = field.bytes().await.map_err(field_error)?;
            form.file = Some((file_name, bytes.to_vec()));
            continue;
        }
        let value = field.text().await.map_err(field_error)?;
        match name.as_str() {
            "model" => form.model = Some(value),
            "language" => form.language = Some(value),
            "prompt" => form.prompt = Some(value),
            "response_format" => form.response_format = Some(value),
            "temperature" => form.temperature = Some(value),
            "timestamp_granularities[]" | "timestamp_granularities" => {
                form.granularities.push(value)
            }
            // Fields of newer API versions (stream, chunking_strategy, include[]) are ignored,
            // as OpenAI ignores fields a model does not use.
            _ => {}
        }
    }
    Ok(form)
}
