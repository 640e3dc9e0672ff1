//! What the dashboard asks the store, the rules every backend applies to those questions, and
//! the answers.

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;
use tasklens_model::{Granularity, TaskStatus, TaskTypeFilter};

use crate::error::StoreError;
use crate::runs::StoredRun;

/// Figures of one task type over a window (the REST contract's metrics plus percentiles).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskMetrics {
    pub task_name: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub total_executions: i64,
    pub pending: i64,
    pub running: i64,
    pub success: i64,
    pub failed: i64,
    /// Mean duration of finished runs; `None` when none finished.
    pub avg_duration_ms: Option<f64>,
    /// Percent of all runs that succeeded, two decimals.
    pub success_rate: f64,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
    pub p99_duration_ms: Option<f64>,
    pub avg_queue_wait_ms: Option<f64>,
    pub p50_queue_wait_ms: Option<f64>,
    pub p95_queue_wait_ms: Option<f64>,
    pub p99_queue_wait_ms: Option<f64>,
}

/// Filters of the history page. Times apply to `created_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    pub task_name: Option<String>,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub status: Option<TaskStatus>,
    /// Inclusive.
    pub start: Option<DateTime<Utc>>,
    /// Exclusive.
    pub end: Option<DateTime<Utc>>,
    /// Free text: a task id (exact or prefix) or a part of an error message, case-insensitive.
    pub text: Option<String>,
    /// Only the runs of this error group.
    pub error_group: Option<i64>,
    /// From 1.
    pub page: u32,
    pub page_size: u32,
}

impl Default for HistoryQuery {
    fn default() -> Self {
        HistoryQuery {
            task_name: None,
            service: None,
            environment: None,
            status: None,
            start: None,
            end: None,
            text: None,
            error_group: None,
            page: 1,
            page_size: 50,
        }
    }
}

impl HistoryQuery {
    pub const MAX_PAGE_SIZE: u32 = 200;
    /// A free-text search counts its matches up to this many: counting every match of a common
    /// word over 30 days reads hundreds of thousands of rows, and nobody pages that far.
    pub const TEXT_COUNT_CAP: i64 = 1000;

    /// Checks the arguments; the store refuses a query that fails here.
    pub fn validate(&self) -> Result<(), StoreError> {
        self.check().map_err(StoreError::InvalidQuery)
    }

    fn check(&self) -> Result<(), String> {
        if self.page < 1 {
            return Err("page must be at least 1".into());
        }
        if !(1..=Self::MAX_PAGE_SIZE).contains(&self.page_size) {
            return Err(format!(
                "page_size must be between 1 and {}",
                Self::MAX_PAGE_SIZE
            ));
        }
        if let (Some(start), Some(end)) = (self.start, self.end)
            && start > end
        {
            return Err("start must not be after end".into());
        }
        Ok(())
    }
    /// The free text to search for, trimmed; `None` when there is none.
    pub fn free_text(&self) -> Option<&str> {
        self.text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
    }

    /// Rows to skip before the page.
    /// The task types the history covers.
    pub fn task_type(&self) -> TaskTypeFilter {
        TaskTypeFilter {
            task_name: self.task_name.clone(),
            service: self.service.clone(),
            environment: self.environment.clone(),
        }
    }

    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.page_size)
    }
}

/// Escapes LIKE wildcards so free text matches literally (backslash is the escape character on
/// both backends).
pub(crate) fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The LIKE pattern of values containing `text`.
pub(crate) fn contains_pattern(text: &str) -> String {
    format!("%{}%", like_escape(text))
}

/// The LIKE pattern of values starting with `text`.
pub(crate) fn prefix_pattern(text: &str) -> String {
    format!("{}%", like_escape(text))
}

/// One page of history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// Matching runs. Exact, except for a free-text search with more than
    /// [`HistoryQuery::TEXT_COUNT_CAP`] matches, where it is the cap (see `total_is_exact`).
    pub total_count: i64,
    /// False when `total_count` is the free-text cap: "at least this many".
    pub total_is_exact: bool,
    pub page: u32,
    pub page_size: u32,
    pub items: Vec<StoredRun>,
}

impl HistoryPage {
    /// The page `query` asked for, holding `items`, with the count of all matches.
    pub fn of(query: &HistoryQuery, items: Vec<StoredRun>, total: (i64, bool)) -> Self {
        let (total_count, total_is_exact) = total;
        HistoryPage {
            total_count,
            total_is_exact,
            page: query.page,
            page_size: query.page_size,
            items,
        }
    }

    pub fn total_pages(&self) -> i64 {
        let size = i64::from(self.page_size.max(1));
        (self.total_count + size - 1) / size
    }
}

/// Which buckets a chart reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeseriesQuery {
    pub start: DateTime<Utc>,
    /// Exclusive; `None` for "until now".
    pub end: Option<DateTime<Utc>>,
    pub task_type: TaskTypeFilter,
    /// `None`: chosen from the window's length by [`TimeseriesQuery::granularity_for`].
    pub granularity: Option<Granularity>,
}

impl TimeseriesQuery {
    /// Minute buckets up to 6 hours, hour buckets up to 7 days, day buckets beyond: a chart
    /// gets between a few dozen and a few hundred points.
    pub fn granularity_for(window: TimeDelta) -> Granularity {
        if window <= TimeDelta::hours(6) {
            Granularity::Minute
        } else if window <= TimeDelta::days(7) {
            Granularity::Hour
        } else {
            Granularity::Day
        }
    }
}

/// The rollup rows a chart reads: buckets of one size from `from` (aligned) up to `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeseriesRange {
    pub granularity: Granularity,
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
}

impl TimeseriesQuery {
    /// The buckets this query reads, with "until now" taken as `now`; refused when the window
    /// is empty.
    pub fn resolve(&self, now: DateTime<Utc>) -> Result<TimeseriesRange, StoreError> {
        let to = self.end.unwrap_or(now);
        if self.start >= to {
            return Err(StoreError::InvalidQuery("start must be before end".into()));
        }
        let granularity = self
            .granularity
            .unwrap_or_else(|| Self::granularity_for(to - self.start));
        Ok(TimeseriesRange {
            granularity,
            from: granularity.floor(self.start),
            to,
        })
    }
}

/// Figures of one task type in one bucket.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimeseriesPoint {
    pub bucket: DateTime<Utc>,
    pub task_name: String,
    pub service: Option<String>,
    pub environment: Option<String>,
    pub pending: i64,
    pub running: i64,
    pub success: i64,
    pub failed: i64,
    pub p50_duration_ms: Option<f64>,
    pub p95_duration_ms: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_match_literally() {
        assert_eq!(like_escape("100%_done\\"), "100\\%\\_done\\\\");
        assert_eq!(contains_pattern("a%"), "%a\\%%");
        assert_eq!(prefix_pattern("t_1"), "t\\_1%");
    }

    #[test]
    fn free_text_is_trimmed_and_blank_is_none() {
        let query = |text: &str| HistoryQuery {
            text: Some(text.into()),
            ..HistoryQuery::default()
        };
        assert_eq!(query("  rate limit ").free_text(), Some("rate limit"));
        assert_eq!(query("   ").free_text(), None);
        assert_eq!(HistoryQuery::default().free_text(), None);
    }

    #[test]
    fn a_timeseries_window_resolves_to_aligned_buckets_or_is_refused() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let query = TimeseriesQuery {
            start: t("2026-11-29T10:30:20Z"),
            end: None,
            task_type: TaskTypeFilter::default(),
            granularity: None,
        };
        let range = query.resolve(t("2026-11-29T12:00:00Z")).expect("valid");
        assert_eq!(range.granularity, Granularity::Minute);
        assert_eq!(range.from, t("2026-11-29T10:30:00Z"));
        assert_eq!(range.to, t("2026-11-29T12:00:00Z"));
        let err = query
            .resolve(t("2026-11-29T10:00:00Z"))
            .expect_err("empty window");
        assert!(
            err.to_string().contains("start must be before end"),
            "{err}"
        );
    }
}
