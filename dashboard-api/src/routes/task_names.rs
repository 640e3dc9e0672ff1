//! `GET /api/v1/monitoring/task-names`: the task types that have runs.

use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};
use tasklens_model::{TaskType, TaskTypeFilter};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::params::{self, QueryParams};
use crate::read_cache::{JsonBody, ReadKey};
use crate::state::AppState;

/// The task types with runs in the store, and the services and environments to filter by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskNamesResponse {
    /// The task names of the task types that match the filters, each once, sorted.
    pub task_names: Vec<String>,
    /// The task types that match the filters, sorted by task name, service and environment.
    pub task_types: Vec<TaskTypeItem>,
    /// Every service with runs, whatever the filters, sorted.
    pub services: Vec<String>,
    /// Every environment with runs, whatever the filters, sorted.
    pub environments: Vec<String>,
}

/// A task name in one service and environment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TaskTypeItem {
    pub task_name: String,
    /// The worker's `service.name`; null where the runs did not say.
    pub service: Option<String>,
    /// The worker's deployment environment; null where the runs did not say.
    pub environment: Option<String>,
}

impl From<TaskType> for TaskTypeItem {
    fn from(t: TaskType) -> Self {
        TaskTypeItem {
            service: t.service().map(str::to_owned),
            environment: t.environment().map(str::to_owned),
            task_name: t.task_name,
        }
    }
}

impl TaskNamesResponse {
    /// The answer from every task type (a short list) and the filters.
    pub fn of(mut all: Vec<TaskType>, filter: &TaskTypeFilter) -> Self {
        all.sort();
        let mut services: Vec<String> = all
            .iter()
            .filter_map(|t| t.service())
            .map(str::to_owned)
            .collect();
        let mut environments: Vec<String> = all
            .iter()
            .filter_map(|t| t.environment())
            .map(str::to_owned)
            .collect();
        for list in [&mut services, &mut environments] {
            list.sort();
            list.dedup();
        }
        let task_types: Vec<TaskTypeItem> = all
            .into_iter()
            .filter(|t| filter.matches(t))
            .map(TaskTypeItem::from)
            .collect();
        let mut task_names: Vec<String> = task_types.iter().map(|t| t.task_name.clone()).collect();
        task_names.dedup();
        TaskNamesResponse {
            task_names,
            task_types,
            services,
            environments,
        }
    }
}

/// The task types that have runs in the store, sorted.
#[utoipa::path(
    get,
    path = "/api/v1/monitoring/task-names",
    tag = "monitoring",
    params(
        params::ServiceParams,
    ),
    responses(
        (status = 200, description = "Task types", body = TaskNamesResponse),
        (status = 400, description = "Invalid parameter", body = super::ErrorAnswer),
        (status = 401, description = "Token missing or wrong", body = super::ErrorAnswer),
        (status = 503, description = "Database unavailable", body = super::ErrorAnswer),
    ),
    security((), ("bearer" = []))
)]
pub async fn task_names(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<JsonBody, ApiError> {
    let params = QueryParams::parse(raw.as_deref());
    // The names to choose from are narrowed by service and environment, never by a name.
    let filter = params::task_type(&params)?.without_task_name();
    let store = &state.store;
    state
        .read_cache
        .get_or_load(
            ReadKey::TaskNames {
                task_type: filter.clone(),
            },
            || async move {
                let all = store.task_types(&TaskTypeFilter::default()).await?;
                Ok(TaskNamesResponse::of(all, &filter))
            },
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_narrowed_by_the_filters_and_the_choices_are_not() {
        let all = vec![
            TaskType::new("send_email", Some("web"), Some("prod")),
            TaskType::new("send_email", Some("billing"), Some("prod")),
            TaskType::new("charge", Some("billing"), Some("staging")),
            TaskType::new("charge", None, None),
        ];
        let everything = TaskNamesResponse::of(all.clone(), &TaskTypeFilter::default());
        assert_eq!(everything.task_names, ["charge", "send_email"]);
        assert_eq!(everything.task_types.len(), 4);
        assert_eq!(everything.services, ["billing", "web"]);
        assert_eq!(everything.environments, ["prod", "staging"]);

        let web = TaskTypeFilter {
            service: Some("web".into()),
            ..TaskTypeFilter::default()
        };
        let answer = TaskNamesResponse::of(all, &web);
        assert_eq!(answer.task_names, ["send_email"]);
        assert_eq!(answer.services, ["billing", "web"]);
    }
}
