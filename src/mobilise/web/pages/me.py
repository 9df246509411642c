"""My Mobilise: the signed-in person's own pages (my phone, the acceptable-use policy, my
H: drive). Each form posts, and is answered by a redirect to its page with what was done
(or by the page again with the refusal, nothing changed)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from mobilise.core.actor import Actor
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput, MobiliseError
from mobilise.core.settings import Settings
from mobilise.devices import policy
from mobilise.devices.models import SignedHow
from mobilise.migration import self_service as my_drive
from mobilise.people import adjustments
from mobilise.retention.dry_run import bytes_text
from mobilise.rollout import self_service as mine
from mobilise.rollout.notices import appointment_calendar
from mobilise.web.auth import db, requires_person
from mobilise.web.pages.render import form_data, form_fields, page
from mobilise.web.params import RecordId
from mobilise.web.receipt import receipt_pdf

router = APIRouter(include_in_schema=False)
PERSON = Depends(requires_person())
FORM = Depends(form_fields)

# What a redirect's ``done`` names, as the person reads it.
DONE = {
    "booked": "Your appointment is booked.",
    "moved": "Your appointment has moved.",
    "cancelled": "Your appointment is cancelled. The desk will offer you another.",
    "reported": "Your handset is reported. Its wipe and SIM bar are queued now.",
    "requested": "Your request is with the service desk.",
    "accepted": "Thank you: your acceptance is recorded and the receipt is on its way "
                "by e-mail.",
    "decided": "Your decisions are recorded.",
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _done(done: str) -> str | None:
    return DONE.get(done)


def _attempt(request: Request, session: Session, target: str, done: str,
             change: Callable[[], object], again: Callable[[str, int], HTMLResponse]
             ) -> Response:
    """Run ``change``; on success back to ``target`` saying ``done``, else the page again
    with the refusal (and nothing changed)."""
    try:
        change()
        session.flush()
    except MobiliseError as err:
        session.rollback()
        return again(err.message, err.status)
    return RedirectResponse(f"{target}?done={done}", status_code=303)


@router.get("/me")
def home(request: Request, session: Session = Depends(db, scope="function"),
         actor: Actor = PERSON) -> HTMLResponse:
    clock = SystemClock()
    phone = mine.my_phone(session, actor, clock)
    person = mine.the_person(session, actor)
    reviews = my_drive.my_reviews(session, person)
    return page(request, "me.html", phone=phone, pending_reviews=reviews["total"])


# --------------------------------------------------------------------------- my phone


def _phone(request: Request, session: Session, actor: Actor, *, error: str | None = None,
           status_code: int = 200, done: str | None = None) -> HTMLResponse:
    clock = SystemClock()
    return page(request, "me_phone.html", status_code=status_code, error=error, done=done,
                phone=mine.my_phone(session, actor, clock),
                open_days=mine.open_days(session, clock))


@router.get("/me/phone")
def phone(request: Request, done: str = Query("", max_length=20),
          session: Session = Depends(db, scope="function"),
          actor: Actor = PERSON) -> HTMLResponse:
    return _phone(request, session, actor, done=_done(done))


def _place(form: dict[str, str]) -> tuple[str, date]:
    """The form's ``place`` is ``SITE|YYYY-MM-DD`` (one radio button per open day)."""
    site, _, day = form.get("place", "").partition("|")
    try:
        return site, date.fromisoformat(day)
    except ValueError:
        raise InvalidInput("choose a day and a site") from None


def _phone_again(request: Request, session: Session, actor: Actor
                 ) -> Callable[[str, int], HTMLResponse]:
    return lambda message, status: _phone(request, session, actor, error=message,
                                          status_code=status)


@router.post("/me/appointment")
def book(request: Request, session: Session = Depends(db, scope="function"),
         actor: Actor = PERSON, form: dict[str, str] = FORM) -> Response:
    def change() -> None:
        site, day = _place(form)
        mine.book_mine(session, actor, SystemClock(), site, day)
    return _attempt(request, session, "/me/phone", "booked", change,
                    _phone_again(request, session, actor))


@router.post("/me/appointment/move")
def move(request: Request, session: Session = Depends(db, scope="function"),
         actor: Actor = PERSON, form: dict[str, str] = FORM) -> Response:
    def change() -> None:
        site, day = _place(form)
        mine.move_mine(session, actor, SystemClock(), site, day)
    return _attempt(request, session, "/me/phone", "moved", change,
                    _phone_again(request, session, actor))


@router.post("/me/appointment/cancel")
def cancel(request: Request, session: Session = Depends(db, scope="function"),
           actor: Actor = PERSON, form: dict[str, str] = FORM) -> Response:
    return _attempt(request, session, "/me/phone", "cancelled",
                    lambda: mine.cancel_mine(session, actor, form.get("reason", "")),
                    _phone_again(request, session, actor))


@router.get("/me/appointment.ics")
def ics(request: Request, session: Session = Depends(db, scope="function"),
        actor: Actor = PERSON) -> Response:
    text = appointment_calendar(mine.my_appointment(session, actor), _settings(request),
                                SystemClock())
    return Response(text, media_type="text/calendar; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="my-appointment.ics"'})


@router.post("/me/handsets/report")
def report(request: Request, session: Session = Depends(db, scope="function"),
           actor: Actor = PERSON, form: dict[str, str] = FORM) -> Response:
    return _attempt(request, session, "/me/phone", "reported",
                    lambda: mine.report_loss(session, actor, _settings(request), SystemClock(),
                                             form.get("imei", "")[:20], form.get("kind", ""),
                                             form.get("reference", "")[:60]),
                    _phone_again(request, session, actor))


@router.post("/me/adjustments")
def request_adjustment(request: Request, session: Session = Depends(db, scope="function"),
                       actor: Actor = PERSON, form: dict[str, str] = FORM) -> Response:
    return _attempt(request, session, "/me/phone", "requested",
                    lambda: adjustments.request_change(
                        session, actor, SystemClock(), mine.the_person(session, actor),
                        form.get("requested", "")),
                    _phone_again(request, session, actor))


# --------------------------------------------------------------------------- the policy


def _policy(request: Request, session: Session, actor: Actor, *, error: str | None = None,
            status_code: int = 200, done: str | None = None) -> HTMLResponse:
    clock = SystemClock()
    person = mine.the_person(session, actor)
    return page(request, "me_policy.html", status_code=status_code, error=error, done=done,
                policy=policy.current_version(session, clock),
                pending=policy.pending_handsets(session, clock, person.id),
                acceptances=policy.acceptances_of(session, person.id))


@router.get("/me/policy")
def my_policy(request: Request, done: str = Query("", max_length=20),
              session: Session = Depends(db, scope="function"),
              actor: Actor = PERSON) -> HTMLResponse:
    return _policy(request, session, actor, done=_done(done))


@router.post("/me/policy/accept")
def accept(request: Request, session: Session = Depends(db, scope="function"),
           actor: Actor = PERSON, form: dict[str, str] = FORM) -> Response:
    def change() -> None:
        if form.get("confirm") != "yes":
            raise InvalidInput("tick the box to say you have read and accept the policy")
        clock = SystemClock()
        person = mine.the_person(session, actor)
        handset = mine.my_handset(session, person, form.get("imei", "")[:20])
        row = policy.accept(session, actor, clock, person, handset,
                            SignedHow.OWN_DEVICE.value)
        policy.queue_receipt(session, _settings(request), clock, row)
    return _attempt(request, session, "/me/policy", "accepted", change,
                    lambda message, status: _policy(request, session, actor, error=message,
                                                    status_code=status))


@router.get("/me/policy/receipts/{acceptance_id}.pdf")
def receipt(request: Request, acceptance_id: RecordId,
            session: Session = Depends(db, scope="function"),
            actor: Actor = PERSON) -> Response:
    row = policy.get_acceptance(session, acceptance_id, mine.the_person(session, actor).id)
    content = receipt_pdf(_settings(request), policy.receipt(session, row))
    return Response(content, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="policy-receipt-{row.id}.pdf"'})


# --------------------------------------------------------------------------- my H: drive


def _drive(request: Request, session: Session, actor: Actor, *, error: str | None = None,
           status_code: int = 200, done: str | None = None) -> HTMLResponse:
    person = mine.the_person(session, actor)
    return page(request, "me_drive.html", status_code=status_code, error=error, done=done,
                drive=my_drive.my_drive(session, _settings(request), SystemClock(), person),
                bytes_text=bytes_text)


@router.get("/me/drive")
def drive(request: Request, done: str = Query("", max_length=20),
          session: Session = Depends(db, scope="function"),
          actor: Actor = PERSON) -> HTMLResponse:
    return _drive(request, session, actor, done=_done(done))


@router.post("/me/drive/decide")
def decide(request: Request, session: Session = Depends(db, scope="function"),
           actor: Actor = PERSON, form: FormData = Depends(form_data)) -> Response:
    ids = [int(str(v)) for v in form.getlist("item") if str(v).isdigit() and len(str(v)) < 19]
    return _attempt(request, session, "/me/drive", "decided",
                    lambda: my_drive.decide_mine(
                        session, actor, SystemClock(), mine.the_person(session, actor), ids,
                        str(form.get("decision") or ""), str(form.get("justification") or "")),
                    lambda message, status: _drive(request, session, actor, error=message,
                                                   status_code=status))

