//! Query parameters: parsed from the raw query string and checked here, so every refusal is the
//! API's JSON 400 naming the parameter. Pure functions; unknown parameters are ignored.
//!
//! What is accepted is exactly what the OpenAPI document says (schemathesis checks both ways):
//! an empty value is an absent parameter (`allowEmptyValue`), free text is trimmed after its
//! length is checked, and every other value is taken as sent, without trimming.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, TimeDelta, Timelike, Utc};
use tasklens_model::{Granularity, TaskStatus, TaskTypeFilter};
use tasklens_store::{HistoryQuery, TimeseriesQuery};

use crate::error::ApiError;

/// Longest time window, in hours (30 days: the default retention).
pub const MAX_WINDOW_HOURS: u32 = 720;
pub const DEFAULT_WINDOW_HOURS: u32 = 24;
/// Longest task name or free text accepted in a filter, in characters.
pub const MAX_TEXT_CHARS: usize = 500;

/// The decoded query string. A parameter given twice keeps its last value; an empty value counts
/// as absent (forms send `task_name=` for "any").
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct QueryParams(HashMap<String, String>);

impl QueryParams {
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .filter(|(_, value)| !value.is_empty());
        QueryParams(pairs.collect())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// An integer parameter within `min..=max`.
pub fn integer(
    params: &QueryParams,
    name: &'static str,
    min: u32,
    max: u32,
    default: u32,
) -> Result<u32, ApiError> {
    let Some(text) = params.get(name) else {
        return Ok(default);
    };
    let out_of_range = || {
        ApiError::invalid(
            name,
            format!("{name} must be between {min} and {max}, got {text}"),
        )
    };
    match text.parse::<i64>() {
        Ok(n) => u32::try_from(n)
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(out_of_range),
        // All digits but too long for i64: out of range too.
        Err(_)
            if text
                .trim_start_matches(['-', '+'])
                .chars()
                .all(|c| c.is_ascii_digit()) =>
        {
            Err(out_of_range())
        }
        Err(_) => Err(ApiError::invalid(
            name,
            format!("{name} must be an integer, got {text:?}"),
        )),
    }
}

/// `time_window` in hours, 1 to 720, default 24.
pub fn time_window(params: &QueryParams) -> Result<u32, ApiError> {
    integer(
        params,
        "time_window",
        1,
        MAX_WINDOW_HOURS,
        DEFAULT_WINDOW_HOURS,
    )
}

/// A free-text parameter, at most [`MAX_TEXT_CHARS`] characters as sent and without NUL (no
/// stored text has one: PostgreSQL refuses it); surrounding whitespace is then dropped, and only
/// whitespace counts as absent.
pub fn text(params: &QueryParams, name: &'static str) -> Result<Option<String>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(value) if value.chars().count() > MAX_TEXT_CHARS => Err(ApiError::invalid(
            name,
            format!(
                "{name} must be at most {MAX_TEXT_CHARS} characters, got {}",
                value.chars().count()
            ),
        )),
        Some(value) if value.contains('\0') => Err(ApiError::invalid(
            name,
            format!("{name} must not contain a NUL character (U+0000)"),
        )),
        Some(value) => Ok(Some(value.trim())
            .filter(|value| !value.is_empty())
            .map(str::to_owned)),
    }
}

/// The task types a read covers: `task_name`, `service` and `environment`, each optional.
/// The `service` and `environment` filters as the OpenAPI document describes them, for the
/// routes that take them (read by [`task_type`]).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[expect(
    dead_code,
    reason = "describes the parameters only; `task_type` parses them"
)]
pub struct ServiceParams {
    /// Only task types of this service (the worker's `service.name`; no NUL; trimmed)
    #[param(max_length = 500, pattern = "^[^\\x00]*$")]
    service: Option<String>,
    /// Only task types of this deployment environment (no NUL; trimmed)
    #[param(max_length = 500, pattern = "^[^\\x00]*$")]
    environment: Option<String>,
}

pub fn task_type(params: &QueryParams) -> Result<TaskTypeFilter, ApiError> {
    Ok(TaskTypeFilter {
        task_name: text(params, "task_name")?,
        service: text(params, "service")?,
        environment: text(params, "environment")?,
    })
}

pub fn status(params: &QueryParams) -> Result<Option<TaskStatus>, ApiError> {
    params
        .get("status")
        .map(|value| {
            value.parse::<TaskStatus>().map_err(|_| {
                ApiError::invalid(
                    "status",
                    format!(
                        "status must be one of pending, running, success, failed, got {value:?}"
                    ),
                )
            })
        })
        .transpose()
}

/// Which end of a range a date bounds: a plain date means its whole day, so as an (exclusive)
/// end it stands for the next midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Start,
    End,
}

/// A plain `YYYY-MM-DD` date (RFC 3339 `full-date`): four, two and two ASCII digits naming a real
/// day. Stricter than chrono's `%Y-%m-%d`, which also takes `2026-1-1`.
fn full_date(value: &str) -> Option<NaiveDate> {
    let bytes = value.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes[range].iter().try_fold(0u32, |n, b| {
            b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
        })
    };
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = i32::try_from(digits(0..4)?).ok()?;
    NaiveDate::from_ymd_opt(year, digits(5..7)?, digits(8..10)?)
}

/// An RFC 3339 `date-time`, exactly as JSON Schema's `format: date-time` takes it: `T` (or `t`)
/// between date and time, `Z`, `z` or a `+HH:MM`/`-HH:MM` offset, and a leap second (`:60`)
/// only at 23:59 UTC. chrono alone would also take a space separator, a Unicode minus sign in
/// the offset and a leap second in any minute.
fn date_time(value: &str) -> Option<DateTime<Utc>> {
    let bytes = value.as_bytes();
    if !value.is_ascii() || !matches!(bytes.get(10), Some(b'T' | b't')) {
        return None;
    }
    let time = DateTime::parse_from_rfc3339(value)
        .ok()?
        .with_timezone(&Utc);
    let leap_second = bytes.get(17..19) == Some(b"60".as_slice());
    if leap_second && (time.hour(), time.minute()) != (23, 59) {
        return None;
    }
    Some(time)
}

/// A date or a time parameter as sent: the time it names, and whether it was a plain date.
fn date_or_time(value: &str) -> Option<(DateTime<Utc>, bool)> {
    if let Some(day) = full_date(value) {
        return Some((day.and_time(chrono::NaiveTime::MIN).and_utc(), true));
    }
    if let Some(time) = date_time(value) {
        return Some((time, false));
    }
    // An unencoded `+02:00` offset arrives as ` 02:00` (a `+` in a query string is a space).
    let (time, offset) = value.rsplit_once(' ')?;
    date_time(&format!("{time}+{offset}")).map(|time| (time, false))
}

/// An RFC 3339 time, or a `YYYY-MM-DD` date (UTC midnight; the next midnight as an end).
pub fn date(
    params: &QueryParams,
    name: &'static str,
    bound: Bound,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(value) = params.get(name) else {
        return Ok(None);
    };
    let invalid = || {
        ApiError::invalid(
            name,
            format!("{name} must be an RFC 3339 time or a YYYY-MM-DD date, got {value:?}"),
        )
    };
    let (time, is_day) = date_or_time(value).ok_or_else(invalid)?;
    if is_day && bound == Bound::End {
        return time
            .checked_add_days(chrono::Days::new(1))
            .map(Some)
            .ok_or_else(invalid);
    }
    Ok(Some(time))
}

/// `error_group`: a group id, a positive integer.
fn error_group(params: &QueryParams) -> Result<Option<i64>, ApiError> {
    params
        .get("error_group")
        .map(|value| {
            value
                .parse::<i64>()
                .ok()
                .filter(|id| *id >= 1)
                .ok_or_else(|| {
                    ApiError::invalid(
                        "error_group",
                        format!("error_group must be a positive integer, got {value:?}"),
                    )
                })
        })
        .transpose()
}

/// The history query of a request.
pub fn history(params: &QueryParams) -> Result<HistoryQuery, ApiError> {
    let task_type = task_type(params)?;
    let query = HistoryQuery {
        task_name: task_type.task_name,
        service: task_type.service,
        environment: task_type.environment,
        status: status(params)?,
        start: date(params, "start_date", Bound::Start)?,
        end: date(params, "end_date", Bound::End)?,
        text: text(params, "q")?,
        error_group: error_group(params)?,
        page: integer(params, "page", 1, u32::MAX / 2, 1)?,
        page_size: integer(params, "page_size", 1, HistoryQuery::MAX_PAGE_SIZE, 50)?,
    };
    // A plain end date stands for its whole day: a start on the next midnight is after it.
    let end_is_a_day = params
        .get("end_date")
        .is_some_and(|value| full_date(value).is_some());
    if let (Some(start), Some(end)) = (query.start, query.end)
        && (start > end || (end_is_a_day && start >= end))
    {
        return Err(ApiError::invalid(
            "start_date",
            format!(
                "start_date ({}) must not be after end_date ({})",
                params.get("start_date").unwrap_or_default(),
                params.get("end_date").unwrap_or_default()
            ),
        ));
    }
    Ok(query)
}

/// The timeseries query of a request at `now`: buckets from the start of the window's first
/// bucket until now, their size following the window's length.
pub fn timeseries(
    params: &QueryParams,
    now: DateTime<Utc>,
) -> Result<(TimeseriesQuery, Granularity), ApiError> {
    let hours = time_window(params)?;
    let window = TimeDelta::hours(i64::from(hours));
    let granularity = TimeseriesQuery::granularity_for(window);
    let query = TimeseriesQuery {
        start: granularity.floor(now - window),
        end: Some(now),
        task_type: task_type(params)?,
        granularity: Some(granularity),
    };
    Ok((query, granularity))
}

/// A run id from the path.
pub fn run_id(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| {
            ApiError::invalid("id", format!("id must be a positive integer, got {text:?}"))
        })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn parsed(raw: &str) -> QueryParams {
        QueryParams::parse(Some(raw))
    }

    fn refused(result: Result<impl std::fmt::Debug, ApiError>) -> (&'static str, String) {
        match result {
            Err(ApiError::InvalidParameter { parameter, message }) => (parameter, message),
            other => panic!("expected an invalid parameter, got {other:?}"),
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s)
            .single()
            .expect("valid")
    }

    #[test]
    fn time_windows() {
        let cases: &[(&str, Result<u32, &str>)] = &[
            ("", Ok(24)),
            ("time_window=", Ok(24)),
            ("time_window=1", Ok(1)),
            ("time_window=48", Ok(48)),
            ("time_window=720", Ok(720)),
            ("time_window=%2B5", Ok(5)),
            ("time_window=007", Ok(7)),
            // Taken as sent: a raw `+` is a space, and spaces are not trimmed from numbers.
            ("time_window=+5", Err("must be an integer, got \" 5\"")),
            ("time_window=5%20", Err("must be an integer, got \"5 \"")),
            ("time_window=0", Err("between 1 and 720, got 0")),
            ("time_window=721", Err("between 1 and 720, got 721")),
            ("time_window=-3", Err("between 1 and 720, got -3")),
            ("time_window=99999999999999999999", Err("between 1 and 720")),
            ("time_window=abc", Err("must be an integer, got \"abc\"")),
            ("time_window=1.5", Err("must be an integer")),
            ("other=1&time_window=2", Ok(2)),
            ("time_window=3&time_window=4", Ok(4)),
        ];
        for (raw, expected) in cases {
            match (time_window(&parsed(raw)), expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{raw}"),
                (got, Err(want)) => {
                    let (parameter, message) = refused(got);
                    assert_eq!(parameter, "time_window", "{raw}");
                    assert!(message.contains(want), "{raw}: {message}");
                }
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn dates() {
        type Case = (&'static str, Bound, Result<Option<DateTime<Utc>>, ()>);
        let cases: &[Case] = &[
            ("", Bound::Start, Ok(None)),
            (
                "d=2026-11-28",
                Bound::Start,
                Ok(Some(utc(2026, 11, 28, 0, 0, 0))),
            ),
            (
                "d=2026-11-28",
                Bound::End,
                Ok(Some(utc(2026, 11, 29, 0, 0, 0))),
            ),
            (
                "d=2026-12-31",
                Bound::End,
                Ok(Some(utc(2027, 1, 1, 0, 0, 0))),
            ),
            (
                "d=2026-11-28T10:30:00Z",
                Bound::End,
                Ok(Some(utc(2026, 11, 28, 10, 30, 0))),
            ),
            (
                "d=2026-11-28T10:30:00%2B02:00",
                Bound::Start,
                Ok(Some(utc(2026, 11, 28, 8, 30, 0))),
            ),
            ("d=invalid", Bound::Start, Err(())),
            ("d=2026-13-01", Bound::Start, Err(())),
            ("d=2026-02-30", Bound::End, Err(())),
            (
                "d=2026-11-28T10:30:00+02:00",
                Bound::Start,
                Ok(Some(utc(2026, 11, 28, 8, 30, 0))),
            ),
            ("d=28/11/2026", Bound::Start, Err(())),
            ("d=2026-11-28T10:30:00", Bound::Start, Err(())),
            // Exactly `format: date` or `format: date-time`, nothing chrono would also take.
            ("d=2026-1-1", Bound::Start, Err(())),
            ("d=%202026-11-28", Bound::Start, Err(())),
            ("d=2026-11-28%20", Bound::Start, Err(())),
            ("d=%2B2026-11-28", Bound::Start, Err(())),
            ("d=2026-11-28%2010:30:00Z", Bound::Start, Err(())),
            ("d=2026-11-28T10:30:00%E2%88%9202:00", Bound::Start, Err(())),
            ("d=2026-11-28T10:30:00%2B0200", Bound::Start, Err(())),
            ("d=2026-11-28T10:30:00%2B24:00", Bound::Start, Err(())),
            ("d=2026-11-28T10:30:00.Z", Bound::Start, Err(())),
            ("d=2026-11-28T10:30:60Z", Bound::Start, Err(())),
            ("d=2026-11-28T23:59:60%2B01:00", Bound::Start, Err(())),
            (
                "d=2026-11-28t10:30:00.5z",
                Bound::Start,
                Ok(Some(
                    utc(2026, 11, 28, 10, 30, 0) + TimeDelta::milliseconds(500),
                )),
            ),
            (
                "d=2026-12-31T22:59:60-01:00",
                Bound::Start,
                Ok(utc(2026, 12, 31, 23, 59, 59).with_nanosecond(1_000_000_000)),
            ),
            (
                "d=9999-12-31",
                Bound::End,
                Ok(Some(utc(10000, 1, 1, 0, 0, 0))),
            ),
            (
                "d=0000-01-01T00:00:00%2B23:59",
                Bound::Start,
                Ok(Some(utc(-1, 12, 31, 0, 1, 0))),
            ),
        ];
        for (raw, bound, expected) in cases {
            let got = date(&parsed(raw), "d", *bound);
            match (got, expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, *want, "{raw}"),
                (got, Err(())) => {
                    let (parameter, message) = refused(got);
                    assert_eq!(parameter, "d");
                    assert!(
                        message.contains("RFC 3339 time or a YYYY-MM-DD date"),
                        "{message}"
                    );
                }
                (got, want) => panic!("{raw}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn history_queries() {
        let query = history(&parsed(
            "task_name=score_message&status=failed&start_date=2026-11-01&end_date=2026-11-02\
             &q=rate+limit&error_group=7&page=3&page_size=200&unknown=x&service=scoring\
             &environment=+prod+",
        ))
        .expect("valid");
        assert_eq!(
            query,
            HistoryQuery {
                task_name: Some("score_message".into()),
                service: Some("scoring".into()),
                environment: Some("prod".into()),
                status: Some(TaskStatus::Failed),
                start: Some(utc(2026, 11, 1, 0, 0, 0)),
                end: Some(utc(2026, 11, 3, 0, 0, 0)),
                text: Some("rate limit".into()),
                error_group: Some(7),
                page: 3,
                page_size: 200,
            }
        );
        assert_eq!(
            history(&parsed("")).expect("valid"),
            HistoryQuery::default()
        );
        // The same day as start and end is that whole day.
        let day = history(&parsed("start_date=2026-11-01&end_date=2026-11-01")).expect("valid");
        assert_eq!(day.end, Some(utc(2026, 11, 2, 0, 0, 0)));
        // An instant equal to an instant end is an empty range, not a start after its end.
        let instant = "start_date=2026-11-01T10:00:00Z&end_date=2026-11-01T10:00:00Z";
        assert!(history(&parsed(instant)).is_ok());

        let refusals: &[(&str, &str, &str)] = &[
            (
                "status=done",
                "status",
                "one of pending, running, success, failed",
            ),
            ("status=FAILED", "status", "got \"FAILED\""),
            ("page=0", "page", "between 1 and"),
            ("page=x", "page", "must be an integer"),
            ("page_size=0", "page_size", "between 1 and 200"),
            ("page_size=201", "page_size", "between 1 and 200"),
            ("start_date=invalid", "start_date", "got \"invalid\""),
            ("end_date=2026-1-1x", "end_date", "YYYY-MM-DD"),
            (
                "start_date=2026-11-03&end_date=2026-11-01",
                "start_date",
                "must not be after end_date",
            ),
            (
                "start_date=2026-11-01T12:00:00Z&end_date=2026-11-01T11:00:00Z",
                "start_date",
                "must not be after",
            ),
        ];
        for (raw, parameter, needle) in refusals {
            let (got, message) = refused(history(&parsed(raw)));
            assert_eq!(got, *parameter, "{raw}");
            assert!(message.contains(needle), "{raw}: {message}");
        }
        let long = format!("q={}", "x".repeat(MAX_TEXT_CHARS + 1));
        assert_eq!(refused(history(&parsed(&long))).0, "q");
        // The length is the value's as sent, before trimming.
        let padded = format!("q={}+", "x".repeat(MAX_TEXT_CHARS));
        assert_eq!(refused(history(&parsed(&padded))).0, "q");
        for raw in ["task_name=a%00b", "q=%00"] {
            let (parameter, message) = refused(history(&parsed(raw)));
            assert!(raw.starts_with(parameter), "{raw}");
            assert!(message.contains("NUL"), "{message}");
        }
        let trimmed = history(&parsed("task_name=+score_message+&q=%20%09")).expect("valid");
        assert_eq!(trimmed.task_name.as_deref(), Some("score_message"));
        assert_eq!(trimmed.text, None);
        // Status, page and size are taken as sent.
        for raw in ["status=failed+", "page=%201", "page_size=10%20"] {
            assert!(history(&parsed(raw)).is_err(), "{raw}");
        }
    }

    #[test]
    fn timeseries_bucket_size_follows_the_window() {
        let now = utc(2026, 11, 28, 12, 34, 56);
        let cases = [
            (
                "time_window=1",
                Granularity::Minute,
                utc(2026, 11, 28, 11, 34, 0),
            ),
            (
                "time_window=6",
                Granularity::Minute,
                utc(2026, 11, 28, 6, 34, 0),
            ),
            (
                "time_window=7",
                Granularity::Hour,
                utc(2026, 11, 28, 5, 0, 0),
            ),
            ("", Granularity::Hour, utc(2026, 11, 27, 12, 0, 0)),
            (
                "time_window=168",
                Granularity::Hour,
                utc(2026, 11, 21, 12, 0, 0),
            ),
            (
                "time_window=169",
                Granularity::Day,
                utc(2026, 11, 21, 0, 0, 0),
            ),
            (
                "time_window=720",
                Granularity::Day,
                utc(2026, 10, 29, 0, 0, 0),
            ),
        ];
        for (raw, granularity, start) in cases {
            let (query, got) = timeseries(&parsed(raw), now).expect("valid");
            assert_eq!(got, granularity, "{raw}");
            assert_eq!(query.start, start, "{raw}");
            assert_eq!(query.end, Some(now));
        }
        assert_eq!(
            refused(timeseries(&parsed("time_window=0"), now)).0,
            "time_window"
        );
    }

    #[test]
    fn run_ids() {
        assert_eq!(run_id("42"), Ok(42));
        for bad in ["0", "-1", "abc", "1.0", "99999999999999999999", ""] {
            assert_eq!(refused(run_id(bad)).0, "id", "{bad}");
        }
    }
}
