"""Conversions between the aware datetimes of ``Entry`` and the integer nanoseconds
since the Unix epoch that file systems and SMB use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def from_ns(ns: int) -> datetime:
    # Through integer microseconds: a float of seconds would lose the last digits.
    return EPOCH + timedelta(microseconds=ns // 1000)


def to_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {moment.isoformat()}")
    return (moment - EPOCH) // _MICROSECOND * 1000
