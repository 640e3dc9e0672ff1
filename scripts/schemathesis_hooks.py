"""schemathesis hooks of scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

The history answers 400 when `start_date` is after `end_date` (a plain end date meaning its
whole day). JSON Schema cannot relate two parameters, so the document says it in words, and a
generated pair in the wrong order would be a schema-valid request the API rightly refuses. This
hook swaps such a pair. Every value still reaches the API as generated, only the order changes,
and the swapped pair is always in order: the earlier value's start is before the later value's
end.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import schemathesis

HISTORY = "/api/v1/monitoring/history"
MICROSECOND = timedelta(microseconds=1)
DAY = timedelta(days=1) // MICROSECOND
EPOCH = datetime(1, 1, 1)


def _bound(value: object, *, end: bool) -> tuple[int, bool] | None:
    """Microseconds since 0001-01-01 UTC of a bound as the API reads it, and whether it was a day.

    Integers, so the range of years RFC 3339 allows neither overflows nor loses precision.
    """
    if not isinstance(value, str):
        return None
    try:
        if len(value) == 10:
            start = (datetime.combine(date.fromisoformat(value), datetime.min.time()) - EPOCH) // MICROSECOND
            return (start + DAY if end else start), True
        time = datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except (ValueError, OverflowError):
        return None
    offset = time.utcoffset()
    if offset is None:
        return None
    return (time.replace(tzinfo=None) - EPOCH) // MICROSECOND - offset // MICROSECOND, False


@schemathesis.hook
def map_case(context, case):
    if case.operation.path != HISTORY or not isinstance(case.query, dict):
        return case
    start_text, end_text = case.query.get("start_date"), case.query.get("end_date")
    start, end = _bound(start_text, end=False), _bound(end_text, end=True)
    if start is None or end is None:
        return case
    (start_at, _), (end_at, end_is_day) = start, end
    if start_at > end_at or (end_is_day and start_at >= end_at):
        case.query["start_date"], case.query["end_date"] = end_text, start_text
    return case
