//! Transcripts in the response formats of OpenAI's audio API: `json` (`{"text"}`), `text`,
//! `srt`, `vtt` (our subtitle writers) and `verbose_json` (task, language name, duration, text,
//! segments with openai/whisper's per-segment fields, and words when asked for).

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::api_error::ApiError;
use crate::output::{self, Format, SubtitleOptions};
use crate::text::languages::language_name;
use crate::transcript::Transcript;

/// `response_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `{"text": ...}`.
    Json,
    /// The text alone.
    Text,
    /// SubRip.
    Srt,
    /// WebVTT.
    Vtt,
    /// Segments, words, language and duration.
    VerboseJson,
}

impl ResponseFormat {
    /// Reads the form field.
    pub fn parse(value: &str) -> Result<ResponseFormat, ApiError> {
        Ok(match value {
            "json" => ResponseFormat::Json,
            "text" => ResponseFormat::Text,
            "srt" => ResponseFormat::Srt,
            "vtt" => ResponseFormat::Vtt,
            "verbose_json" => ResponseFormat::VerboseJson,
            other => {
                return Err(ApiError::invalid(format!(
                    "response_format `{other}` is not one of json, text, srt, verbose_json, vtt"
                )));
            }
        })
    }
}

#[derive(Serialize)]
struct VerboseSegment<'a> {
    id: usize,
    seek: usize,
    start: f64,
    end: f64,
    text: &'a str,
    tokens: &'a [u32],
    temperature: f32,
    avg_logprob: f64,
    compression_ratio: f64,
    no_speech_prob: f64,
}

#[derive(Serialize)]
struct VerboseWord<'a> {
    word: &'a str,
    start: f64,
    end: f64,
}

/// The answer for `transcript` in `format`; `words` adds the word list to `verbose_json`
/// (`timestamp_granularities[]=word`), `segments` keeps the segment list there.
pub fn render(
    transcript: &Transcript,
    format: ResponseFormat,
    task: &str,
    words: bool,
    segments: bool,
) -> Response {
    match format {
        ResponseFormat::Json => {
            axum::Json(serde_json::json!({ "text": transcript.text })).into_response()
        }
        ResponseFormat::Text => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            format!("{}\n", transcript.text),
        )
            .into_response(),
        ResponseFormat::Srt | ResponseFormat::Vtt => {
            let (ours, mime) = if format == ResponseFormat::Srt {
                (Format::Srt, "application/x-subrip; charset=utf-8")
            } else {
                (Format::Vtt, "text/vtt; charset=utf-8")
            };
            let mut bytes = Vec::new();
            if let Err(e) =
                output::write_with(ours, transcript, &SubtitleOptions::default(), &mut bytes)
            {
                return ApiError::internal(format!("cannot write the subtitles: {e}"))
                    .into_response();
            }
            ([(header::CONTENT_TYPE, mime)], bytes).into_response()
        }
        ResponseFormat::VerboseJson => {
            let mut body = serde_json::json!({
                "task": task,
                "language": language_name(&transcript.language).unwrap_or(&transcript.language),
                "duration": transcript.duration_s,
                "text": transcript.text,
            });
            if segments {
                let list: Vec<VerboseSegment<'_>> = transcript
                    .segments
                    .iter()
                    .enumerate()
                    .map(|(id, s)| VerboseSegment {
                        id,
                        seek: (s.start * 100.0).round() as usize,
                        start: s.start,
                        end: s.end,
                        text: &s.text,
                        tokens: &s.tokens,
                        temperature: s.temperature,
                        avg_logprob: s.avg_logprob,
                        compression_ratio: s.compression_ratio,
                        no_speech_prob: s.no_speech_prob,
                    })
                    .collect();
                body["segments"] = serde_json::to_value(list).expect("segments serialize");
            }
            if words {
                let list: Vec<VerboseWord<'_>> = transcript
                    .segments
                    .iter()
                    .flat_map(|s| &s.words)
                    .map(|w| VerboseWord {
                        word: w.word.trim(),
                        start: w.start,
                        end: w.end,
                    })
                    .collect();
                body["words"] = serde_json::to_value(list).expect("words serialize");
            }
            axum::Json(body).into_response()
        }
    }
}
