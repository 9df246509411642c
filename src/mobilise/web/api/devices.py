"""``/api/v1/handsets``, ``/api/v1/sims`` (with SIM bars), ``/api/v1/licences``: the handset
register."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.jobs import job_row
from mobilise.core.settings import Settings
from mobilise.devices import capacity, carrier, handsets, manifests, register
from mobilise.devices.carrier import EmailCarrier
from mobilise.devices.models import HandsetStatus, SimBarState
from mobilise.devices.stocktake import take_stock
from mobilise.devices.tasks import INTUNE_SYNC, SEND_ACTIONS
from mobilise.people.register import get_person
from mobilise.rollout.handover import hand_over
from mobilise.web.auth import db, requires
from mobilise.web.uploads import uploaded
from mobilise.workers.background import start_task

router = APIRouter(prefix="/api/v1", tags=["devices"])

STATUS_PATTERN = "^(" + "|".join(s.value for s in HandsetStatus) + ")$"
BAR_PATTERN = "^(" + "|".join(s.value for s in SimBarState) + ")$"


class TransitionBody(BaseModel):
    imeis: list[str] = Field(default_factory=list, max_length=50_000,
                             description="for a bulk run; ignored on a single handset")
    reason: str | None = Field(None, max_length=2000)
    site: str | None = Field(None, max_length=30)
    police_reference: str | None = Field(None, max_length=60)
    repair_reference: str | None = Field(None, max_length=60)
    wipe_evidence: str | None = Field(None, max_length=2000)
    weee_reference: str | None = Field(None, max_length=60)
    compliance: str | None = Field(None, max_length=20)


class IssueBody(BaseModel):
    person: str = Field(..., max_length=200, description="warrant/staff number or UPN")
    method: str = Field(..., max_length=20, description="signature, web-form or paper")
    policy_version: str | None = Field(None, max_length=20)
    iccid: str | None = Field(None, max_length=30)
    kit: str | None = Field(None, max_length=40)


class StocktakeBody(BaseModel):
    site: str = Field(..., max_length=30)
    imeis: list[str] = Field(..., max_length=100_000)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _move(session: Session, actor: Actor, settings: Settings, name: str,
          found: list[Any], body: TransitionBody) -> dict[str, Any]:
    params: dict[str, Any] = body.model_dump(exclude={"imeis", "reason", "site"})
    if body.site:
        params["site"] = handsets.get_site(session, body.site)
    moved = handsets.move_handsets(session, actor, settings, SystemClock(), name, found,
                                   reason=body.reason, **params)
    shown = moved.handsets[:100]
    for h in shown:
        session.refresh(h)  # holder, site and SIM relationships after the move
    return {"transition": name, "moved": len(moved.handsets), "warnings": moved.warnings,
            "handsets": [register.handset_row(h) for h in shown]}


@router.get("/handsets")
def list_handsets(
    request: Request,
    q: str | None = Query(None, max_length=100, description="IMEI, serial or asset tag"),
    status: str | None = Query(None, pattern=STATUS_PATTERN),
    site: str | None = Query(None, max_length=30),
    model: str | None = Query(None, max_length=40),
    holder: str | None = Query(None, max_length=200),
    purchase_order: str | None = Query(None, max_length=40),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
    session: Session = Depends(db, scope="function"),
    _: Actor = Depends(requires(Role.VIEWER)),
) -> dict[str, Any]:
    query = register.HandsetQuery(q, status, site, model, holder, purchase_order, limit, offset)
    found, total = register.find_handsets(session, query)
    next_url = None
    if offset + limit < total:
        next_url = str(request.url.include_query_params(offset=offset + limit))
    return {"items": [register.handset_row(h) for h in found], "total": total,
            "limit": limit, "offset": offset, "next": next_url}


@router.get("/handsets/capacity")
def show_capacity(request: Request, session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    now = capacity.capacity(session, _settings(request))
    return {"managed": now.managed, "capacity": now.capacity,
            "warning_from": now.warning_from, "spare": now.spare, "level": now.level,
            "message": now.message, "by_status": register.status_counts(session)}


@router.get("/handsets/actions")
def list_actions(status: str | None = Query(None, pattern="^(queued|sent|done|failed)$"),
                 limit: int = Query(200, ge=1, le=5000),
                 session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    return {"items": register.action_rows(session, status=status, limit=limit)}


@router.post("/handsets/actions/send", status_code=202)
def send_actions(request: Request, response: Response,
                 limit: int = Query(10_000, ge=1, le=100_000),
                 session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    """Start sending queued Intune actions (paced to Intune's write limit, so a large
    queue takes a while) as a background job; poll ``/api/v1/jobs/{id}``."""
    job = start_task(request.app.state.sessions, _settings(request), "intune-actions",
                     "Intune remote actions", SEND_ACTIONS,
                     {"limit": limit, "actor": actor.name})
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_row(job)


@router.post("/handsets/intune-sync", status_code=202)
def intune_sync(request: Request, response: Response,
                session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    """Start reconciling the register with Intune's managed devices as a background job
    (minutes on a large fleet or a slow Graph); poll ``/api/v1/jobs/{id}``: when done its
    stats hold the summary and the mismatches."""
    job = start_task(request.app.state.sessions, _settings(request), "intune-sync",
                     "Intune sync", INTUNE_SYNC, {"actor": actor.name})
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job_row(job)


@router.get("/handsets/recovery-tasks")
def list_recovery_tasks(open_only: bool = Query(True),
                        session: Session = Depends(db, scope="function"),
                        _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    return {"items": register.recovery_rows(session, open_only=open_only)}


@router.post("/handsets/recovery-tasks")
def open_recovery_tasks(request: Request, session: Session = Depends(db, scope="function"),
                        actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    """Open a recovery task for every handset held by a leaver that has none."""
    opened = handsets.open_recovery_tasks(session, actor, _settings(request), SystemClock())
    return {"opened": len(opened), "items": register.recovery_rows(session)}


@router.post("/handsets/transitions/{name}")
def bulk_transition(request: Request, name: str, body: TransitionBody,
                    session: Session = Depends(db, scope="function"),
                    actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    found = register.handsets_by_imei(session, body.imeis)
    return _move(session, actor, _settings(request), name, found, body)


@router.post("/handsets/manifests")
def import_manifest(
    request: Request,
    file: UploadFile = File(..., description="manifest CSV or XLSX"),
    site: str | None = Query(None, max_length=30),
    ordered: bool = Query(False, description="advance notice: register as ordered"),
    dry_run: bool = Query(False),
    session: Session = Depends(db, scope="function"),
    actor: Actor = Depends(requires(Role.PROGRAMME)),
) -> dict[str, Any]:
    where = handsets.get_site(session, site) if site else None
    status = HandsetStatus.ORDERED if ordered else HandsetStatus.RECEIVED
    with uploaded(file, "manifest.csv") as path:
        result = manifests.import_manifest(session, actor, _settings(request), path,
                                           site=where, status=status, dry_run=dry_run)
    if dry_run:
        session.rollback()
    return {"dry_run": dry_run, "handsets": result.handsets, "sims": result.sims,
            "purchase_orders": result.purchase_orders}


@router.post("/handsets/stocktakes")
def stocktake(body: StocktakeBody, session: Session = Depends(db, scope="function"),
              actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    report = take_stock(session, actor, SystemClock(), handsets.get_site(session, body.site),
                        body.imeis)
    return {"id": report.stocktake_id, "site": report.site, **report.summary(),
            "found": report.found, "missing": report.missing,
            "misplaced": report.misplaced, "unexpected": report.unexpected,
            "unreadable": report.unreadable}


@router.get("/handsets/{key}")
def show_handset(key: str, session: Session = Depends(db, scope="function"),
                 _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    h = register.get_handset(session, key)
    return {**register.handset_row(h), "actions": register.action_rows(session, handset=h)}


@router.post("/handsets/{key}/transitions/{name}")
def transition(request: Request, key: str, name: str, body: TransitionBody,
               session: Session = Depends(db, scope="function"),
               actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    found = [register.get_handset(session, key)]
    return _move(session, actor, _settings(request), name, found, body)


@router.post("/handsets/{key}/issue")
def issue(request: Request, key: str, body: IssueBody,
          session: Session = Depends(db, scope="function"),
          actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    h = register.get_handset(session, key)
    person = get_person(session, body.person)
    sim = register.get_sim(session, body.iccid) if body.iccid else None
    kit = handsets.get_kit(session, body.kit) if body.kit else None
    done = hand_over(session, actor, _settings(request), SystemClock(), h, person,
                     method=body.method, policy_version=body.policy_version, sim=sim, kit=kit)
    session.flush()
    session.refresh(h)
    return {**register.handset_row(h),
            "appointment": done.appointment.id if done.appointment else None}


@router.get("/sims")
def list_sims(free: bool = Query(False), limit: int = Query(200, ge=1, le=5000),
              offset: int = Query(0, ge=0, le=10_000_000),
              bar_state: str | None = Query(None, pattern=BAR_PATTERN),
              session: Session = Depends(db, scope="function"),
              _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    return {"items": register.sim_rows(session, free_only=free, limit=limit, offset=offset,
                                       bar_states=[bar_state] if bar_state else [])}


class CarrierAnswer(BaseModel):
    reference: str | None = Field(None, max_length=60, description="the carrier's reference")


class UnbarBody(BaseModel):
    reason: str = Field(..., min_length=1, max_length=2000)


def _sim_row(session: Session, iccid: str) -> dict[str, Any]:
    return register.sim_rows(session, limit=1, iccid=iccid)[0]


@router.post("/sims/bars/send")
def send_bars(request: Request, session: Session = Depends(db, scope="function"),
              actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    """Send every queued SIM bar to its carrier (by e-mail, through the outbox)."""
    clock = SystemClock()
    sent = carrier.send_bars(session, actor, clock, EmailCarrier(_settings(request), clock))
    return {**sent.summary(), "requested": sent.requested}


@router.post("/sims/{key}/bar-confirm")
def confirm_bar(key: str, body: CarrierAnswer, session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    sim = carrier.confirm_bar(session, actor, SystemClock(), register.get_sim(session, key),
                              reference=body.reference)
    return _sim_row(session, sim.iccid)


@router.post("/sims/{key}/unbar")
def request_unbar(request: Request, key: str, body: UnbarBody,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    clock = SystemClock()
    sim = register.get_sim(session, key)
    where = carrier.request_unbar(session, actor, clock, EmailCarrier(_settings(request), clock),
                                  sim, reason=body.reason)
    return {**_sim_row(session, sim.iccid), "sent_to": where}


@router.post("/sims/{key}/unbar-confirm")
def confirm_unbar(key: str, body: CarrierAnswer, session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    sim = carrier.confirm_unbar(session, actor, SystemClock(), register.get_sim(session, key),
                                reference=body.reference)
    return _sim_row(session, sim.iccid)


@router.get("/licences")
def list_licences(session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    return {"pools": register.pool_rows(session)}
