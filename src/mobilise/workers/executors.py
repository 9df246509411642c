"""Executors: run many payloads of one task and give back each one's result or error."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor as FuturesExecutor
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, Protocol

from mobilise.core.errors import InvalidInput
from mobilise.core.settings import Settings
from mobilise.workers.registry import Payload, run_task


@dataclass(frozen=True)
class TaskResult:
    payload: Payload
    value: Payload | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


OnResult = Callable[[TaskResult], None]


class Executor(Protocol):
    name: str

    def run_all(self, task_name: str, payloads: Sequence[Payload],
                on_result: OnResult | None = None) -> list[TaskResult]:
        """Run the task once per payload; results in payload order. A failing payload
        gives a result with ``error``, never an exception for the whole batch.
        ``on_result`` hears of each result as it arrives (for live progress)."""
        ...


def _run_one(settings: Settings, task_name: str, payload: Payload) -> TaskResult:
    try:
        return TaskResult(payload, run_task(settings, task_name, payload))
    except Exception as exc:  # noqa: BLE001 - reported per payload, not raised
        return TaskResult(payload, error=f"{type(exc).__name__}: {exc}")


class InProcessExecutor:
    """A thread pool in this process: the default, and what tests and the demo use."""

    name = "inprocess"

    def __init__(self, settings: Settings, workers: int = 4) -> None:
        self.settings = settings
        self.workers = max(1, workers)

    def _pool(self) -> FuturesExecutor:
        return ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="task")

    def run_all(self, task_name: str, payloads: Sequence[Payload],
                on_result: OnResult | None = None) -> list[TaskResult]:
        with self._pool() as pool:
            futures = [pool.submit(_run_one, self.settings, task_name, p) for p in payloads]
            if on_result is not None:
                for future in as_completed(futures):
                    on_result(future.result())
            return [f.result() for f in futures]


# How many worker processes on this machine share its CPUs with this one: set in each
# child of a ProcessExecutor, so that CPU-bound work there sizes its threads to its share.
_siblings = 1


def cpu_share() -> int:
    """The CPUs this process may keep busy: all of them, or its share when it is one of a
    ProcessExecutor's workers (at least one)."""
    return max(1, (os.cpu_count() or 1) // _siblings)


def _join_pool(workers: int) -> None:
    global _siblings
    _siblings = max(1, workers)


class ProcessExecutor(InProcessExecutor):
    """Child processes on this machine: for work bound by Python itself (many small
    files), which threads share one interpreter lock for. No broker needed."""

    name = "processes"

    def _pool(self) -> FuturesExecutor:
        return ProcessPoolExecutor(max_workers=self.workers, initializer=_join_pool,
                                   initargs=(self.workers,))


class CeleryExecutor:
    """Sends each payload to Celery workers (``mobilise worker``) and waits for all.

    A message can be lost outright: Kombu's Redis transport takes it off the queue before
    recording it as unacknowledged, so a worker killed in between drops it, and no
    visibility timeout brings it back. Every task is idempotent, so a task still waiting
    (PENDING) after twice the visibility timeout, while no other task of the run is being
    worked on (STARTED), is sent again, at most ``MAX_RESENDS`` times."""

    name = "celery"
    MAX_RESENDS = 3

    def __init__(self, settings: Settings, timeout: float | None = None) -> None:
        from mobilise.workers.celery_app import make_celery

        self.settings = settings
        self.app = make_celery(settings)
        self.timeout = timeout
        self.resend_after = 2.0 * settings.worker_visibility_timeout

    def _send(self, task_name: str, payload: Payload, task_id: str | None = None) -> Any:
        return self.app.send_task("mobilise.run", args=(task_name, payload), task_id=task_id)

    def run_all(self, task_name: str, payloads: Sequence[Payload],
                on_result: OnResult | None = None) -> list[TaskResult]:
        pending = [self._send(task_name, p) for p in payloads]
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        results: list[TaskResult] = []
        for index, payload in enumerate(payloads):
            results.append(self._wait(task_name, payload, pending, index, deadline))
            if on_result is not None:
                on_result(results[-1])
        return results

    def _wait(self, task_name: str, payload: Payload, pending: list[Any], index: int,
              deadline: float | None) -> TaskResult:
        from celery.exceptions import TimeoutError as ResultTimeout

        resends = 0
        while True:
            left = None if deadline is None else deadline - time.monotonic()
            wait = self.resend_after if left is None else max(0.1, min(left, self.resend_after))
            try:
                value: Any = pending[index].get(timeout=wait, propagate=True)
                return TaskResult(payload, value)
            except ResultTimeout as exc:
                if left is not None and left <= wait:
                    return TaskResult(payload, error=f"TimeoutError: {exc}")
                if resends < self.MAX_RESENDS and self._lost(pending, index):
                    # The same task id: the result already awaited is the one fulfilled.
                    self._send(task_name, payload, pending[index].id)
                    resends += 1
            except Exception as exc:  # noqa: BLE001 - a task's own error, per payload
                return TaskResult(payload, error=f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _lost(pending: list[Any], index: int) -> bool:
        """Still waiting, and nothing of the run is being worked on: the workers are idle
        (or gone), so its message is not on its way."""
        if pending[index].state != "PENDING":
            return False
        return not any(r.state == "STARTED" for r in pending[index:])


def open_executor(kind: str, settings: Settings, **options: Any) -> Executor:
    if kind == "inprocess":
        return InProcessExecutor(settings, **options)
    if kind == "processes":
        return ProcessExecutor(settings, **options)
    if kind == "celery":
        return CeleryExecutor(settings, **options)
    raise InvalidInput(f"unknown executor {kind!r}; known: inprocess, processes, celery")
