//! The task-run model of tasklens, shared by every crate.
//!
//! A task run is identified by its [`RunKey`] (source system, task id, attempt) and reaches
//! tasklens as several [`TaskRunEvent`]s (enqueued, started, finished), possibly out of order and
//! possibly more than once. [`RunState::merge`] is the one rule that folds them into the row the
//! store keeps; it is a join (commutative, associative, idempotent), so the row converges to the
//! same state whatever the order or duplication of events.
//!
//! Architecture Invariant: this crate does no I/O. It holds the rules (merge, validation, size
//! caps, histogram bins, time-bucket plans) so they can be tested with tables and properties, and
//! so every store backend applies the same ones.

pub mod conventions;
pub mod fingerprint;
pub mod histogram;
pub mod limits;
pub mod redact;
pub mod rollup;
pub mod run;
pub mod status;
pub mod stuck;
pub mod task_type;
pub mod window;

pub use fingerprint::{FINGERPRINT_VERSION, Fingerprint, fingerprint, normalize_message};
pub use histogram::Histogram;
pub use redact::Redactor;
pub use rollup::{Contribution, RollupChanges, RollupFigures, RollupKey};
pub use run::{RuleViolation, RunKey, RunState, TaskRunEvent, ValidationRule};
pub use status::{ParseEnumError, SourceSystem, TaskStatus};
pub use stuck::{RecentP99, StuckRule, StuckThresholds, ThresholdSource};
pub use task_type::{TaskType, TaskTypeFilter};
pub use window::{BucketSpan, Granularity, WindowPiece};
