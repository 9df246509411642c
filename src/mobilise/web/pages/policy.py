"""The acceptable-use policy for the desk and the programme (versions, publishing, who has
accepted the version in force), and people's requests to change their reasonable
adjustments, for the service desk to settle."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.errors import InvalidInput, MobiliseError
from mobilise.devices import policy
from mobilise.people import adjustments
from mobilise.web.auth import db, requires
from mobilise.web.pages.render import form_fields, page
from mobilise.web.params import RecordId

router = APIRouter(include_in_schema=False)
FORM = Depends(form_fields)
READERS = (Role.SERVICE_DESK, Role.PROGRAMME)


def _policy_page(request: Request, session: Session, *, show: str = "",
                 error: str | None = None, status_code: int = 200,
                 done: str | None = None) -> HTMLResponse:
    clock = SystemClock()
    wanted = {"accepted": True, "not-accepted": False}.get(show)
    actor: Actor = request.state.actor
    return page(request, "policy.html", status_code=status_code, error=error, done=done,
                status=policy.acceptance_status(session, clock, accepted=wanted),
                versions=policy.versions(session), show=show,
                can_publish=actor.has_any(frozenset({Role.PROGRAMME})))


@router.get("/policy")
def policy_page(request: Request, show: str = Query("", pattern="^(|accepted|not-accepted)$"),
                done: str = Query("", max_length=20),
                session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(*READERS))) -> HTMLResponse:
    return _policy_page(request, session, show=show,
                        done="The new version is published." if done == "published" else None)


@router.post("/policy/versions")
def publish(request: Request, session: Session = Depends(db, scope="function"),
            actor: Actor = Depends(requires(Role.PROGRAMME)),
            form: dict[str, str] = FORM) -> Response:
    try:
        day = form.get("effective_on") or ""
        effective = date.fromisoformat(day) if day else None
    except ValueError:
        return _policy_page(request, session, error=f"{day[:20]!r} is not a date",
                            status_code=422)
    try:
        policy.publish_version(session, actor, SystemClock(), form.get("version", ""),
                               form.get("text", ""), effective)
    except MobiliseError as err:
        session.rollback()
        return _policy_page(request, session, error=err.message, status_code=err.status)
    return RedirectResponse("/policy?done=published", status_code=303)


def _adjustments_page(request: Request, session: Session, *, error: str | None = None,
                      status_code: int = 200) -> HTMLResponse:
    return page(request, "adjustments.html", status_code=status_code, error=error,
                requests=adjustments.open_requests(session))


@router.get("/adjustments")
def adjustments_page(request: Request, session: Session = Depends(db, scope="function"),
                     _: Actor = Depends(requires(Role.SERVICE_DESK))) -> HTMLResponse:
    """Open requests to change a person's recorded reasonable adjustments."""
    return _adjustments_page(request, session)


@router.post("/adjustments/{request_id}/settle")
def settle(request: Request, request_id: RecordId,
           session: Session = Depends(db, scope="function"),
           actor: Actor = Depends(requires(Role.SERVICE_DESK)),
           form: dict[str, str] = FORM) -> Response:
    try:
        if form.get("change") not in ("yes", "no"):
            raise InvalidInput("say whether the record changes")
        adjustments.settle(session, actor, SystemClock(), request_id,
                           adjustments=form.get("adjustments", "")
                           if form.get("change") == "yes" else None)
    except MobiliseError as err:
        session.rollback()
        return _adjustments_page(request, session, error=err.message, status_code=err.status)
    return RedirectResponse("/adjustments", status_code=303)
