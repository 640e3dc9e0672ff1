//! Splitting a time range into rollup buckets, so a query over days reads a few rollup rows
//! instead of raw rows.
//!
//! `[start, end)` becomes: raw rows up to the first whole minute, minute buckets up to the first
//! whole hour, hour buckets up to the first whole day, day buckets, then the same steps down at
//! the end. Every piece is aligned, so the sum over the pieces is exact, not an approximation.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// The size of a rollup bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Granularity {
    Minute,
    Hour,
    Day,
}

impl Granularity {
    pub const ALL: [Granularity; 3] = [Self::Minute, Self::Hour, Self::Day];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Minute => "minute",
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }

    pub fn step(self) -> TimeDelta {
        match self {
            Self::Minute => TimeDelta::minutes(1),
            Self::Hour => TimeDelta::hours(1),
            Self::Day => TimeDelta::days(1),
        }
    }

    /// The start of the bucket holding `ts` (UTC).
    pub fn floor(self, ts: DateTime<Utc>) -> DateTime<Utc> {
        ts.duration_trunc(self.step()).unwrap_or(ts)
    }

    /// The first bucket boundary at or after `ts`.
    pub fn ceil(self, ts: DateTime<Utc>) -> DateTime<Utc> {
        let floor = self.floor(ts);
        if floor == ts { ts } else { floor + self.step() }
    }
}

/// Buckets of one granularity whose start lies in `[from, to)`; `to: None` means no end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketSpan {
    pub granularity: Granularity,
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
}

/// One piece of a split range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPiece {
    /// Too short for a bucket: read raw rows with `from <= created_at < to`.
    Raw {
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    Buckets(BucketSpan),
}

/// Splits `[start, end)` (`end: None` for "until now and beyond") into aligned pieces.
pub fn split(start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> Vec<WindowPiece> {
    use Granularity::{Day, Hour, Minute};
    let mut pieces = Vec::new();
    let push_raw = |pieces: &mut Vec<WindowPiece>, from: DateTime<Utc>, to| {
        if from < to {
            pieces.push(WindowPiece::Raw { from, to });
        }
    };
    let push_buckets = |pieces: &mut Vec<WindowPiece>, granularity, from, to: DateTime<Utc>| {
        if from < to {
            pieces.push(WindowPiece::Buckets(BucketSpan {
                granularity,
                from,
                to: Some(to),
            }));
        }
    };
    let m1 = Minute.ceil(start);
    let h1 = Hour.ceil(m1);
    let d1 = Day.ceil(h1);
    let Some(end) = end else {
        push_raw(&mut pieces, start, m1);
        push_buckets(&mut pieces, Minute, m1, h1);
        push_buckets(&mut pieces, Hour, h1, d1);
        pieces.push(WindowPiece::Buckets(BucketSpan {
            granularity: Day,
            from: d1,
            to: None,
        }));
        return pieces;
    };
    if end <= start {
        return pieces;
    }
    let (m2, h2, d2) = (Minute.floor(end), Hour.floor(end), Day.floor(end));
    if m1 >= m2 {
        push_raw(&mut pieces, start, end);
        return pieces;
    }
    push_raw(&mut pieces, start, m1);
    if h1 >= h2 {
        push_buckets(&mut pieces, Minute, m1, m2);
    } else {
        push_buckets(&mut pieces, Minute, m1, h1);
        if d1 >= d2 {
            push_buckets(&mut pieces, Hour, h1, h2);
        } else {
            push_buckets(&mut pieces, Hour, h1, d1);
            push_buckets(&mut pieces, Day, d1, d2);
            push_buckets(&mut pieces, Hour, d2, h2);
        }
        push_buckets(&mut pieces, Minute, h2, m2);
    }
    push_raw(&mut pieces, m2, end);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn ts(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_790_000_000, 0).single().expect("valid") + TimeDelta::seconds(secs)
    }

    /// The end of a piece, and checks that buckets are aligned.
    fn piece_bounds(piece: &WindowPiece) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        match *piece {
            WindowPiece::Raw { from, to } => (from, Some(to)),
            WindowPiece::Buckets(span) => {
                assert_eq!(span.granularity.floor(span.from), span.from, "{piece:?}");
                if let Some(to) = span.to {
                    assert_eq!(span.granularity.floor(to), to, "{piece:?}");
                }
                (span.from, span.to)
            }
        }
    }

    #[test]
    fn a_day_long_window_uses_few_pieces() {
        let start = Utc
            .with_ymd_and_hms(2026, 11, 27, 10, 17, 42)
            .single()
            .expect("valid");
        let pieces = split(start, Some(start + TimeDelta::days(3)));
        let kinds: Vec<_> = pieces
            .iter()
            .map(|p| match p {
                WindowPiece::Raw { .. } => "raw",
                WindowPiece::Buckets(s) => s.granularity.as_str(),
            })
            .collect();
        assert_eq!(
            kinds,
            ["raw", "minute", "hour", "day", "hour", "minute", "raw"]
        );
    }

    proptest! {
        #[test]
        fn pieces_tile_the_range_exactly(start in 0i64..400_000, len in 0i64..400_000, open in any::<bool>()) {
            let (start, end) = (ts(start), ts(start + len));
            let pieces = split(start, (!open).then_some(end));
            let mut cursor = start;
            let mut finished = false;
            for piece in &pieces {
                prop_assert!(!finished, "a piece after an open one");
                let (from, to) = piece_bounds(piece);
                prop_assert_eq!(from, cursor);
                match to {
                    Some(to) => { prop_assert!(to > from); cursor = to; }
                    None => finished = true,
                }
            }
            if open {
                prop_assert!(finished);
            } else if len > 0 {
                prop_assert_eq!(cursor, end);
            } else {
                prop_assert!(pieces.is_empty());
            }
        }
    }
}
