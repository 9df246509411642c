"""Keeping the handset register in step with Intune, and sending the remote-action queue.

``sync_intune`` reads every managed device through the Graph client (pages of 1,000),
matches each to a handset by IMEI (or IMEI2), then by serial, copies what Intune knows
(enrolment, compliance, last check-in, OS, patch level, signed-in user) onto the register
through the audit log, and reports what does not add up. An unfiltered list has been
reported to miss devices in large tenants, so a handset the list did not show is looked up
by its own identifiers before it is reported missing.

The same read closes the loop on remote actions: Intune answers a wipe with 204 and does
it when the device next checks in, reporting progress in the device's
``deviceActionResults``. An action Mobilise sent is marked done (a wipe also records its
evidence on the handset, for disposal) or failed from what that list says.

``send_actions`` works through the persistent queue (devices/actions.py), held to
``settings.intune_writes_per_20s`` so that the sender never meets Intune's write limit in
normal running; a 429 that still comes back is retried by the Graph client after its
``Retry-After`` and, if that does not clear it, the action is put back with that delay.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from mobilise.core import audit
from mobilise.core.actor import SYSTEM, Actor
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.progress import NullProgress, Progress
from mobilise.core.settings import Settings
from mobilise.core.transitions import lock
from mobilise.devices import actions
from mobilise.devices.models import (
    ActionKind,
    ActionStatus,
    DeviceAction,
    Handset,
    HandsetStatus,
)
from mobilise.graph import GraphClient, GraphError, Throttled

DEVICES = "deviceManagement/managedDevices"
PAGE = 1000
STAGING_PREFIX = "Staging_"
# Handsets the register says Intune must know about: enrolled, and not since sent away
# (repair), lost, or only staged (a staged handset may not have reached Intune yet).
EXPECTED_IN_INTUNE = frozenset({HandsetStatus.ENROLLED, HandsetStatus.IN_STOCK,
                                HandsetStatus.ISSUED})
WRITE_WINDOW_SECONDS = 20.0
# Intune's actionState values that end an action other than well.
ACTION_FAILED_STATES = frozenset({"failed", "canceled", "notSupported"})


class MismatchKind(StrEnum):
    NOT_REGISTERED = "enrolled_not_registered"
    MISSING = "missing_from_intune"
    WRONG_USER = "signed_in_by_another"
    STAGING = "staging_never_signed_in"


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    imei: str
    serial: str
    device_name: str = ""
    handset_id: int | None = None
    status: str = ""
    holder_upn: str = ""
    signed_in_upn: str = ""

    def row(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "imei": self.imei, "serial": self.serial,
                "device_name": self.device_name, "handset_id": self.handset_id,
                "status": self.status, "holder_upn": self.holder_upn,
                "signed_in_upn": self.signed_in_upn}


MISMATCH_COLUMNS = ["kind", "imei", "serial", "device_name", "handset_id", "status",
                    "holder_upn", "signed_in_upn"]


@dataclass
class SyncReport:
    devices: int = 0
    matched: int = 0
    updated: int = 0
    looked_up: int = 0
    actions_done: int = 0
    actions_failed: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {kind.value: 0 for kind in MismatchKind}
        for m in self.mismatches:
            out[m.kind.value] += 1
        return out

    def summary(self) -> dict[str, Any]:
        return {"devices": self.devices, "matched": self.matched, "updated": self.updated,
                "looked_up": self.looked_up, "actions_done": self.actions_done,
                "actions_failed": self.actions_failed, **self.counts()}


class RegisterIndex:
    """Handsets by IMEI, IMEI2 and serial (serials compared without case)."""

    def __init__(self, handsets: list[Handset]) -> None:
        self.by_imei: dict[str, Handset] = {}
        self.by_serial: dict[str, Handset] = {}
        for h in handsets:
            self.by_imei[h.imei] = h
            if h.imei2:
                self.by_imei[h.imei2] = h
            self.by_serial[h.serial.upper()] = h

    def match(self, device: dict[str, Any]) -> Handset | None:
        imei = "".join(ch for ch in str(device.get("imei") or "") if ch.isdigit())
        if imei in self.by_imei:
            return self.by_imei[imei]
        return self.by_serial.get(str(device.get("serialNumber") or "").strip().upper())


@dataclass
class _Run:
    """One sync's working state."""

    session: Session
    actor: Actor
    clock: Clock
    sent: dict[int, list[DeviceAction]]
    seen: set[int] = field(default_factory=set)
    report: SyncReport = field(default_factory=SyncReport)


def sync_intune(session: Session, actor: Actor, client: GraphClient, settings: Settings,
                *, progress: Progress | None = None, clock: Clock | None = None) -> SyncReport:
    """Reconcile the register with Intune; changes are audited, mismatches returned, and
    sent actions that Intune reports ended are recorded done or failed."""
    progress = progress or NullProgress()
    handsets = list(session.scalars(select(Handset).options(joinedload(Handset.holder))))
    index = RegisterIndex(handsets)
    run = _Run(session, actor, clock or SystemClock(), _sent_actions(session))
    report = run.report
    progress.start(None, "Intune managed devices")
    for device in client.items(DEVICES, params={"$top": PAGE}):
        report.devices += 1
        _reconcile(run, index.match(device), device)
        # Each handset's change is committed as it is made: its row lock (SQLite's write
        # lock) is not held across the Graph requests that follow, where it would stop
        # every other writer, this job's own progress included. A sync stopped half way
        # is taken up by the next one.
        session.commit()
        progress.advance(1)
    for h in handsets:
        # A handset with an action in flight is looked up too: a wiped device may have
        # left the list before its result was read.
        if h.id in run.seen or (h.state not in EXPECTED_IN_INTUNE and h.id not in run.sent):
            continue
        report.looked_up += 1
        found = find_device(client, h)
        if found is not None:
            _reconcile(run, h, found)
            session.commit()
        elif h.state in EXPECTED_IN_INTUNE:
            report.mismatches.append(_mismatch(MismatchKind.MISSING, h, {}))
    progress.finish()
    session.flush()
    return report


def _sent_actions(session: Session) -> dict[int, list[DeviceAction]]:
    kinds = [k.value for k in ActionKind if k.target == "intune"]
    out: dict[int, list[DeviceAction]] = {}
    for action in session.scalars(select(DeviceAction).where(
            DeviceAction.status == ActionStatus.SENT.value, DeviceAction.kind.in_(kinds))
            .order_by(DeviceAction.id)):
        out.setdefault(action.handset_id, []).append(action)
    return out


def _reconcile(run: _Run, h: Handset | None, device: dict[str, Any]) -> None:
    session, actor, seen, report = run.session, run.actor, run.seen, run.report
    name = str(device.get("deviceName") or "")
    upn = str(device.get("userPrincipalName") or "")
    if name.startswith(STAGING_PREFIX) and not upn:
        report.mismatches.append(_mismatch(MismatchKind.STAGING, h, device))
    if h is None:
        report.mismatches.append(_mismatch(MismatchKind.NOT_REGISTERED, None, device))
        return
    seen.add(h.id)
    report.matched += 1
    if _copy_from_intune(session, actor, h, device):
        report.updated += 1
    if h.id in run.sent:
        _read_action_results(run, h, device)
    holder = h.holder.upn if h.holder is not None else ""
    if (h.state is HandsetStatus.ISSUED and holder and upn
            and upn.casefold() != holder.casefold()):
        report.mismatches.append(_mismatch(MismatchKind.WRONG_USER, h, device))


def _read_action_results(run: _Run, h: Handset, device: dict[str, Any]) -> None:
    results = {str(r.get("actionName")): r for r in device.get("deviceActionResults") or []
               if isinstance(r, dict)}
    for action in run.sent.pop(h.id):
        result = results.get(action.kind)
        started = graph_time(result.get("startDateTime")) if result else None
        # A result from before this action was queued belongs to an earlier request.
        if result is None or started is None or \
                started < _utc(action.queued_at).replace(microsecond=0):
            continue
        state = str(result.get("actionState") or "")
        when = str(result.get("lastUpdatedDateTime") or "")
        if state == "done":
            actions.record_done(run.session, run.actor, run.clock, action)
            run.report.actions_done += 1
            if action.kind == ActionKind.WIPE.value:
                _record_wipe_evidence(run, h, device, action, when)
        elif state in ACTION_FAILED_STATES:
            actions.record_refused(run.session, run.actor, run.clock, action,
                                   f"Intune reports the {action.kind} {state} at {when}")
            run.report.actions_failed += 1


def _record_wipe_evidence(run: _Run, h: Handset, device: dict[str, Any],
                          action: DeviceAction, when: str) -> None:
    evidence = (f"Intune wipe done at {when} (managed device {device.get('id')}, "
                f"Mobilise action {action.id})")
    with audit.change(run.session, run.actor, "handset.wipe_confirmed", h,
                      reason=action.reason):
        h.wipe_evidence = evidence


def _copy_from_intune(session: Session, actor: Actor, h: Handset,
                      device: dict[str, Any]) -> bool:
    wanted: dict[str, Any] = {
        "intune_id": device.get("id") or None,
        "compliance": str(device.get("complianceState") or "unknown")[:20],
        "enrolled_at": graph_time(device.get("enrolledDateTime")),
        "last_sync_at": graph_time(device.get("lastSyncDateTime")),
        "os_version": (device.get("osVersion") or None),
        "security_patch": (device.get("androidSecurityPatchLevel") or None),
        "signed_in_upn": (device.get("userPrincipalName") or None),
    }
    changed = {k: v for k, v in wanted.items() if not _same(getattr(h, k), v)}
    if changed:
        # Read again under the row's lock: a sync running at the same time may have
        # recorded this very change a moment ago (it is then not recorded twice).
        lock(session, [h])
        changed = {k: v for k, v in wanted.items() if not _same(getattr(h, k), v)}
    if not changed:
        return False
    with audit.change(session, actor, "handset.intune_sync", h):
        for key, value in changed.items():
            setattr(h, key, value)
    return True


def _same(stored: Any, fresh: Any) -> bool:
    # SQLite gives back naive datetimes for timezone-aware columns: compare as UTC.
    if isinstance(stored, datetime) and isinstance(fresh, datetime):
        return _utc(stored) == _utc(fresh)
    return bool(stored == fresh)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def graph_time(value: Any) -> datetime | None:
    """Graph's ISO times; year 1 is Graph's "never"."""
    if not value:
        return None
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return None if parsed.year <= 1 else _utc(parsed)


def _mismatch(kind: MismatchKind, h: Handset | None, device: dict[str, Any]) -> Mismatch:
    return Mismatch(
        kind=kind,
        imei=h.imei if h is not None else str(device.get("imei") or ""),
        serial=h.serial if h is not None else str(device.get("serialNumber") or ""),
        device_name=str(device.get("deviceName") or ""),
        handset_id=h.id if h is not None else None,
        status=h.status if h is not None else "",
        holder_upn=h.holder.upn if h is not None and h.holder is not None else "",
        signed_in_upn=str(device.get("userPrincipalName") or ""))


def find_device(client: GraphClient, h: Handset) -> dict[str, Any] | None:
    """The managed device of ``h``, by IMEI, IMEI2, then serial."""
    for field_, value in _identifiers(h):
        quoted = value.replace("'", "''")
        for device in client.items(DEVICES, params={"$filter": f"{field_} eq '{quoted}'"}):
            return device
    return None


def _identifiers(h: Handset) -> Iterator[tuple[str, str]]:
    yield "imei", h.imei
    if h.imei2:
        yield "imei", h.imei2
    yield "serialNumber", h.serial


# --- the action sender -----------------------------------------------------------------
class WritePacer:
    """At most ``limit`` writes in any ``window`` seconds (Intune counts per 20 s)."""

    def __init__(self, limit: int, window: float = WRITE_WINDOW_SECONDS, *,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.limit = max(1, limit)
        self.window = window
        self._monotonic = monotonic
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def acquire(self) -> float:
        """Wait until one more write fits in the window; returns seconds waited."""
        waited = 0.0
        while True:
            now = self._monotonic()
            while self._sent and self._sent[0] <= now - self.window:
                self._sent.popleft()
            if len(self._sent) < self.limit:
                self._sent.append(now)
                return waited
            pause = self._sent[0] + self.window - now
            self._sleep(pause)
            waited += pause


@dataclass
class SendReport:
    sent: int = 0
    failed: int = 0
    throttled: int = 0
    not_found: int = 0
    waited_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {"sent": self.sent, "failed": self.failed, "throttled": self.throttled,
                "not_found": self.not_found, "waited_seconds": round(self.waited_seconds, 1)}


ACTION_BODIES: dict[str, dict[str, Any]] = {
    # A lost or stolen handset is wiped whole: nothing of the enrolment or user kept.
    ActionKind.WIPE.value: {"keepEnrollmentData": False, "keepUserData": False,
                            "persistEsimDataPlan": False},
}


def send_actions(session: Session, client: GraphClient, settings: Settings, clock: Clock,
                 *, actor: Actor = SYSTEM, limit: int = 10_000,
                 pacer: WritePacer | None = None,
                 progress: Progress | None = None) -> SendReport:
    """Send due Intune actions, oldest first, committing each outcome as it comes."""
    pacer = pacer or WritePacer(settings.intune_writes_per_20s)
    progress = progress or NullProgress()
    report = SendReport()
    due = actions.due_actions(session, clock, "intune", limit)
    progress.start(len(due), "Intune remote actions")
    for action in due:
        _send_one(session, actor, client, clock, pacer, action, report)
        session.commit()
        progress.advance(1, sent=report.sent, throttled=report.throttled,
                         failed=report.failed + report.not_found)
    progress.finish(", ".join(f"{k} {v}" for k, v in report.summary().items()))
    return report


def _send_one(session: Session, actor: Actor, client: GraphClient, clock: Clock,
              pacer: WritePacer, action: DeviceAction, report: SendReport) -> None:
    try:
        device = find_device(client, action.handset)
        if device is None:
            report.not_found += 1
            actions.record_failure(session, actor, clock, action,
                                   f"handset {action.handset.imei} is not in Intune")
            return
        report.waited_seconds += pacer.acquire()
        # One sender per action: its row is locked (and read again) just before the
        # request, and stays locked until this action's outcome is committed, so a
        # concurrent sender waits, then finds it sent and leaves it (a wipe goes once).
        lock(session, [action])
        if action.status != ActionStatus.QUEUED.value:
            return
        client.request("POST", f"{DEVICES}/{device['id']}/{action.kind}",
                       json=ACTION_BODIES.get(action.kind, {}))
    except Throttled as exc:
        report.throttled += 1
        wait = timedelta(seconds=exc.retry_after) if exc.retry_after else None
        actions.record_failure(session, actor, clock, action, f"throttled: {exc}",
                               retry_after=wait)
        return
    except GraphError as exc:
        report.failed += 1
        actions.record_failure(session, actor, clock, action, f"{type(exc).__name__}: {exc}")
        return
    actions.record_sent(session, actor, action)
    report.sent += 1
