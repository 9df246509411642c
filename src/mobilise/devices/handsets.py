"""The handset register's operations: catalogue, SIMs, licence pools, kits, adjustments,
lifecycle moves (single or bulk), hand-over, and leaver recovery tasks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import audit
from mobilise.core.actor import Actor
from mobilise.core.clock import Clock
from mobilise.core.errors import Conflict, InvalidInput, NotFound
from mobilise.core.settings import Settings
from mobilise.core.transitions import run_transition
from mobilise.devices import capacity
from mobilise.devices.identifiers import parse_iccid, parse_msisdn
from mobilise.devices.models import (
    MANAGED_STATES,
    AccessoryKit,
    Handset,
    HandsetAllowance,
    HandsetModel,
    HandsetStatus,
    LicencePool,
    RecoveryTask,
    Sim,
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
