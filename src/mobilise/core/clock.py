"""The one injectable clock. Domain code asks a ``Clock``; tests pass a ``FixedClock``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol, overload


class Clock(Protocol):
    def now(self) -> datetime: ...

    def today(self) -> date: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().date()


class FixedClock:
    """A clock that stands still until told to move."""

    def __init__(self, at: datetime) -> None:
        self._at = at if at.tzinfo else at.replace(tzinfo=UTC)

    def now(self) -> datetime:
        return self._at

    def today(self) -> date:
        return self._at.date()

    def advance(self, delta: timedelta) -> None:
        self._at += delta


@overload
def utc(dt: datetime) -> datetime: ...


@overload
def utc(dt: None) -> None: ...


def utc(dt: datetime | None) -> datetime | None:
    """Naive datetimes read back from SQLite (or written without a zone) are UTC: give
    them their zone back. The one helper for it; None stays None."""
    if dt is None:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
