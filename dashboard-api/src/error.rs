//! Error answers: every error is JSON `{"error", "parameter", "message"}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tasklens_store::StoreError;
use utoipa::ToSchema;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A query or path parameter is malformed or out of range.
    #[error("{message}")]
    InvalidParameter {
        parameter: &'static str,
        message: String,
    },
    /// A request that is not what the endpoint takes (not a WebSocket upgrade...).
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    NotFound(String),
    /// The database cannot be reached, or answered too late.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or a corrupt row; the details are logged, not sent.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    pub fn invalid(parameter: &'static str, message: impl Into<String>) -> Self {
        ApiError::InvalidParameter {
            parameter,
            message: message.into(),
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidParameter { .. } | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body of this error.
    pub fn body(&self) -> ErrorBody {
        let (error, parameter) = match self {
            Self::InvalidParameter { parameter, .. } => {
                ("invalid_parameter", Some((*parameter).to_owned()))
            }
            Self::BadRequest(_) => ("bad_request", None),
            Self::Unauthorized(_) => ("unauthorized", None),
            Self::NotFound(_) => ("not_found", None),
            Self::Unavailable(_) => ("unavailable", None),
            Self::Internal => ("internal", None),
        };
        ErrorBody {
            error: error.to_owned(),
            parameter,
            message: self.to_string(),
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, ToSchema)]
pub struct ErrorBody {
    /// `invalid_parameter`, `bad_request`, `unauthorized`, `not_found`, `unavailable` or
    /// `internal`.
    pub error: String,
    /// The offending parameter (for `invalid_parameter`), else null.
    #[schema(required = true)]
    pub parameter: Option<String>,
    /// What went wrong, for a person.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        if err.is_transient() {
            tracing::warn!(error = %err, "database unavailable");
            return ApiError::Unavailable("the database is unavailable; retry later".into());
        }
        match err {
            // The API validates every argument first, so this is a bug; still, say it plainly.
            StoreError::InvalidQuery(message) => ApiError::BadRequest(message),
            other => {
                tracing::error!(error = %other, "store error");
                ApiError::Internal
            }
        }
    }
}
