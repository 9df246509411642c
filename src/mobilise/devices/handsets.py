"""The handset register's operations: catalogue, SIMs, licence pools, kits, adjustments,
lifecycle moves (single or bulk), hand-over, and leaver recovery tasks."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import false, func, or_, select, update
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.db import is_postgres
from mobilise.core.errors import Conflict, InvalidInput, NotFound, TransitionRefused
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices import capacity
from mobilise.devices.identifiers import parse_iccid, parse_msisdn
from mobilise.devices.models import (
    MANAGED_STATES,
    Acceptance,
    AcceptanceMethod,
    AccessoryKit,
    Handset,
    HandsetAllowance,
    HandsetModel,
    HandsetStatus,
    KitIssue,
    LicencePool,
    LicenceSeat,
    RecoveryTask,
    Sim,
    SimBarState,
    TaskStatus,
)
from mobilise.devices.transitions import HANDSET
from mobilise.people.models import Person, PersonStatus, Site


def add_model(session: Session, actor: Actor, code: str, manufacturer: str, name: str, *,
              dual_sim: bool = True, warranty_months: int = 24) -> HandsetModel:
    if session.scalar(select(HandsetModel).where(HandsetModel.code == code)):
        raise Conflict(f"model {code!r} is already in the catalogue")
    model = HandsetModel(code=code, manufacturer=manufacturer, name=name, dual_sim=dual_sim,
                         warranty_months=warranty_months)
    audit.create(session, actor, "handset_model.add", model)
    return model


def add_sim(session: Session, actor: Actor, iccid: str, *, msisdn: str | None = None,
            carrier: str = "") -> Sim:
    try:
        number = parse_iccid(iccid)
        phone = parse_msisdn(msisdn) if msisdn else None
    except ValueError as err:
        raise InvalidInput(str(err)) from None
    if session.scalar(select(Sim).where(Sim.iccid == number)):
        raise Conflict(f"SIM {number} is already registered")
    if phone and session.scalar(select(Sim).where(Sim.msisdn == phone)):
        raise Conflict(f"number {phone} already belongs to another SIM")
    sim = Sim(iccid=number, msisdn=phone, carrier=carrier, barred=False)
    audit.create(session, actor, "sim.add", sim)
    return sim


def add_pool(session: Session, actor: Actor, code: str, seats: int, *,
             product: str = "NetMotion Mobility", reseller: str | None = None,
             purchase_order: str | None = None) -> LicencePool:
    if seats < 0:
        raise InvalidInput("seats bought cannot be negative")
    if session.scalar(select(LicencePool).where(LicencePool.code == code)):
        raise Conflict(f"licence pool {code!r} already exists")
    pool = LicencePool(code=code, seats_bought=seats, product=product, reseller=reseller,
                       purchase_order=purchase_order)
    audit.create(session, actor, "licence_pool.add", pool)
    return pool


def add_kit(session: Session, actor: Actor, code: str, name: str,
            contents: str = "") -> AccessoryKit:
    if session.scalar(select(AccessoryKit).where(AccessoryKit.code == code)):
        raise Conflict(f"accessory kit {code!r} already exists")
    kit = AccessoryKit(code=code, name=name, contents=contents)
    audit.create(session, actor, "accessory_kit.add", kit)
    return kit


def get_kit(session: Session, code: str) -> AccessoryKit:
    kit = session.scalar(select(AccessoryKit).where(AccessoryKit.code == code))
    if kit is None:
        raise NotFound(f"no accessory kit {code!r}")
    return kit


def get_site(session: Session, code: str) -> Site:
    site = session.scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound(f"no site {code!r}")
    return site


def allow_extra_handset(session: Session, actor: Actor, person: Person, reason: str, *,
                        handsets: int = 2, reference: str | None = None) -> HandsetAllowance:
    """Record an adjustment that lets ``person`` hold ``handsets`` handsets at once."""
    if not reason.strip():
        raise InvalidInput("an adjustment needs its reason")
    if handsets < 1:
        raise InvalidInput("a person may hold at least one handset")
    existing = session.scalar(select(HandsetAllowance).where(
        HandsetAllowance.person_id == person.id))
    if existing is None:
        allowance = HandsetAllowance(person_id=person.id, handsets=handsets, reason=reason,
                                     reference=reference)
        audit.create(session, actor, "handset_allowance.add", allowance, reason=reason)
        return allowance
    with audit.change(session, actor, "handset_allowance.change", existing, reason=reason):
        existing.handsets, existing.reason, existing.reference = handsets, reason, reference
    return existing


def record_compliance(session: Session, actor: Actor, handset: Handset, state: str) -> None:
    known = {"unknown", "compliant", "noncompliant", "conflict", "error", "inGracePeriod",
             "configManager"}
    if state not in known:
        raise InvalidInput(f"{state!r} is not an Intune complianceState "
                           f"({', '.join(sorted(known))})")
    with audit.change(session, actor, "handset.compliance", handset):
        handset.compliance = state


def fit_sim(session: Session, actor: Actor, handset: Handset, sim: Sim | None) -> None:
    if sim is not None:
        other = session.scalar(select(Handset).where(Handset.sim_id == sim.id))
        if other is not None and other.id != handset.id:
            raise Conflict(f"SIM {sim.iccid} is fitted to handset {other.imei}")
    with audit.change(session, actor, "handset.fit_sim", handset):
        handset.sim_id = sim.id if sim else None


@dataclass
class Moved:
    handsets: list[Handset]
    warnings: list[str] = field(default_factory=list)


def move_handsets(
    session: Session, actor: Actor, settings: Settings, clock: Clock, name: str,
    handsets: Sequence[Handset], *, reason: str | None = None, **params: Any,
) -> Moved:
    """Run lifecycle transition ``name`` on every handset, or on none of them."""
    if not handsets:
        raise InvalidInput("no handsets given")
    warnings = []
    if name == "stage":
        entering = sum(1 for h in handsets if h.state not in MANAGED_STATES)
        after = capacity.check_room(session, settings, entering)
        if after.level != "ok":
            warnings.append(after.message)
    moved = run_transition(session, actor, HANDSET, name, handsets, reason=reason,
                           clock=clock, settings=settings, **params)
    session.flush()
    return Moved(moved, warnings)


def issue_handset(
    session: Session, actor: Actor, settings: Settings, clock: Clock, handset: Handset,
    person: Person, *, method: str, policy_version: str | None = None, sim: Sim | None = None,
    kit: AccessoryKit | None = None, accepted_at: datetime | None = None,
) -> Handset:
    """Hand ``handset`` to ``person``, recording their acceptance of the acceptable-use
    policy; refused with every reason if any guard says no."""
    version = policy_version or settings.acceptable_use_version
    reason = f"hand-over to {person.number}; AUP {version} accepted by {method}"
    move_handsets(session, actor, settings, clock, "issue", [handset], reason=reason,
                  person=person, sim=sim, kit=kit, method=method, policy_version=version,
                  accepted_at=accepted_at)
    return handset


def open_recovery_tasks(session: Session, actor: Actor, settings: Settings,
                        clock: Clock) -> list[RecoveryTask]:
    """A recovery task, due in ``recovery_due_days``, for every handset held by a leaver
    that has none open."""
    already = select(RecoveryTask.handset_id).where(RecoveryTask.status == TaskStatus.OPEN.value)
    rows = session.execute(
        select(Handset, Person).join(Person, Handset.holder_id == Person.id)
        .where(Handset.status == HandsetStatus.ISSUED.value,
               Person.status == PersonStatus.LEAVER.value, Handset.id.not_in(already))
        .order_by(Handset.id)).all()
    tasks = []
    for handset, person in rows:
        start = person.left_on or clock.today()
        task = RecoveryTask(handset_id=handset.id, person_id=person.id,
                            due_on=max(start, clock.today()) + timedelta(
                                days=settings.recovery_due_days),
                            status=TaskStatus.OPEN.value, opened_at=clock.now())
        audit.create(session, actor, "recovery_task.open", task,
                     reason=f"{person.number} left on {person.left_on or 'an unknown date'}")
        tasks.append(task)
    session.flush()
    return tasks


def issue_many(
    session: Session, actor: Actor, settings: Settings, clock: Clock,
    pairs: Sequence[tuple[Handset, Person]], *, method: str,
    policy_version: str | None = None, kit: AccessoryKit | None = None,
    accepted_at: datetime | None = None,
) -> int:
    """Hand many handsets over at once (a fleet issued before Mobilise, a mass hand-over
    day), each to its own person, with the same guards as ``issue_handset``: every pair is
    checked first and the whole run refused, changing nothing, if any guard says no.
    Otherwise one transaction, in batched statements, with an audit entry per handset,
    seat, acceptance and kit."""
    if not pairs:
        raise InvalidInput("no handsets given")
    version = (policy_version or settings.acceptable_use_version).strip()
    _lock_licence_pools(session)
    refusals = _issue_refusals(session, pairs, method, version)
    if refusals:
        raise TransitionRefused(
            f"issue refused for {len(refusals)} of {len(pairs)}; nothing changed: "
            + "; ".join(refusals[:20]), details=refusals)
    now = clock.now()
    when = accepted_at or now
    # Plain ids first: the bulk change expires the handsets, and reading an expired
    # attribute would cost a query per handset.
    ids = [(h.id, p.id) for h, p in pairs]
    audit.change_many(session, actor, "handset.issue", Handset, {
        h.id: {"status": HandsetStatus.ISSUED.value, "holder_id": p.id, "issued_at": now,
               "site_id": p.site_id if p.site_id is not None else h.site_id}
        for h, p in pairs}, reasons={
        h.id: f"hand-over to {p.number}; AUP {version} accepted by {method}" for h, p in pairs})
    seated = _seated(session)
    pools = iter(_free_seats(session))
    seats = [{"pool_id": next(pools), "handset_id": h, "person_id": p,
              "assigned_at": now, "released_at": None} for h, p in ids if h not in seated]
    audit.create_many(session, actor, "licence_seat.assign", LicenceSeat, seats,
                      reason="bulk hand-over")
    audit.create_many(session, actor, "acceptance.record", Acceptance, [
        {"handset_id": h, "person_id": p, "policy_version": version,
         "accepted_at": when, "method": method, "recorded_by": actor.name}
        for h, p in ids], reason="bulk hand-over")
    if kit is not None:
        audit.create_many(session, actor, "kit_issue.issue", KitIssue, [
            {"kit_id": kit.id, "person_id": p, "handset_id": h, "issued_at": now}
            for h, p in ids], reason="bulk hand-over")
    return len(pairs)


def _lock_licence_pools(session: Session) -> None:
    """As a single hand-over does: concurrent desks count seats one after the other."""
    if is_postgres(session):
        session.execute(select(LicencePool.id).with_for_update())
    else:
        session.connection().execute(
            update(LicencePool).where(false()).values(id=LicencePool.id))


def _seated(session: Session) -> set[int]:
    return set(session.scalars(select(LicenceSeat.handset_id).where(
        LicenceSeat.released_at.is_(None))))


def _free_seats(session: Session) -> Iterator[int]:
    """Pool ids, one per free seat, oldest purchase first."""
    used = dict(session.execute(
        select(LicenceSeat.pool_id, func.count()).where(LicenceSeat.released_at.is_(None))
        .group_by(LicenceSeat.pool_id)).all())
    for pool_id, bought in session.execute(
            select(LicencePool.id, LicencePool.seats_bought).order_by(LicencePool.id)).all():
        for _ in range(max(0, bought - used.get(pool_id, 0))):
            yield pool_id


def _issue_refusals(session: Session, pairs: Sequence[tuple[Handset, Person]], method: str,
                    version: str) -> list[str]:
    out: list[str] = []
    if not version:
        out.append("needs the acceptable-use policy version accepted")
    if method not in {m.value for m in AcceptanceMethod}:
        known = ", ".join(m.value for m in AcceptanceMethod)
        out.append(f"needs how acceptance was given ({known})")
    # Every holder's count (at most one row per managed device) rather than an IN list of
    # 10,000 people, which would meet the databases' bound-parameter limits.
    held: dict[int, int] = {holder: n for holder, n in session.execute(
        select(Handset.holder_id, func.count()).where(
            Handset.status == HandsetStatus.ISSUED.value, Handset.holder_id.is_not(None))
        .group_by(Handset.holder_id)).all() if holder is not None}
    allowed = dict(session.execute(
        select(HandsetAllowance.person_id, HandsetAllowance.handsets)).all())
    barred = set(session.scalars(select(Sim.id).where(
        or_(Sim.barred.is_(True), Sim.bar_state != SimBarState.NONE.value))))
    seen: set[int] = set()
    for h, p in pairs:
        why = _handset_refusal(h, barred, seen) or _person_refusal(p, held, allowed)
        if why:
            out.append(f"handset {h.imei}: {why}")
    ids = {h.id for h, _ in pairs}
    needed = len(ids - _seated(session))
    free = sum(1 for _ in _free_seats(session))
    if needed > free:
        out.append(f"no free NetMotion licence seat for {needed - free:,} of them "
                   f"({free:,} free)")
    return out


def _handset_refusal(h: Handset, barred: set[int], seen: set[int]) -> str | None:
    if h.id in seen:
        return "given twice"
    seen.add(h.id)
    if h.state is not HandsetStatus.IN_STOCK:
        return f"cannot issue from {h.status} (only from in_stock)"
    if h.enrolled_at is None:
        return "the handset is not enrolled in Intune"
    if h.compliance != "compliant":
        return f"the handset is not compliant in Intune (compliance: {h.compliance})"
    if h.sim_id is None:
        return "needs a SIM (none fitted)"
    if h.sim_id in barred:
        return "its SIM is barred"
    return None


def _person_refusal(p: Person, held: dict[int, int], allowed: dict[int, int]) -> str | None:
    who = f"{p.display_name} ({p.number})"
    if p.status != PersonStatus.ACTIVE.value:
        return f"{who} is a {p.status}, not an active person"
    if not p.eligible:
        return f"{who} is not eligible for a handset"
    held[p.id] = held.get(p.id, 0) + 1
    if held[p.id] > allowed.get(p.id, 1):
        return f"{who} would hold {held[p.id]} active handsets and no recorded adjustment " \
               "allows it"
    return None
