//! Error groups as the store reads them back (issue 15): one group per fingerprint, with its
//! failures over time from the group rollups.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::runs::StoredRun;

/// Where a group stands: new failures reopen a resolved group (as a regression); an ignored
/// group stays ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorGroupState {
    Open,
    Resolved,
    Ignored,
}

/// A state name other than `open`, `resolved` or `ignored`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown error group state {0:?} (expected open, resolved or ignored)")]
pub struct UnknownGroupState(pub String);

impl ErrorGroupState {
    pub const ALL: [ErrorGroupState; 3] = [Self::Open, Self::Resolved, Self::Ignored];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
            Self::Ignored => "ignored",
        }
    }
}

impl std::str::FromStr for ErrorGroupState {
    type Err = UnknownGroupState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownGroupState(s.to_owned()))
    }
}

/// One group's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorGroup {
    pub id: i64,
    pub task_name: String,
    /// The task type's service and environment, `None` where its runs do not say.
    pub service: Option<String>,
    pub environment: Option<String>,
    pub error_type: Option<String>,
    /// The newest failure's message and traceback.
    pub message: Option<String>,
    pub traceback: Option<String>,
    pub first_seen: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
    /// Failed runs in the group, ever (runs deleted by retention included).
    pub total: i64,
    pub state: ErrorGroupState,
    /// Reopened by a new failure after it was resolved.
    pub regression: bool,
    pub state_changed_at: DateTime<Utc>,
}

/// Failures in one rollup bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCount {
    pub bucket: DateTime<Utc>,
    pub count: i64,
}

/// A group seen in a window, with its failures there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorGroupSummary {
    pub group: ErrorGroup,
    /// Failures in the window's buckets.
    pub count: i64,
    /// First seen inside the window.
    pub is_new: bool,
    /// Every bucket of the window, oldest first, zeros included.
    pub buckets: Vec<BucketCount>,
}

/// A group with its latest runs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorGroupDetail {
    pub group: ErrorGroup,
    pub latest_runs: Vec<StoredRun>,
}
