//! Vocabularies shared by the REST answers and the live messages, as they appear in JSON.

use serde::{Deserialize, Serialize};
use tasklens_model::{SourceSystem, TaskStatus};
use utoipa::ToSchema;

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
