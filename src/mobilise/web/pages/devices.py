"""The handset register, the handset page, the service-desk hand-over screen, and SIM
bars."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.audit import AuditEntry
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput, MobiliseError
from mobilise.core.settings import Settings
from mobilise.devices import capacity, carrier, handsets, policy, register
from mobilise.devices.carrier import EmailCarrier
from mobilise.devices.models import (
    Acceptance,
    AcceptanceMethod,
    AccessoryKit,
    ActionKind,
    ActionStatus,
    DeviceAction,
    Handset,
    HandsetModel,
    HandsetStatus,
    SignedHow,
    SimBarState,
)
from mobilise.devices.tasks import SEND_ACTIONS
from mobilise.devices.transitions import HANDSET
from mobilise.people.models import Person, Site
from mobilise.people.register import PeopleQuery, find_people, get_person, person_row
from mobilise.rollout.handover import hand_over
from mobilise.web.auth import db, requires
from mobilise.web.pages.render import page
from mobilise.web.params import PageNo, Pager
from mobilise.workers.background import start_task

router = APIRouter(include_in_schema=False)
PAGE = 50
STATUS_PATTERN = "^(" + "|".join(s.value for s in HandsetStatus) + ")?$"


@router.get("/handsets")
def handset_register(
    request: Request,
    q: str | None = Query(None, max_length=100),
    status: str | None = Query(None, pattern=STATUS_PATTERN),
    site: str | None = Query(None, max_length=30),
    model: str | None = Query(None, max_length=40),
    page_no: int = PageNo,
    session: Session = Depends(db, scope="function"),
    _: Actor = Depends(requires(Role.VIEWER)),
) -> HTMLResponse:
    query = register.HandsetQuery(q=q or None, status=status or None, site=site or None,
                                  model=model or None, limit=PAGE, offset=(page_no - 1) * PAGE)
    found, total = register.find_handsets(session, query)
    settings: Settings = request.app.state.settings
    return page(request, "handsets.html", handsets=[register.handset_row(h) for h in found],
                total=total, q=q or "", status=status or "", site=site or "",
                model=model or "", statuses=list(HandsetStatus),
                sites=session.scalars(select(Site).order_by(Site.code)).all(),
                models=session.scalars(select(HandsetModel).order_by(HandsetModel.code)).all(),
                counts=register.status_counts(session),
                capacity=capacity.capacity(session, settings),
                queued_actions=session.scalar(select(func.count()).select_from(DeviceAction)
                                              .where(DeviceAction.status == "queued",
                                                     DeviceAction.kind != "bar_sim")) or 0,
                pager=Pager.of(page_no, PAGE, total, q=q, status=status, site=site,
                               model=model))


@router.post("/handsets/actions/send")
def send_actions(request: Request, session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> RedirectResponse:
    """Start the paced sender as a background job and show it on the live status page."""
    start_task(request.app.state.sessions, request.app.state.settings, "intune-actions",
               "Intune remote actions", SEND_ACTIONS, {"actor": actor.name})
    return RedirectResponse("/jobs", status_code=303)


# The lifecycle steps the handset page offers (hand-over has a screen of its own; SIM bars
# and Intune actions follow from these), with the extra detail each asks for.
PAGE_STEPS: dict[str, tuple[str, ...]] = {
    "receive": ("site",), "stage": ("site",), "enrol": (), "stock": ("site",),
    "return": ("site",), "repair": ("repair_reference",), "lose": ("police_reference",),
    "steal": ("police_reference",), "find": ("site",), "retire": (),
    "dispose": ("wipe_evidence", "weee_reference"),
}
FIELD_LABELS = {"site": "Site code", "repair_reference": "Repair ticket",
                "police_reference": "Police reference (crime or lost-property number)",
                "wipe_evidence": "Wipe evidence", "weee_reference": "WEEE reference"}


def _steps(h: Any) -> list[dict[str, Any]]:
    return [{"name": t.name, "label": t.label or t.name, "fields": PAGE_STEPS[t.name],
             "needs_reason": t.needs_reason}
            for t in HANDSET.available(h.state) if t.name in PAGE_STEPS]


@router.get("/handsets/{key}")
def handset_page(request: Request, key: str, session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    return _handset(request, session, key)


@router.post("/handsets/{key}/steps")
def handset_step(
    request: Request, key: str,
    step: str = Form(..., max_length=20),
    reason: str = Form("", max_length=2000),
    site: str = Form("", max_length=30),
    police_reference: str = Form("", max_length=60),
    repair_reference: str = Form("", max_length=60),
    wipe_evidence: str = Form("", max_length=2000),
    weee_reference: str = Form("", max_length=60),
    session: Session = Depends(db, scope="function"),
    actor: Actor = Depends(requires(Role.SERVICE_DESK)),
) -> Response:
    """One lifecycle step from the handset's page: lost, stolen, returned, repair..."""
    given = {"site": site, "police_reference": police_reference,
             "repair_reference": repair_reference, "wipe_evidence": wipe_evidence,
             "weee_reference": weee_reference}
    try:
        if step not in PAGE_STEPS:
            raise InvalidInput(f"{step!r} is not a step this page records")
        h = register.get_handset(session, key)
        params: dict[str, Any] = {f: given[f].strip() for f in PAGE_STEPS[step]
                                  if given[f].strip()}
        if "site" in params:
            params["site"] = handsets.get_site(session, params["site"])
        handsets.move_handsets(session, actor, request.app.state.settings, SystemClock(),
                               step, [h], reason=reason.strip() or None, **params)
    except MobiliseError as err:
        session.rollback()
        return _handset(request, session, key, error=err.message, status_code=err.status,
                        chosen=step, given={**given, "reason": reason})
    label = HANDSET.get(step).label or step
    return RedirectResponse(f"/handsets/{quote(key)}?done={quote(label)}", status_code=303)


def _handset(request: Request, session: Session, key: str, *, error: str | None = None,
             status_code: int = 200, chosen: str = "",
             given: dict[str, str] | None = None) -> HTMLResponse:
    h = register.get_handset(session, key)
    done = request.query_params.get("done", "")[:100] or None
    steps = _steps(h)
    history = session.scalars(
        select(AuditEntry).where(AuditEntry.entity == "handset",
                                 AuditEntry.entity_id == str(h.id))
        .order_by(AuditEntry.seq.desc()).limit(100)).all()
    acceptances = session.scalars(select(Acceptance).where(Acceptance.handset_id == h.id)
                                  .order_by(Acceptance.id.desc())).all()
    return page(request, "handset.html", status_code=status_code,
                handset=register.handset_row(h), history=history,
                actions=register.action_rows(session, handset=h), acceptances=acceptances,
                steps=steps, step_fields=[(f, label) for f, label in FIELD_LABELS.items()
                                          if any(f in s["fields"] for s in steps)],
                can_operate=request.state.actor.has_any(frozenset({Role.SERVICE_DESK})),
                error=error, done=done, chosen=chosen, given=given or {})


def _handover(request: Request, session: Session, *, q: str = "", person_key: str = "",
              imei: str = "", error: str | None = None, done: str | None = None,
              status_code: int = 200, kit: str = "", method: str = "",
              accepted: bool = False, signed: str = "desk-screen") -> HTMLResponse:
    people = []
    if q:
        found, _ = find_people(session, PeopleQuery(q=q, status="active", limit=20))
        people = [person_row(p) for p in found]
    chosen = None
    if person_key:
        try:
            chosen = person_row(get_person(session, person_key))
        except MobiliseError:
            chosen = None
    settings: Settings = request.app.state.settings
    return page(request, "handover.html", status_code=status_code, q=q, people=people,
                chosen=chosen, imei=imei, error=error, done=done, kit=kit,
                method=method, accepted=accepted,
                methods=[m.value for m in AcceptanceMethod],
                policy=policy.current_version(session, SystemClock()), signed=signed,
                policy_version=settings.acceptable_use_version,
                kits=session.scalars(select(AccessoryKit).order_by(AccessoryKit.code)).all())


@router.get("/handover")
def handover_form(request: Request, q: str = Query("", max_length=200),
                  person: str = Query("", max_length=200),
                  session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(Role.SERVICE_DESK))) -> HTMLResponse:
    return _handover(request, session, q=q, person_key=person)


@router.post("/handover")
def handover(
    request: Request,
    person: str = Form(..., max_length=200),
    imei: str = Form(..., max_length=40),
    method: str = Form(..., max_length=20),
    policy_version: str = Form(..., max_length=20),
    accepted: str | None = Form(None, max_length=10),
    kit: str = Form("", max_length=40),
    signed: str = Form("desk-screen", max_length=20),
    session: Session = Depends(db, scope="function"),
    actor: Actor = Depends(requires(Role.SERVICE_DESK)),
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    desk_screen = signed == SignedHow.DESK_SCREEN.value
    if desk_screen and accepted != "yes":
        return _handover(request, session, person_key=person, imei=imei, status_code=422,
                         kit=kit, method=method, signed=signed,
                         error="The officer must read and accept the acceptable-use policy "
                               "before the handset is handed over.")
    clock = SystemClock()
    try:
        h = register.get_handset(session, imei)
        who = get_person(session, person)
        accessory = handsets.get_kit(session, kit) if kit else None
        done = hand_over(session, actor, settings, clock, h, who, method=method,
                         policy_version=policy_version, kit=accessory)
        signature = _desk_signature(session, actor, settings, h, who) if desk_screen else None
    except MobiliseError as err:
        session.rollback()
        return _handover(request, session, person_key=person, imei=imei, error=err.message,
                         status_code=err.status, kit=kit, method=method, accepted=True,
                         signed=signed)
    return _handover(request, session,
                     done=f"Handset {h.imei} handed to {who.display_name} ({who.number}); "
                          f"acceptable-use policy {policy_version} accepted by {method}"
                          + (f"; appointment {done.appointment.id} on "
                             f"{done.appointment.day} attended." if done.appointment
                             else ".")
                          + (f" Signed on this screen: receipt {signature} e-mailed to "
                             "the officer." if signature else "")
                          + ("" if desk_screen else " Ask the officer to sign in on their "
                             "own device and accept the policy under My Mobilise → "
                             "Acceptable-use policy; /policy shows when they have."))


def _desk_signature(session: Session, actor: Actor, settings: Settings, h: Handset,
                    who: Person) -> int | None:
    """The officer's signature on the desk's screen, with its receipt (when a policy
    version is published: before any is, the register's acceptance is the record)."""
    clock = SystemClock()
    if policy.current_version(session, clock) is None:
        return None
    row = policy.accept(session, actor, clock, who, h, SignedHow.DESK_SCREEN.value)
    policy.queue_receipt(session, settings, clock, row)
    return row.id


BAR_STATES = [s.value for s in SimBarState if s is not SimBarState.NONE]
BAR_STEPS = ("bar-confirm", "unbar", "unbar-confirm")


def _sims(request: Request, session: Session, *, error: str | None = None,
          done: str | None = None, status_code: int = 200) -> HTMLResponse:
    queued = session.scalar(select(func.count()).select_from(DeviceAction).where(
        DeviceAction.kind == ActionKind.BAR_SIM.value,
        DeviceAction.status == ActionStatus.QUEUED.value)) or 0
    return page(request, "sims.html", status_code=status_code, error=error, done=done,
                queued=queued,
                sims=register.sim_rows(session, limit=500, bar_states=BAR_STATES))


@router.get("/sims")
def sim_bars(request: Request, session: Session = Depends(db, scope="function"),
             _: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    return _sims(request, session)


@router.post("/sims/bars/send")
def send_sim_bars(request: Request, session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    clock = SystemClock()
    try:
        sent = carrier.send_bars(session, actor, clock, EmailCarrier(settings, clock))
    except MobiliseError as err:
        session.rollback()
        return _sims(request, session, error=err.message, status_code=err.status)
    return _sims(request, session, done=f"{len(sent.requested)} bar request(s) queued for "
                                        "the carriers.")


@router.post("/sims/{key}/bar")
def sim_bar_step(
    request: Request, key: str,
    step: str = Form(..., max_length=20),
    text: str = Form("", max_length=2000),
    session: Session = Depends(db, scope="function"),
    actor: Actor = Depends(requires(Role.SERVICE_DESK)),
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    clock = SystemClock()
    try:
        if step not in BAR_STEPS:
            raise InvalidInput(f"no SIM bar step {step!r}; known: {', '.join(BAR_STEPS)}")
        sim = register.get_sim(session, key)
        reference = text.strip() or None
        if step == "bar-confirm":
            carrier.confirm_bar(session, actor, clock, sim, reference=reference)
        elif step == "unbar-confirm":
            carrier.confirm_unbar(session, actor, clock, sim, reference=reference)
        else:
            carrier.request_unbar(session, actor, clock, EmailCarrier(settings, clock), sim,
                                  reason=text.strip())
        iccid = sim.iccid
    except MobiliseError as err:
        session.rollback()
        return _sims(request, session, error=err.message, status_code=err.status)
    return _sims(request, session, done=f"SIM {iccid}: {step.replace('-', ' ')} recorded.")
