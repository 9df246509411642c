"""The handset lifecycle, declared: which transitions exist, from which states, what
must be true (guards) and what else happens (effects).

    ordered → received → staged → enrolled → in_stock → issued
    issued → returned | in_repair | lost | stolen
    returned → in_stock | staged | in_repair;  in_repair → in_stock
    lost | stolen → returned (found)
    (most states) → retired → disposed

Transitions run through ``core.transitions.run_transition``: a bulk run is checked in
full first and refused as a whole, and each handset's change is audited. Parameters come
in ``ctx.params``: ``clock`` and ``settings`` always (``handsets.move_handsets`` passes
them), and what a transition needs (``person``, ``police_reference``...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, true

from mobilise.core import audit
from mobilise.core.clock import Clock
from mobilise.core.db import serialise_on
from mobilise.core.settings import Settings
from mobilise.core.transitions import Context, Effect, Lifecycle, Transition
from mobilise.devices import actions
from mobilise.devices.capacity import hold_staging_lock, managed_count
from mobilise.devices.models import (
    MANAGED_STATES,
    Acceptance,
    AcceptanceMethod,
    AccessoryKit,
    ActionKind,
    Handset,
    HandsetAllowance,
    HandsetStatus,
    KitIssue,
    LicencePool,
    LicenceSeat,
    RecoveryTask,
    Sim,
    SimBarState,
    TaskStatus,
)
from mobilise.people.models import Person, PersonStatus, Site

S = HandsetStatus


def _clock(ctx: Context) -> Clock:
    clock: Clock = ctx.params["clock"]
    return clock


def _now(ctx: Context) -> datetime:
    return _clock(ctx).now()


def _text_param(ctx: Context, key: str) -> str | None:
    value = ctx.params.get(key)
    return str(value).strip() if value is not None and str(value).strip() else None


# --- guards --------------------------------------------------------------------------------

def _serialise(ctx: Context, table: Any, where: Any) -> None:
    """Take the lock that makes concurrent hand-overs count one after the other, before
    counting: two desks must not both give out the last seat, or a person two phones."""
    serialise_on(ctx.session, table, where)


def _needs(key: str, label: str) -> Any:
    def guard(ctx: Context, _h: Handset) -> str | None:
        return None if _text_param(ctx, key) else f"needs {label}"

    guard.__name__ = f"needs_{key}"
    return guard


def _within_capacity(ctx: Context, h: Handset) -> str | None:
    """Counts this run's handsets as they are checked, so a bulk run cannot overshoot."""
    if h.state in MANAGED_STATES:
        return None
    settings: Settings = ctx.params["settings"]
    if "_managed" not in ctx.params:
        hold_staging_lock(ctx.session)
        ctx.params["_managed"] = [managed_count(ctx.session)]
    counter: list[int] = ctx.params["_managed"]
    if counter[0] >= settings.mdm_capacity:
        return (f"MDM capacity reached ({counter[0]:,} of {settings.mdm_capacity:,} managed "
                "devices): staging refused")
    counter[0] += 1
    return None


def _enrolled_and_compliant(_ctx: Context, h: Handset) -> str | None:
    if h.enrolled_at is None:
        return "the handset is not enrolled in Intune"
    if h.compliance != "compliant":
        return f"the handset is not compliant in Intune (compliance: {h.compliance})"
    return None


def active_handsets(ctx_session: Any, person: Person) -> int:
    return ctx_session.scalar(select(func.count()).select_from(Handset).where(
        Handset.holder_id == person.id, Handset.status == S.ISSUED.value)) or 0


def _person_may_receive(ctx: Context, _h: Handset) -> str | None:
    person: Person | None = ctx.params.get("person")
    if person is None:
        return "needs the person receiving the handset"
    who = f"{person.display_name} ({person.number})"
    if person.status != PersonStatus.ACTIVE.value:
        return f"{who} is a {person.status}, not an active person"
    if not person.eligible:
        why = f": {person.eligibility_reason}" if person.eligibility_reason else ""
        return f"{who} is not eligible for a handset{why}"
    _serialise(ctx, Person.__table__, Person.id == person.id)
    held = active_handsets(ctx.session, person)
    allowance = ctx.session.scalar(select(HandsetAllowance).where(
        HandsetAllowance.person_id == person.id))
    allowed = allowance.handsets if allowance else 1
    if held >= allowed:
        extra = "" if allowance else " and no recorded adjustment allows another"
        return f"{who} already holds {held} active handset(s){extra}"
    return None


def free_pool(session: Any) -> LicencePool | None:
    """The licence pool with a free seat, oldest purchase first."""
    in_use = (select(LicenceSeat.pool_id, func.count().label("used"))
              .where(LicenceSeat.released_at.is_(None)).group_by(LicenceSeat.pool_id)
              .subquery())
    pool: LicencePool | None = session.scalar(
        select(LicencePool).outerjoin(in_use, in_use.c.pool_id == LicencePool.id)
        .where(LicencePool.seats_bought > func.coalesce(in_use.c.used, 0))
        .order_by(LicencePool.id).limit(1))
    return pool


def _active_seat(session: Any, h: Handset) -> LicenceSeat | None:
    seat: LicenceSeat | None = session.scalar(select(LicenceSeat).where(
        LicenceSeat.handset_id == h.id, LicenceSeat.released_at.is_(None)))
    return seat


def _licence_seat_free(ctx: Context, h: Handset) -> str | None:
    if _active_seat(ctx.session, h) is not None:
        return None
    # Several handsets in one run each need their own seat.
    wanted: list[int] = ctx.params.setdefault("_seats_wanted", [0])
    if wanted[0] == 0:
        _serialise(ctx, LicencePool.__table__, true())
    wanted[0] += 1
    bought = ctx.session.scalar(select(func.coalesce(func.sum(LicencePool.seats_bought), 0)))
    used = ctx.session.scalar(select(func.count()).select_from(LicenceSeat).where(
        LicenceSeat.released_at.is_(None)))
    if (bought or 0) - (used or 0) < wanted[0]:
        return f"no free NetMotion licence seat ({used} of {bought} assigned)"
    return None


def _sim_for(ctx: Context, h: Handset) -> Sim | None:
    sim: Sim | None = ctx.params.get("sim")
    return sim if sim is not None else h.sim


def _sim_ready(ctx: Context, h: Handset) -> str | None:
    sim = _sim_for(ctx, h)
    if sim is None:
        return "needs a SIM (none fitted and none given)"
    if sim.barred or sim.bar_state != SimBarState.NONE.value:
        return f"SIM {sim.iccid} is barred (bar: {sim.bar_state.replace('_', ' ')})"
    holder = ctx.session.scalar(select(Handset).where(Handset.sim_id == sim.id,
                                                      Handset.id != h.id))
    if holder is not None:
        return f"SIM {sim.iccid} is fitted to handset {holder.imei}"
    return None


def _acceptance_given(ctx: Context, _h: Handset) -> str | None:
    if not _text_param(ctx, "policy_version"):
        return "needs the acceptable-use policy version accepted"
    method = _text_param(ctx, "method")
    if method not in {m.value for m in AcceptanceMethod}:
        known = ", ".join(m.value for m in AcceptanceMethod)
        return f"needs how acceptance was given ({known})"
    return None


def _evidence(ctx: Context, h: Handset) -> str | None:
    # A wipe Intune confirmed is already on the handset (devices/intune.py records it).
    missing = [label for key, label, recorded in (
        ("wipe_evidence", "the wipe evidence", h.wipe_evidence),
        ("weee_reference", "the WEEE disposal reference", None))
        if not (_text_param(ctx, key) or recorded)]
    return f"needs {' and '.join(missing)}" if missing else None


# --- effects -------------------------------------------------------------------------------

def _set_site(ctx: Context, h: Handset) -> None:
    site: Site | None = ctx.params.get("site")
    if site is not None:
        h.site_id = site.id


def _mark_enrolled(ctx: Context, h: Handset) -> None:
    h.enrolled_at = _now(ctx)
    compliance = _text_param(ctx, "compliance")
    if compliance:
        h.compliance = compliance


def _hand_over(ctx: Context, h: Handset) -> None:
    person: Person = ctx.params["person"]
    sim = _sim_for(ctx, h)
    h.holder_id = person.id
    h.issued_at = _now(ctx)
    if sim is not None:
        h.sim_id = sim.id
    if person.site_id is not None:
        h.site_id = person.site_id


def _assign_seat(ctx: Context, h: Handset) -> None:
    person: Person = ctx.params["person"]
    if _active_seat(ctx.session, h) is not None:
        return
    pool = free_pool(ctx.session)
    assert pool is not None, "the seat guard ran before this effect"
    audit.create(ctx.session, ctx.actor, "licence_seat.assign",
                 LicenceSeat(pool_id=pool.id, handset_id=h.id, person_id=person.id,
                             assigned_at=_now(ctx)), reason=ctx.reason)


def _record_acceptance(ctx: Context, h: Handset) -> None:
    person: Person = ctx.params["person"]
    accepted_at = ctx.params.get("accepted_at") or _now(ctx)
    audit.create(ctx.session, ctx.actor, "acceptance.record",
                 Acceptance(handset_id=h.id, person_id=person.id,
                            policy_version=_text_param(ctx, "policy_version"),
                            accepted_at=accepted_at, method=_text_param(ctx, "method"),
                            recorded_by=ctx.actor.name))


def _issue_kit(ctx: Context, h: Handset) -> None:
    kit: AccessoryKit | None = ctx.params.get("kit")
    if kit is None:
        return
    person: Person = ctx.params["person"]
    audit.create(ctx.session, ctx.actor, "kit_issue.issue",
                 KitIssue(kit_id=kit.id, person_id=person.id, handset_id=h.id,
                          issued_at=_now(ctx)))


def _release_seat(ctx: Context, h: Handset) -> None:
    seat = _active_seat(ctx.session, h)
    if seat is not None:
        with audit.change(ctx.session, ctx.actor, "licence_seat.release", seat,
                          reason=ctx.reason):
            seat.released_at = _now(ctx)


def _release_holder(_ctx: Context, h: Handset) -> None:
    h.holder_id = None
    h.issued_at = None


def _close_recovery(ctx: Context, h: Handset) -> None:
    for task in ctx.session.scalars(select(RecoveryTask).where(
            RecoveryTask.handset_id == h.id, RecoveryTask.status == TaskStatus.OPEN.value)):
        with audit.change(ctx.session, ctx.actor, "recovery_task.close", task,
                          reason=f"handset {h.status}"):
            task.status = TaskStatus.DONE.value
            task.closed_at = _now(ctx)


def _record_police_reference(ctx: Context, h: Handset) -> None:
    h.police_reference = _text_param(ctx, "police_reference")


def _queue_wipe_and_bar(ctx: Context, h: Handset) -> None:
    why = f"{h.status}: police reference {h.police_reference}"
    actions.queue_action(ctx.session, ctx.actor, _clock(ctx), h, ActionKind.WIPE, reason=why)
    if h.sim is not None and not h.sim.barred:
        actions.queue_action(ctx.session, ctx.actor, _clock(ctx), h, ActionKind.BAR_SIM,
                             reason=why, sim=h.sim)


def _record_repair(ctx: Context, h: Handset) -> None:
    h.repair_reference = _text_param(ctx, "repair_reference")


def _queue_retire(ctx: Context, h: Handset) -> None:
    if h.enrolled_at is not None:
        actions.queue_action(ctx.session, ctx.actor, _clock(ctx), h, ActionKind.RETIRE,
                             reason=ctx.reason)


def _detach_sim(_ctx: Context, h: Handset) -> None:
    h.sim_id = None


def _record_disposal(ctx: Context, h: Handset) -> None:
    h.wipe_evidence = _text_param(ctx, "wipe_evidence") or h.wipe_evidence
    h.weee_reference = _text_param(ctx, "weee_reference")
    h.site_id = None


def _effects(*effects: Effect) -> tuple[Effect, ...]:
    """Effects run inside the handset's audited change, before its audit record exists:
    a query there must not autoflush the half-changed handset (the audit hook would rightly
    refuse it), so each effect runs with autoflush off."""
    return tuple(_without_autoflush(e) for e in effects)


def _without_autoflush(effect: Effect) -> Effect:
    def run(ctx: Context, h: Any) -> None:
        with ctx.session.no_autoflush:
            effect(ctx, h)

    run.__name__ = getattr(effect, "__name__", "effect")
    return run


_LOSS_SOURCES = frozenset({S.ISSUED, S.IN_STOCK, S.ENROLLED, S.STAGED, S.RETURNED, S.IN_REPAIR})
_LOSS_GUARDS = (_needs("police_reference", "the police reference"),)
_LOSS_EFFECTS = _effects(_record_police_reference, _release_seat, _close_recovery,
                         _queue_wipe_and_bar)

HANDSET = Lifecycle[Handset](
    entity="handset",
    state_attr="status",
    transitions=[
        Transition("receive", frozenset({S.ORDERED}), S.RECEIVED, effects=_effects(_set_site),
                   label="Receive the delivery"),
        Transition("stage", frozenset({S.RECEIVED, S.RETURNED}), S.STAGED,
                   guards=(_within_capacity,), effects=_effects(_set_site),
                   label="Stage for enrolment"),
        Transition("enrol", frozenset({S.STAGED}), S.ENROLLED, effects=_effects(_mark_enrolled),
                   label="Record Intune enrolment"),
        Transition("stock", frozenset({S.ENROLLED, S.RETURNED, S.IN_REPAIR}), S.IN_STOCK,
                   guards=(_enrolled_and_compliant,), effects=_effects(_set_site),
                   label="Put in stock"),
        Transition("issue", frozenset({S.IN_STOCK}), S.ISSUED,
                   guards=(_enrolled_and_compliant, _person_may_receive, _licence_seat_free,
                           _sim_ready, _acceptance_given),
                   effects=_effects(_hand_over, _assign_seat, _record_acceptance, _issue_kit),
                   label="Hand over to a person"),
        Transition("return", frozenset({S.ISSUED}), S.RETURNED,
                   effects=_effects(_release_holder, _release_seat, _close_recovery, _set_site),
                   label="Handed back"),
        Transition("repair", frozenset({S.ISSUED, S.IN_STOCK, S.RETURNED, S.ENROLLED}),
                   S.IN_REPAIR, guards=(_needs("repair_reference", "the repair ticket"),),
                   effects=_effects(_record_repair, _release_holder, _release_seat,
                                    _close_recovery),
                   label="Send for repair"),
        Transition("lose", _LOSS_SOURCES, S.LOST, guards=_LOSS_GUARDS, effects=_LOSS_EFFECTS,
                   label="Report lost"),
        Transition("steal", _LOSS_SOURCES, S.STOLEN, guards=_LOSS_GUARDS,
                   effects=_LOSS_EFFECTS, label="Report stolen"),
        Transition("find", frozenset({S.LOST, S.STOLEN}), S.RETURNED, needs_reason=True,
                   effects=_effects(_release_holder, _set_site), label="Found again"),
        Transition("retire",
                   frozenset({S.ORDERED, S.RECEIVED, S.STAGED, S.ENROLLED, S.IN_STOCK,
                              S.RETURNED, S.IN_REPAIR, S.LOST, S.STOLEN}),
                   S.RETIRED, needs_reason=True,
                   effects=_effects(_release_holder, _release_seat, _close_recovery, _queue_retire,
                            _detach_sim),
                   label="Retire from service"),
        Transition("dispose", frozenset({S.RETIRED}), S.DISPOSED, guards=(_evidence,),
                   effects=_effects(_record_disposal), label="Dispose (WEEE)"),
    ],
)


# --- the SIM bar ---------------------------------------------------------------------------
#
#     none → bar_requested → barred → unbar_requested → none
#
# A request is what Mobilise sent the carrier (devices/carrier.py); only the carrier's
# confirmation, recorded by a person, makes the SIM barred (or free) in the register.
B = SimBarState


def _not_in_a_missing_handset(ctx: Context, sim: Sim) -> str | None:
    handset = ctx.session.scalar(select(Handset).where(Handset.sim_id == sim.id))
    if handset is not None and handset.state in (S.LOST, S.STOLEN):
        return (f"the SIM is in handset {handset.imei}, which is {handset.status}: "
                "record it found first")
    return None


def _stamp_request(ctx: Context, sim: Sim) -> None:
    sim.bar_requested_at = _now(ctx)
    sim.bar_reference = None


def _set_barred(ctx: Context, sim: Sim) -> None:
    sim.barred = True
    sim.barred_at = _now(ctx)
    sim.bar_reference = _text_param(ctx, "reference")


def _clear_barred(ctx: Context, sim: Sim) -> None:
    sim.barred = False
    sim.barred_at = None
    sim.bar_reference = _text_param(ctx, "reference")


SIM_BAR = Lifecycle[Sim](
    entity="sim",
    state_attr="bar_state",
    transitions=[
        Transition("request_bar", frozenset({B.NONE}), B.BAR_REQUESTED,
                   effects=_effects(_stamp_request), label="Bar requested from the carrier"),
        Transition("confirm_bar", frozenset({B.BAR_REQUESTED}), B.BARRED,
                   effects=_effects(_set_barred), label="Carrier confirmed the bar"),
        Transition("request_unbar", frozenset({B.BARRED}), B.UNBAR_REQUESTED,
                   needs_reason=True, guards=(_not_in_a_missing_handset,),
                   effects=_effects(_stamp_request), label="Unbar requested from the carrier"),
        Transition("confirm_unbar", frozenset({B.UNBAR_REQUESTED}), B.NONE,
                   effects=_effects(_clear_barred), label="Carrier confirmed the unbar"),
    ],
)
