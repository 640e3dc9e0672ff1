//! The closed vocabularies of a task run: its status and the system it came from.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The state of one run.
///
/// The declaration order is the merge order: a run only moves forward
/// (pending < running < success < failed), so a late "running" never overwrites a finished run.
/// `failed` ranks above `success` only to make conflicting reports for one attempt resolve the
/// same way in every order; the safer of the two is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Running,
    Success,
    Failed,
}

impl TaskStatus {
    pub const ALL: [TaskStatus; 4] = [Self::Pending, Self::Running, Self::Success, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Success => "success",
            Self::Failed => "failed",
        }
    }

    /// Position in [`TaskStatus::ALL`], used to index per-status counters.
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Success | Self::Failed)
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A value outside a closed vocabulary, with the values that are allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}: expected one of {allowed}")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
    pub allowed: &'static str,
}

impl FromStr for TaskStatus {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseEnumError {
                what: "status",
                value: s.to_owned(),
                allowed: "pending, running, success, failed",
            })
    }
}

/// Which instrumentation reported a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceSystem {
    /// This project's own instrumentation crate.
    Tasklens,
    Celery,
    Taskiq,
    Bullmq,
    Sidekiq,
    /// Any system following the OpenTelemetry messaging semantic conventions.
    Messaging,
}

impl SourceSystem {
    pub const ALL: [SourceSystem; 6] = [
        Self::Tasklens,
        Self::Celery,
        Self::Taskiq,
        Self::Bullmq,
        Self::Sidekiq,
        Self::Messaging,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tasklens => "tasklens",
            Self::Celery => "celery",
            Self::Taskiq => "taskiq",
            Self::Bullmq => "bullmq",
            Self::Sidekiq => "sidekiq",
            Self::Messaging => "messaging",
        }
    }
}

impl fmt::Display for SourceSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SourceSystem {
    type Err = ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|source| source.as_str() == s)
            .ok_or_else(|| ParseEnumError {
                what: "source system",
                value: s.to_owned(),
                allowed: "tasklens, celery, taskiq, bullmq, sidekiq, messaging",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in TaskStatus::ALL {
            assert_eq!(status.as_str().parse::<TaskStatus>(), Ok(status));
        }
        for source in SourceSystem::ALL {
            assert_eq!(source.as_str().parse::<SourceSystem>(), Ok(source));
        }
    }

    #[test]
    fn an_unknown_status_names_the_allowed_values() {
        let err = "done".parse::<TaskStatus>().expect_err("not a status");
        assert_eq!(
            err.to_string(),
            "unknown status \"done\": expected one of pending, running, success, failed"
        );
    }

    #[test]
    fn status_order_is_the_lifecycle() {
        assert!(TaskStatus::Pending < TaskStatus::Running);
        assert!(TaskStatus::Running < TaskStatus::Success);
        assert!(TaskStatus::Success < TaskStatus::Failed);
    }
}
