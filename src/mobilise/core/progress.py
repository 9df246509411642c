"""The one progress reporter for long work. Domain code calls ``start``/``advance``/
``finish``; the CLI passes a ``RichProgress`` (a bar with rate and ETA), the web and
workers a ``JobProgress`` that keeps a ``Job`` row current for the live status pages.
"""

from __future__ import annotations

import time
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column

from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import Base


class Progress(Protocol):
    def start(self, total: int | None, description: str) -> None: ...

    def advance(self, n: int = 1, **stats: Any) -> None: ...

    def finish(self, message: str = "") -> None: ...


class NullProgress:
    def start(self, total: int | None, description: str) -> None:
        pass

    def advance(self, n: int = 1, **stats: Any) -> None:
        pass

    def finish(self, message: str = "") -> None:
        pass


class RichProgress:
    """A Rich bar: done/total, rate, elapsed and ETA, plus the latest stats."""

    def __init__(self, unit: str = "items") -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as Bar

        self.unit = unit
        self._bar = Bar(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TaskProgressColumn(), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
            TimeRemainingColumn(), TextColumn("{task.fields[stats]}"), transient=False,
            # Bars go to stderr so that `--format json|csv` output on stdout stays clean.
            console=Console(stderr=True),
        )
        self._task: Any = None
        self._started = 0.0
        self._done = 0

    def start(self, total: int | None, description: str) -> None:
        self._bar.start()
        self._started = time.monotonic()
        self._task = self._bar.add_task(description, total=total, rate="", stats="")

    def advance(self, n: int = 1, **stats: Any) -> None:
        self._done += n
        elapsed = max(time.monotonic() - self._started, 1e-9)
        shown = " ".join(f"{k}={v}" for k, v in stats.items())
        self._bar.update(self._task, advance=n, rate=f"{self._done / elapsed:,.0f} {self.unit}/s",
                         stats=shown)

    def finish(self, message: str = "") -> None:
        self._bar.stop()

    def __enter__(self) -> RichProgress:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._bar.stop()


class Job(Base):
    """Live status of a long piece of work, read by the web pages."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(50), index=True)
    description: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), default="running")
    total: Mapped[int | None] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer, default=0)
    stats: Mapped[dict[str, Any] | None]
    message: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class JobProgress:
    """Keeps a ``Job`` row current, writing at most twice a second, in its own session;
    ``echo`` (a terminal bar, when the CLI runs a job) is told the same as it goes."""

    def __init__(self, session: Session, kind: str, clock: Clock | None = None, *,
                 job_id: int | None = None, echo: Progress | None = None) -> None:
        self.session = session
        self.echo = echo or NullProgress()
        self.kind = kind
        self.clock = clock or SystemClock()
        self.job: Job | None = None
        self.job_id = job_id  # a row made when the work was queued (workers.background.start_task)
        self._last = 0.0

    def start(self, total: int | None, description: str) -> None:
        now = self.clock.now()
        self.job = self.session.get(Job, self.job_id) if self.job_id is not None else None
        if self.job is None:
            self.job = Job(kind=self.kind, started_at=now)
            self.session.add(self.job)
        self.job.description, self.job.total, self.job.done = description[:300], total, 0
        self.job.updated_at, self.job.status = now, "running"
        self.session.commit()
        self.echo.start(total, description)

    def advance(self, n: int = 1, **stats: Any) -> None:
        assert self.job is not None
        self.job.done += n
        if stats:
            self.job.stats = {**(self.job.stats or {}), **stats}
        if time.monotonic() - self._last >= 0.5:
            self._flush()
        self.echo.advance(n, **stats)

    def note(self, **stats: Any) -> None:
        """Add to the job's stats (its outcome, for the pages and the API) without telling
        the bar; committed with the job's next write or its closing status."""
        job = self.job or self.session.get(Job, self.job_id)
        if job is not None:
            job.stats = {**(job.stats or {}), **stats}

    def _flush(self) -> None:
        assert self.job is not None
        self.job.updated_at = self.clock.now()
        self.session.commit()
        self._last = time.monotonic()

    def finish(self, message: str = "") -> None:
        assert self.job is not None
        self.job.status = "done"
        self.job.message = message
        self._flush()
        self.echo.finish(message)


class Tee:
    """Report to several progress sinks at once (the CLI bar and the job row)."""

    def __init__(self, *sinks: Progress) -> None:
        self.sinks = sinks

    def start(self, total: int | None, description: str) -> None:
        for s in self.sinks:
            s.start(total, description)

    def advance(self, n: int = 1, **stats: Any) -> None:
        for s in self.sinks:
            s.advance(n, **stats)

    def finish(self, message: str = "") -> None:
        for s in self.sinks:
            s.finish(message)
