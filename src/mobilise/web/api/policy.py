"""``/api/v1/policy``: acceptable-use policy versions, who has accepted the version in
force, the desk-screen signature at hand-over; ``/api/v1/adjustment-requests``: people's
requests to change their reasonable adjustments, for the service desk."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.settings import Settings
from mobilise.devices import policy, register
from mobilise.devices.models import PolicyVersion, SignedHow
from mobilise.people import adjustments
from mobilise.people.register import get_person
from mobilise.web.auth import db, requires
from mobilise.web.params import RecordId
from mobilise.web.receipt import receipt_pdf

router = APIRouter(tags=["policy"])
PUBLISHERS = (Role.PROGRAMME,)  # and admin, who may do anything
DESK = (Role.SERVICE_DESK, Role.PROGRAMME)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def version_row(v: PolicyVersion, text: bool = False) -> dict[str, Any]:
    return {"version": v.version, "sha256": v.sha256, "effective_on": v.effective_on,
            "published_at": v.published_at, "published_by": v.published_by,
            **({"text": v.text} if text else {})}


@router.get("/api/v1/policy/versions")
def list_versions(session: Session = Depends(db, scope="function"),
                  _: Actor = Depends(requires(Role.VIEWER))) -> dict[str, Any]:
    current = policy.current_version(session, SystemClock())
    return {"current": current.version if current else None,
            "items": [version_row(v) for v in policy.versions(session)]}


class PublishBody(BaseModel):
    version: str = Field(..., min_length=1, max_length=20)
    text: str = Field(..., min_length=1, max_length=200_000)
    effective_on: date | None = None


@router.post("/api/v1/policy/versions", status_code=201)
def publish(body: PublishBody, session: Session = Depends(db, scope="function"),
            actor: Actor = Depends(requires(*PUBLISHERS))) -> dict[str, Any]:
    """Publish a version; from its effective day every holder is asked to accept again."""
    v = policy.publish_version(session, actor, SystemClock(), body.version, body.text,
                               body.effective_on)
    return version_row(v)


@router.get("/api/v1/policy/status")
def status(accepted: bool | None = None, session: Session = Depends(db, scope="function"),
           _: Actor = Depends(requires(*DESK))) -> dict[str, Any]:
    """Every holder of an issued handset: have they accepted the version in force?"""
    return policy.acceptance_status(session, SystemClock(), accepted=accepted).as_dict()


class DeskAcceptBody(BaseModel):
    person: str = Field(..., min_length=1, max_length=200)
    imei: str = Field(..., min_length=1, max_length=20)


@router.post("/api/v1/policy/acceptances", status_code=201)
def desk_accept(request: Request, body: DeskAcceptBody,
                session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    """The officer signs on the desk's screen (the confirm step of the hand-over)."""
    clock = SystemClock()
    row = policy.accept(session, actor, clock, get_person(session, body.person),
                        register.get_handset(session, body.imei), SignedHow.DESK_SCREEN.value)
    policy.queue_receipt(session, _settings(request), clock, row)
    return policy.receipt(session, row)


@router.get("/api/v1/policy/acceptances/{acceptance_id}/pdf")
def receipt(request: Request, acceptance_id: RecordId,
            session: Session = Depends(db, scope="function"),
            _: Actor = Depends(requires(Role.SERVICE_DESK))) -> Response:
    row = policy.get_acceptance(session, acceptance_id)
    content = receipt_pdf(_settings(request), policy.receipt(session, row))
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="policy-receipt-{row.id}.pdf"'})


@router.get("/api/v1/adjustment-requests")
def adjustment_requests(session: Session = Depends(db, scope="function"),
                        _: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    """Open requests to change a person's recorded reasonable adjustments."""
    return {"items": [adjustments.request_row(r) for r in adjustments.open_requests(session)]}


class SettleBody(BaseModel):
    adjustments: str | None = Field(None, max_length=adjustments.MAX_TEXT,
                                    description="the new record; omit to leave it as it is")


@router.post("/api/v1/adjustment-requests/{request_id}/settle")
def settle(request_id: RecordId, body: SettleBody,
           session: Session = Depends(db, scope="function"),
           actor: Actor = Depends(requires(Role.SERVICE_DESK))) -> dict[str, Any]:
    row = adjustments.settle(session, actor, SystemClock(), request_id,
                             adjustments=body.adjustments)
    return adjustments.request_row(row)


