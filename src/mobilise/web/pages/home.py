"""Sign in, sign out, and the overview."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.errors import NotAuthenticated, NotFound
from mobilise.core.readcache import aggregates
from mobilise.core.settings import Settings
from mobilise.people import logins
from mobilise.people.reports import register_summary
from mobilise.programme import figures
from mobilise.retention.review import pending_for
from mobilise.web.auth import check_csrf, db, public_route, requires
from mobilise.web.charts import bar_chart
from mobilise.web.overview import Panel, panels
from mobilise.web.pages.render import login_choices, page
from mobilise.web.pages.signin import landing

router = APIRouter(include_in_schema=False)


@router.get("/login", dependencies=[Depends(public_route)])
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return page(request, "login.html", error=None, next=next, **login_choices(request))


@router.post("/login", dependencies=[Depends(public_route)])
async def login(
    request: Request,
    username: str = Form(..., max_length=100),
    password: str = Form(..., max_length=500),
    next: str = Form("/", max_length=500),
    session: Session = Depends(db, scope="function"),
) -> Response:
    if not request.app.state.settings.local_passwords:
        raise NotFound("local passwords are turned off here: sign in with Microsoft")
    await check_csrf(request)
    policy = auth.LoginPolicy.from_settings(request.app.state.settings)
    # Behind a reverse proxy this is the proxy's address unless uvicorn trusts its
    # X-Forwarded-For (--forwarded-allow-ips; docs/security.md).
    address = request.client.host if request.client else None
    try:
        # argon2 takes tens of milliseconds by design: not on the event loop.
        user = await run_in_threadpool(_password_sign_in, session, username, password,
                                       address, policy)
    except NotAuthenticated as err:
        session.commit()  # keep the failed-attempt count
        return page(request, "login.html", status_code=401, error=err.message, next=next,
                    **login_choices(request))
    request.session.clear()  # a fresh session on sign-in: no fixation
    request.session["user_id"] = user.id
    request.session["epoch"] = user.session_epoch
    return RedirectResponse(landing(next, user), status_code=303)


def _password_sign_in(session: Session, username: str, password: str, address: str | None,
                      policy: auth.LoginPolicy) -> auth.User:
    user = auth.authenticate(session, username, password, address=address, policy=policy)
    logins.refuse_leaver(session, user, address)
    # Linked now, so that the session starts with the login's final epoch.
    user = logins.link_on_password_sign_in(session, user)
    session.commit()
    return user


@router.post("/logout")
def logout(request: Request, session: Session = Depends(db, scope="function"),
           actor: Actor = Depends(requires(Role.VIEWER, Role.PERSON))) -> Response:
    if actor.user_id is not None and request.session.get("user_id") == actor.user_id:
        # The cookie alone would still be valid until it expires: end it on the server.
        login = session.get(auth.User, actor.user_id)
        if login is not None:
            auth.sign_out(session, login)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


@router.get("/")
def overview(request: Request, session: Session = Depends(db, scope="function"),
             actor: Actor = Depends(requires(Role.VIEWER))) -> HTMLResponse:
    summary, chart, shown = overview_aggregates(session, request.app.state.settings)
    return page(request, "overview.html", summary=summary, chart=chart, panels=shown,
                my_reviews=pending_for(session, actor),
                stale_seconds=request.app.state.settings.web_aggregates_stale_seconds)


def overview_aggregates(session: Session, settings: Settings, *, fresh: bool = False
                        ) -> tuple[dict[str, Any], Markup, list[Panel]]:
    """Everyone opens the overview: its aggregates are computed once per audited change
    (and day, and configuration) for all readers, and may show the figures from before a
    change for ``web_aggregates_stale_seconds`` (``fresh``: never)."""
    clock = SystemClock()
    return aggregates.get(session, "overview", (clock.now().date(), settings.model_dump_json()),
                          lambda: _overview(session, settings, clock),
                          stale=0 if fresh else settings.web_aggregates_stale_seconds)


def _overview(session: Session, settings: Settings, clock: Clock
              ) -> tuple[dict[str, Any], Markup, list[Panel]]:
    # When the figures were worked out: a page may show them for a while after a change.
    summary = {**register_summary(session), "as_of": clock.now()}
    chart = bar_chart("People by org unit (active)",
                      [(u["org_unit"], u["active"]) for u in summary["by_unit"]],
                      link="/people?org_unit={}", table=False)
    shown = figures.headline(session, settings, clock)
    summary["figures"] = shown
    return summary, chart, panels(session, settings, clock, figures.by_key(shown))
