//! The REST endpoints under `/api/v1/monitoring`.

pub mod errors;
pub mod history;
pub mod metrics;
pub mod stuck;
pub mod task_names;
pub mod tasks;
pub mod timeseries;

/// The `{error, parameter, message}` answers an endpoint may give, for the OpenAPI document.
pub(crate) type ErrorAnswer = crate::error::ErrorBody;

/// Rounds to two decimals (figures meant for people).
pub(crate) fn two_decimals(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
