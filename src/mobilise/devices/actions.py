"""The remote-action queue: wipes, retires, locks and SIM bars waiting to be sent.

Rows are written in the same transaction as the transition that needs them (a handset
reported stolen and its wipe are one commit), so a crash can never leave a stolen handset
without a queued wipe. A sender (Intune through the Graph client, paced to Intune's write
limit; the carrier for SIM bars) takes due rows with ``due_actions`` and reports each
outcome with ``record_sent``, ``record_done`` or ``record_failure``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import Conflict
from mobilise.core.transitions import lock
from mobilise.devices.models import ActionKind, ActionStatus, DeviceAction, Handset, Sim

MAX_ATTEMPTS = 8


def queue_action(
    session: Session, actor: Actor, clock: Clock, handset: Handset, kind: ActionKind,
    *, reason: str | None = None, sim: Sim | None = None,
) -> DeviceAction:
    """Queue ``kind`` for ``handset`` unless the same action is already waiting."""
    for waiting in session.scalars(select(DeviceAction).where(
            DeviceAction.handset_id == handset.id, DeviceAction.kind == kind.value,
            DeviceAction.status.in_([ActionStatus.QUEUED.value, ActionStatus.SENT.value]))):
        return waiting
    action = DeviceAction(handset_id=handset.id, sim_id=sim.id if sim else None,
                          kind=kind.value, status=ActionStatus.QUEUED.value, attempts=0,
                          queued_at=clock.now(), reason=reason)
    audit.create(session, actor, f"device_action.queue_{kind.value}", action, reason=reason)
    return action


def due_actions(session: Session, clock: Clock, target: str, limit: int) -> Sequence[DeviceAction]:
    """Queued actions for ``target`` (intune or carrier) whose back-off has passed, oldest
    first."""
    kinds = [k.value for k in ActionKind if k.target == target]
    return session.scalars(
        select(DeviceAction)
        .where(DeviceAction.status == ActionStatus.QUEUED.value,
               DeviceAction.kind.in_(kinds),
               or_(DeviceAction.not_before.is_(None), DeviceAction.not_before <= clock.now()))
        .order_by(DeviceAction.queued_at, DeviceAction.id).limit(limit)
    ).all()


def record_sent(session: Session, actor: Actor, action: DeviceAction) -> None:
    """Intune accepted the action (204); it completes when the device checks in."""
    _require(session, action, ActionStatus.QUEUED)
    with audit.change(session, actor, "device_action.sent", action):
        action.status = ActionStatus.SENT.value
        action.attempts += 1
        action.last_error = None


def record_done(session: Session, actor: Actor, clock: Clock, action: DeviceAction) -> None:
    _require(session, action, ActionStatus.QUEUED, ActionStatus.SENT)
    with audit.change(session, actor, "device_action.done", action):
        if action.status == ActionStatus.QUEUED.value:
            action.attempts += 1
        action.status = ActionStatus.DONE.value
        action.finished_at = clock.now()


def record_failure(
    session: Session, actor: Actor, clock: Clock, action: DeviceAction, error: str,
    *, retry_after: timedelta | None = None,
) -> None:
    """A failed attempt: back off and retry (honouring Retry-After) until MAX_ATTEMPTS,
    then give up and leave the row failed for a person to look at."""
    _require(session, action, ActionStatus.QUEUED, ActionStatus.SENT)
    with audit.change(session, actor, "device_action.failure", action, reason=error[:500]):
        action.attempts += 1
        action.last_error = error
        if action.attempts >= MAX_ATTEMPTS:
            action.status = ActionStatus.FAILED.value
            action.finished_at = clock.now()
            return
        action.status = ActionStatus.QUEUED.value
        action.not_before = clock.now() + (retry_after or _backoff(action.attempts))


def record_refused(session: Session, actor: Actor, clock: Clock, action: DeviceAction,
                   error: str) -> None:
    """The device itself reported the action failed (Intune's actionState ``failed``):
    sending it again would not help, so it is left failed for a person to look at."""
    _require(session, action, ActionStatus.SENT)
    with audit.change(session, actor, "device_action.failed", action, reason=error[:500]):
        action.status = ActionStatus.FAILED.value
        action.last_error = error
        action.finished_at = clock.now()


def retry_failed(session: Session, actor: Actor, action: DeviceAction, reason: str) -> None:
    _require(session, action, ActionStatus.FAILED)
    with audit.change(session, actor, "device_action.retry", action, reason=reason):
        action.status = ActionStatus.QUEUED.value
        action.attempts = 0
        action.not_before = None
        action.finished_at = None


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(3600, 30 * 2 ** (attempts - 1)))


def _require(session: Session, action: DeviceAction, *states: ActionStatus) -> None:
    # Judged on the row as committed, locked until this transaction ends: of two
    # recorders of one outcome (two senders, two syncs) the second is refused.
    lock(session, [action])
    if action.status not in {s.value for s in states}:
        raise Conflict(f"device action {action.id} is {action.status}, not "
                       f"{' or '.join(s.value for s in states)}")

