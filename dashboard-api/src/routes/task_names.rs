//! `GET /api/v1/monitoring/task-names`: the task types that have runs.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::read_cache::{JsonBody, ReadKey};
use crate::state::AppState;

/// The task types with runs in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskNamesResponse {
    /// Sorted.
    pub task_names: Vec<String>,
}

/// The task types that have runs in the store, sorted.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/task-names",
    tag = "monitoring",
    responses(
        (status = 200, description = "Task types", body = TaskNamesResponse),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn task_names(State(state): State<AppState>) -> Result<JsonBody, ApiError> {
    let store = &state.store;
    state
        .read_cache
        .get_or_load(ReadKey::TaskNames, || async move {
            let mut task_names = store.task_names().await?;
            task_names.sort();
            Ok(TaskNamesResponse { task_names })
        })
        .await
}
