//! The task-run store: the one place where tasklens reads and writes task runs.
//!
//! [`TaskStore`] is the interface every part of tasklens uses; [`PgStore`] implements it on
//! PostgreSQL, [`SqliteStore`] in an embedded SQLite file. The same test suite runs against both.
//! Every rule and fold that does not depend on the database is written once in `core/` and
//! `backend.rs`; a backend holds only its SQL, binds and row codecs.
//!
//! Architecture Invariant: every SQL statement of the project lives in this crate. Callers pass
//! typed values; nothing a client sends reaches SQL as text.

mod backend;
mod core;
mod error;
mod error_groups;
pub mod live;
mod maintenance;
mod postgres;
mod query;
mod runs;
mod sql;
mod sqlite;
mod task_store;

pub use crate::core::figures;
/// How spans exported at different times join (used by the collector's recognizer too).
pub mod joins {
    pub use crate::core::joins::{
        ErrorReport, JoinBatch, JoinRow, JoinedEvent, JoinedRun, KeyedBy, LoggedError, SpanRef,
        error_event,
    };
    pub use crate::core::joins_memory::{BoundedMap, MemoryJoins, WAITING_ERRORS_MAX};
}
pub use crate::core::stuck::{InFlightRun, StuckRun};
pub use error::StoreError;
pub use error_groups::{
    BucketCount, ErrorGroup, ErrorGroupDetail, ErrorGroupState, ErrorGroupSummary,
    UnknownGroupState,
};
pub use live::{LiveEvent, LiveSubscription, LiveUpdate, LocalLiveHub, NewErrorGroup};
pub use maintenance::{MaintenanceReport, RetentionPolicy, StorageStats};
pub use postgres::{PgStore, PgStoreOptions, redact_url};
pub use query::{
    HistoryPage, HistoryQuery, TaskMetrics, TimeseriesPoint, TimeseriesQuery, TimeseriesRange,
};
pub use runs::{AttemptSummary, RunChange, RunDetail, StoredRun, WriteOutcome};
pub use sqlite::{SqliteStore, SqliteStoreOptions};
pub use task_store::{IN_FLIGHT_SCAN, TaskStore};
