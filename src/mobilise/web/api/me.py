"""``/api/v1/me/...``: self-service for the signed-in person (My Mobilise). Every route is
guarded by ``requires_person`` and finds its records from the login's person, never from
an id the caller chose alone: another person's records are "not found"."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor
from mobilise.core.clock import SystemClock
from mobilise.core.settings import Settings
from mobilise.devices import policy
from mobilise.devices.models import SignedHow
from mobilise.migration import self_service as my_drive
from mobilise.people import adjustments
from mobilise.rollout import self_service as mine
from mobilise.rollout.notices import appointment_calendar
from mobilise.web.auth import db, requires_person
from mobilise.web.params import RecordId
from mobilise.web.receipt import receipt_pdf

router = APIRouter(prefix="/api/v1/me", tags=["self-service"])
PERSON = Depends(requires_person())


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("/phone")
def my_phone(session: Session = Depends(db, scope="function"),
             actor: Actor = PERSON) -> dict[str, Any]:
    """My appointment, what to bring, my handsets, my adjustments and open requests."""
    return mine.my_phone(session, actor, SystemClock())


@router.get("/open-days")
def open_days(session: Session = Depends(db, scope="function"),
              actor: Actor = PERSON) -> dict[str, Any]:
    """Site-days I may book, with the places left."""
    return {"items": mine.open_days(session, SystemClock())}


class BookBody(BaseModel):
    site: str = Field(..., min_length=1, max_length=30)
    day: date


def _appointment(a: Any) -> dict[str, Any]:
    return mine.appointment_row(a)


@router.post("/appointment", status_code=201)
def book(body: BookBody, session: Session = Depends(db, scope="function"),
         actor: Actor = PERSON) -> dict[str, Any]:
    return _appointment(mine.book_mine(session, actor, SystemClock(), body.site, body.day))


@router.post("/appointment/move")
def move(body: BookBody, session: Session = Depends(db, scope="function"),
         actor: Actor = PERSON) -> dict[str, Any]:
    return _appointment(mine.move_mine(session, actor, SystemClock(), body.site, body.day))


class CancelBody(BaseModel):
    reason: str = Field(..., min_length=1, max_length=500)


@router.post("/appointment/cancel")
def cancel(body: CancelBody, session: Session = Depends(db, scope="function"),
           actor: Actor = PERSON) -> dict[str, Any]:
    return _appointment(mine.cancel_mine(session, actor, body.reason))


@router.get("/appointment/ics")
def my_ics(request: Request, session: Session = Depends(db, scope="function"),
           actor: Actor = PERSON) -> Response:
    a = mine.my_appointment(session, actor)
    text = appointment_calendar(a, _settings(request), SystemClock())
    return Response(text, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="my-appointment.ics"'})


class LossBody(BaseModel):
    kind: str = Field(..., pattern="^(lost|stolen)$")
    reference: str = Field(..., min_length=1, max_length=60)


@router.post("/handsets/{imei}/report")
def report_loss(request: Request, imei: str, body: LossBody,
                session: Session = Depends(db, scope="function"),
                actor: Actor = PERSON) -> dict[str, Any]:
    """Report my handset lost or stolen: its wipe and SIM bar are queued at once."""
    h = mine.report_loss(session, actor, _settings(request), SystemClock(), imei[:20],
                         body.kind, body.reference)
    return {"imei": h.imei, "status": h.status}


class AdjustmentBody(BaseModel):
    requested: str = Field(..., min_length=1, max_length=adjustments.MAX_TEXT)


@router.post("/adjustments", status_code=201)
def request_adjustment(body: AdjustmentBody, session: Session = Depends(db, scope="function"),
                       actor: Actor = PERSON) -> dict[str, Any]:
    """Ask the service desk to change my recorded reasonable adjustments."""
    row = adjustments.request_change(session, actor, SystemClock(),
                                     mine.the_person(session, actor), body.requested)
    return adjustments.request_row(row)


@router.get("/policy")
def my_policy(session: Session = Depends(db, scope="function"),
              actor: Actor = PERSON) -> dict[str, Any]:
    """The policy in force (text and hash), my handsets still to sign for, my receipts."""
    clock = SystemClock()
    person = mine.the_person(session, actor)
    current = policy.current_version(session, clock)
    return {
        "policy": {"version": current.version, "sha256": current.sha256,
                   "effective_on": current.effective_on, "text": current.text}
        if current else None,
        "pending": [h.imei for h in policy.pending_handsets(session, clock, person.id)],
        "acceptances": [{"id": a.id, "imei": a.handset.imei, "version": a.policy.version,
                         "accepted_at": a.accepted_at, "how": a.how}
                        for a in policy.acceptances_of(session, person.id)],
    }


class AcceptBody(BaseModel):
    imei: str = Field(..., min_length=1, max_length=20)


@router.post("/policy/accept", status_code=201)
def accept_policy(request: Request, body: AcceptBody,
                  session: Session = Depends(db, scope="function"),
                  actor: Actor = PERSON) -> dict[str, Any]:
    """Sign the policy in force for my handset, on my own device; the receipt is e-mailed."""
    clock = SystemClock()
    person = mine.the_person(session, actor)
    handset = mine.my_handset(session, person, body.imei)
    row = policy.accept(session, actor, clock, person, handset, SignedHow.OWN_DEVICE.value)
    policy.queue_receipt(session, _settings(request), clock, row)
    return policy.receipt(session, row)


@router.get("/policy/receipts/{acceptance_id}")
def my_receipt(acceptance_id: RecordId, session: Session = Depends(db, scope="function"),
               actor: Actor = PERSON) -> dict[str, Any]:
    person = mine.the_person(session, actor)
    return policy.receipt(session, policy.get_acceptance(session, acceptance_id, person.id))


@router.get("/policy/receipts/{acceptance_id}/pdf")
def my_receipt_pdf(request: Request, acceptance_id: RecordId,
                   session: Session = Depends(db, scope="function"),
                   actor: Actor = PERSON) -> Response:
    person = mine.the_person(session, actor)
    row = policy.get_acceptance(session, acceptance_id, person.id)
    content = receipt_pdf(_settings(request), policy.receipt(session, row))
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="policy-receipt-{row.id}.pdf"'})


@router.get("/drive")
def drive(request: Request, session: Session = Depends(db, scope="function"),
          actor: Actor = PERSON) -> dict[str, Any]:
    """My H: drive: readiness, files due for my review, my waves, where my files went."""
    return my_drive.my_drive(session, _settings(request), SystemClock(),
                             mine.the_person(session, actor))


class DecideBody(BaseModel):
    ids: list[int] = Field(..., min_length=1, max_length=my_drive.MAX_LISTED)
    decision: str = Field(..., pattern="^(keep-migrate|keep-archive|dispose)$")
    justification: str = Field(..., min_length=1, max_length=2000)


@router.post("/drive/decide")
def decide(body: DecideBody, session: Session = Depends(db, scope="function"),
           actor: Actor = PERSON) -> dict[str, Any]:
    """Decide some of my files due for review at once, with one justification."""
    done = my_drive.decide_mine(session, actor, SystemClock(), mine.the_person(session, actor),
                                body.ids, body.decision, body.justification)
    return {"decided": len(done), "ids": [i.id for i in done]}
