"""The Celery application: Redis as broker and result store; the work itself records its
state in the Mobilise database.

Every task is acknowledged only after it finishes (``acks_late``) and given back to the
queue if its worker process dies (``task_reject_on_worker_lost``); when the whole worker
is killed, Redis hands the unacknowledged message to another worker once the visibility
timeout passes. Tasks are idempotent (a sync compares both sides), so a second delivery
repairs rather than duplicates. Keep tasks shorter than the visibility timeout — the
migration shards large drives for exactly that reason.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from mobilise.core.settings import Settings
from mobilise.workers.registry import load_tasks, run_task


def make_celery(settings: Settings) -> Celery:
    app = Celery("mobilise", broker=settings.broker_url, backend=settings.broker_url)
    app.conf.update(
        task_acks_late=True,
        # STARTED tells the dispatcher a task is being worked on (CeleryExecutor._lost).
        task_track_started=True,
        task_reject_on_worker_lost=True,
        # One message at a time per process: a prefetched message would sit unacked
        # behind a long task and be redelivered needlessly.
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_expires=7 * 24 * 3600,
        # A dead worker's message is handed on after the visibility timeout, found by a
        # periodic sweep; sweep every tenth of the timeout so the wait stays near it.
        broker_transport_options={
            "visibility_timeout": settings.worker_visibility_timeout,
            "unacked_restore_interval": max(1, settings.worker_visibility_timeout // 10),
            "unacked_restore_throttle": 1,
        },
        result_backend_transport_options={
            "visibility_timeout": settings.worker_visibility_timeout},
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
    )

    @app.task(name="mobilise.run", acks_late=True,  # type: ignore[untyped-decorator]
              reject_on_worker_lost=True)
    def run(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        return run_task(settings, name, payload)

    load_tasks()
    return app
