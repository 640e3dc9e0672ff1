//! Free-text history on PostgreSQL: a newest-first walk over growing time windows, so a common
//! word fills its page (and the count cap) within the newest day instead of sorting a month of
//! matches. PostgreSQL's own strategy; the embedded store searches in one query.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::{PgPool, QueryBuilder, Row};
use tasklens_model::Granularity;

use super::rows::Pg;
use crate::error::StoreError;
use crate::query::{HistoryPage, HistoryQuery};
use crate::runs::StoredRun;
use crate::sql::{self, Dialect, codec};

/// A time window `[from, to)` of a search; `None` is unbounded on that side.
type SearchWindow = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// The windows a newest-first search walks until it has enough rows: the day holding the
/// newest moment of `[start, end)` (unbounded above without `end`, so future-dated rows count),
/// then the 1, 2, 4 and 8 days before it, then everything older. A common match fills its page
/// within the newest day instead of sorting a month of matches; a rare one costs at most six
/// queries. The windows are disjoint, newest first, and together cover `[start, end)`.
fn search_windows(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<SearchWindow> {
    let newest = end.map_or(now, |end| end - TimeDelta::microseconds(1));
    let mut boundary = Granularity::Day.floor(newest);
    let mut to = end;
    let mut span = TimeDelta::days(1);
    let mut windows = Vec::with_capacity(6);
    for _ in 0..5 {
        if let Some(start) = start
            && start >= boundary
        {
            windows.push((Some(start), to));
            return windows;
        }
        windows.push((Some(boundary), to));
        to = Some(boundary);
        boundary -= span;
        span = span * 2;
    }
    windows.push((start, to));
    windows
}

/// A free-text page: walks [`search_windows`] newest first, collecting the matches' keys until
/// the page and the count cap are covered, then reads the page's rows.
pub(super) async fn text_history(
    pool: &PgPool,
    query: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    let page_size = usize::try_from(query.page_size).unwrap_or(usize::MAX);
    let offset = usize::try_from(query.offset()).unwrap_or(usize::MAX);
    let cap = usize::try_from(HistoryQuery::TEXT_COUNT_CAP).unwrap_or(usize::MAX);
    let wanted = offset.saturating_add(page_size).max(cap + 1);
    let mut keys: Vec<(i64, DateTime<Utc>)> = Vec::new();
    for (from, to) in search_windows(query.start, query.end, Utc::now()) {
        let mut qb = QueryBuilder::new("SELECT id, created_at FROM task_execution_logs");
        sql::push_history_filters::<Pg>(&mut qb, query);
        if let Some(from) = from {
            qb.push(" AND created_at >= ");
            Pg::push_time(&mut qb, from);
        }
        if let Some(to) = to {
            qb.push(" AND created_at < ");
            Pg::push_time(&mut qb, to);
        }
        let limit = i64::try_from(wanted - keys.len()).unwrap_or(i64::MAX);
        sql::push_newest_first::<Pg>(&mut qb, limit, 0);
        for row in qb.build().fetch_all(pool).await? {
            keys.push((row.try_get("id")?, row.try_get("created_at")?));
        }
        if keys.len() >= wanted {
            break;
        }
    }
    let total = if keys.len() > cap {
        (HistoryQuery::TEXT_COUNT_CAP, false)
    } else {
        (i64::try_from(keys.len()).unwrap_or(i64::MAX), true)
    };
    let page_keys = keys
        .get(offset..keys.len().min(offset.saturating_add(page_size)))
        .unwrap_or_default();
    let items = page_rows(pool, page_keys).await?;
    Ok(HistoryPage::of(query, items, total))
}

/// The rows of a page of keys, newest first; the time bounds let PostgreSQL read only the
/// partitions the page lies in.
async fn page_rows(
    pool: &PgPool,
    page_keys: &[(i64, DateTime<Utc>)],
) -> Result<Vec<StoredRun>, StoreError> {
    let (Some(newest), Some(oldest)) = (page_keys.first(), page_keys.last()) else {
        return Ok(Vec::new());
    };
    let ids: Vec<i64> = page_keys.iter().map(|(id, _)| *id).collect();
    let sql = format!(
        "SELECT {} FROM task_execution_logs \
         WHERE id = ANY($1) AND created_at >= $2 AND created_at <= $3 \
         ORDER BY created_at DESC, id DESC",
        Pg::RUN_COLUMNS
    );
    let rows = sqlx::query(&sql)
        .bind(ids)
        .bind(oldest.1)
        .bind(newest.1)
        .fetch_all(pool)
        .await?;
    rows.iter().map(codec::stored_run::<Pg>).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_windows_grow_back_from_the_newest_day() {
        let t = |s: &str| s.parse::<DateTime<Utc>>().expect("time");
        let day = |d: u32| Some(t(&format!("2026-11-{d:02}T00:00:00Z")));
        let now = t("2026-11-29T10:30:00Z");
        // No bounds: today open-ended, then 1, 2, 4, 8 days, then everything older.
        assert_eq!(
            search_windows(None, None, now),
            vec![
                (day(29), None),
                (day(28), day(29)),
                (day(26), day(28)),
                (day(22), day(26)),
                (day(14), day(22)),
                (None, day(14)),
            ]
        );
        // A start inside the walk ends it there.
        assert_eq!(
            search_windows(Some(t("2026-11-27T06:00:00Z")), None, now),
            vec![
                (day(29), None),
                (day(28), day(29)),
                (Some(t("2026-11-27T06:00:00Z")), day(28)),
            ]
        );
        // An end (exclusive) at midnight: the walk starts with the day before it.
        assert_eq!(
            search_windows(day(1), day(20), now),
            vec![
                (day(19), day(20)),
                (day(18), day(19)),
                (day(16), day(18)),
                (day(12), day(16)),
                (day(4), day(12)),
                (day(1), day(4)),
            ]
        );
        // A range within one day is one window.
        let (from, to) = (t("2026-11-20T01:00:00Z"), t("2026-11-20T02:00:00Z"));
        assert_eq!(
            search_windows(Some(from), Some(to), now),
            vec![(Some(from), Some(to))]
        );
    }

    #[test]
    fn search_windows_are_disjoint_and_cover_the_range() {
        let now = "2026-11-29T10:30:00Z"
            .parse::<DateTime<Utc>>()
            .expect("time");
        for start_days in [None, Some(0), Some(1), Some(3), Some(40)] {
            for end_days in [None, Some(0), Some(2), Some(9)] {
                let start = start_days.map(|d| now - TimeDelta::days(d) - TimeDelta::hours(5));
                let end = end_days.map(|d| now - TimeDelta::days(d));
                if let (Some(s), Some(e)) = (start, end)
                    && s >= e
                {
                    continue;
                }
                let windows = search_windows(start, end, now);
                assert_eq!(
                    windows[0].1, end,
                    "the first window ends at the range's end"
                );
                assert_eq!(
                    windows.last().map(|w| w.0),
                    Some(start),
                    "the last starts at its start"
                );
                for pair in windows.windows(2) {
                    assert_eq!(pair[1].1, pair[0].0, "adjacent, newest first");
                    assert!(pair[1].0.is_some_and(|f| Some(f) < pair[1].1) || pair[1].0.is_none());
                }
                assert!(windows.len() <= 6);
            }
        }
    }
}
