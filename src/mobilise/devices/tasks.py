"""Background work of the handset register, run by the one executor interface
(``workers``): the Intune action sender and the Intune sync, started from the web as jobs
(a sync against a slow or unreachable Graph takes minutes: never inside a request)."""

from __future__ import annotations

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.actor import Actor
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_factory, unit_of_work
from mobilise.core.progress import JobProgress
from mobilise.core.settings import Settings
from mobilise.workers.registry import Payload, task

SEND_ACTIONS = "devices.send_actions"
INTUNE_SYNC = "devices.intune_sync"
MISMATCHES_KEPT = 1000  # on the job row; the CLI's sync-intune lists them all


@task(SEND_ACTIONS)
def send_actions_task(settings: Settings, payload: Payload) -> Payload:
    """Send due Intune actions, paced; idempotent, since each action leaves the queue as its
    outcome is committed, so a second delivery sends only what the first did not."""
    from mobilise.devices import intune
    from mobilise.graph import GraphClient

    sessions = session_factory(settings)
    actor = Actor(str(payload.get("actor") or "system"))
    with GraphClient(settings) as client, unit_of_work(sessions) as s, \
            unit_of_work(sessions) as job_session:
        progress = JobProgress(job_session, "intune-actions", job_id=payload.get("job_id"))
        report = intune.send_actions(s, client, settings, SystemClock(), actor=actor,
                                     limit=int(payload.get("limit") or 10_000),
                                     progress=progress)
    return report.summary()


@task(INTUNE_SYNC)
def intune_sync_task(settings: Settings, payload: Payload) -> Payload:
    """Reconcile the register with Intune; idempotent (a second run finds the register
    already reconciled). The job's stats get the summary and the first mismatches."""
    from mobilise.core.audit import json_safe
    from mobilise.core.progress import Job
    from mobilise.devices import intune
    from mobilise.graph import GraphClient

    sessions = session_factory(settings)
    actor = Actor(str(payload.get("actor") or "system"))
    with GraphClient(settings) as client, unit_of_work(sessions) as s, \
            unit_of_work(sessions) as job_session:
        progress = JobProgress(job_session, "intune-sync", job_id=payload.get("job_id"))
        report = intune.sync_intune(s, actor, client, settings, progress=progress)
        s.commit()  # the register first: the job row must not say more than is saved
        job = job_session.get(Job, payload.get("job_id")) if payload.get("job_id") else None
        if job is not None:
            job.stats = json_safe({
                **(job.stats or {}), **report.summary(),
                "mismatches": [m.row() for m in report.mismatches[:MISMATCHES_KEPT]],
                "mismatches_total": len(report.mismatches)})
    return report.summary()
