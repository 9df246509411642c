"""Background work of the handset register, run by the one executor interface
(``workers``): the Intune action sender, started from the web as a job."""

from __future__ import annotations

import mobilise.models  # noqa: F401  (every model mapped before the first flush)
from mobilise.core.actor import Actor
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_factory, unit_of_work
from mobilise.core.progress import JobProgress
from mobilise.core.settings import Settings
from mobilise.workers.registry import Payload, task

SEND_ACTIONS = "devices.send_actions"


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
