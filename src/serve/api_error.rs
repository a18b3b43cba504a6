//! Errors in OpenAI's shape, `{"error": {"message", "type", "code"}}`, with the status codes its
//! clients expect: they raise `BadRequestError`, `AuthenticationError` and so on from them.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// An error answer.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for a person.
    pub message: String,
    /// OpenAI's error type (`invalid_request_error`, `authentication_error`, ...).
    pub kind: &'static str,
    /// A machine-readable code (`invalid_api_key`, `model_not_found`, ...).
    pub code: Option<&'static str>,
}

impl ApiError {
    /// 400: bad audio or a bad field.
    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            code: None,
        }
    }

    /// 401: a missing or wrong key.
    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            message: message.into(),
            kind: "authentication_error",
            code: Some("invalid_api_key"),
        }
    }

    /// 404: a model this server does not serve.
    pub fn model_not_found(model: &str, served: &str) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: format!(
                "The model `{model}` does not exist here: this server runs `{served}` (also \
                 answering to `whisper-1`)"
            ),
            kind: "invalid_request_error",
            code: Some("model_not_found"),
        }
    }

    /// 413: an upload over the limit.
    pub fn too_large(limit_mb: u64) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!("The upload is larger than this server's limit of {limit_mb} MB"),
            kind: "invalid_request_error",
            code: Some("file_too_large"),
        }
    }

    /// 503: every worker busy and the queue full.
    pub fn busy() -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: "The server is busy (every decode worker is taken and the queue is full); \
                      retry shortly"
                .into(),
            kind: "server_error",
            code: Some("queue_full"),
        }
    }

    /// 500: a failure of ours.
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            kind: "server_error",
            code: None,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": null,
                "code": self.code,
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body())).into_response()
    }
}
