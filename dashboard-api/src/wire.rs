//! Vocabularies shared by the REST answers and the live messages, as they appear in JSON.

use serde::{Deserialize, Serialize};
use tasklens_model::{SourceSystem, TaskStatus};
use utoipa::ToSchema;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};

/// The state of one run: pending → running → success or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Pending,
    Running,
    Success,
    Failed,
}

impl From<TaskStatus> for RunStatus {
    fn from(status: TaskStatus) -> Self {
        match status {
            TaskStatus::Pending => Self::Pending,
            TaskStatus::Running => Self::Running,
            TaskStatus::Success => Self::Success,
            TaskStatus::Failed => Self::Failed,
        }
    }
}

/// The instrumentation that reported a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RunSource {
    Tasklens,
    Celery,
    Taskiq,
    Bullmq,
    Sidekiq,
    Messaging,
}

impl From<SourceSystem> for RunSource {
    fn from(source: SourceSystem) -> Self {
        match source {
            SourceSystem::Tasklens => Self::Tasklens,
            SourceSystem::Celery => Self::Celery,
            SourceSystem::Taskiq => Self::Taskiq,
            SourceSystem::Bullmq => Self::Bullmq,
            SourceSystem::Sidekiq => Self::Sidekiq,
            SourceSystem::Messaging => Self::Messaging,
        }
    }
}

/// A date or time query parameter (`start_date`, `end_date`), for the OpenAPI document only: the
/// values [`crate::params`] accepts, an RFC 3339 `full-date` or `date-time`.
#[derive(Debug, Clone, Copy)]
pub struct DateOrTime;

impl utoipa::PartialSchema for DateOrTime {
    fn schema() -> RefOr<Schema> {
        let string = |format, description: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(format)))
                .description(Some(description))
        };
        OneOfBuilder::new()
            .item(string(
                KnownFormat::Date,
                "A day, YYYY-MM-DD (UTC): from its midnight as a start, until the next one as an end",
            ))
            .item(string(
                KnownFormat::DateTime,
                "An RFC 3339 time with `Z` or an offset (an unencoded `+` of the offset, which \
                 a query string reads as a space, is taken as `+`)",
            ))
            .description(Some("An RFC 3339 date (YYYY-MM-DD) or date-time"))
            .into()
    }
}

impl ToSchema for DateOrTime {}
