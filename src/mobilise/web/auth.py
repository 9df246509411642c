"""Every route declares who may use it: ``requires(Role...)`` or ``public_route``.

A guard resolves the actor from a Bearer API token or the signed session cookie; no
credentials is 401, the wrong role 403. Unsafe methods on a cookie session must carry the
session's CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``); API tokens
are not sent by browsers on their own, so they need none.
"""

from __future__ import annotations

import hmac
import secrets
import uuid
from collections.abc import Iterator

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.db import unit_of_work
from mobilise.core.errors import NotAuthenticated, PermissionDenied

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def db(request: Request) -> Iterator[Session]:
    """One session per request, committed when the handler succeeds.

    Always declared as ``Depends(db, scope="function")``: FastAPI then commits as soon as
    the handler's result is built, before the first byte of the answer, so a client told
    "created" can read what was created, and a commit the database refuses (a duplicate
    key: ``Conflict``, 409) is answered as such, not after a 200. With the default
    (request) scope the commit would run only after the answer was sent. A route
    declaring it otherwise would get a second session: ``tests/web/test_commit.py``
    checks every route."""
    with unit_of_work(request.app.state.sessions) as session:
        yield session


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get("csrf_token") or "")
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise PermissionDenied("missing or wrong CSRF token; reload the page and try again")


def request_id(request: Request) -> str:
    rid = getattr(request.state, "request_id", None)
    if rid is None:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
    return str(rid)


def _token_actor(session: Session, token: str, rid: str) -> Actor:
    return auth.user_for_token(session, token).actor(rid)


async def current_actor(request: Request, session: Session) -> Actor:
    # The database lookups run in the thread pool: on the event loop, one slow query
    # would stall every other request the process is serving.
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return await run_in_threadpool(_token_actor, session, header[7:].strip(),
                                       request_id(request))
    user_id = request.session.get("user_id")
    if user_id is None:
        raise NotAuthenticated("sign in, or send an API token as 'Authorization: Bearer ...'")
    login = await run_in_threadpool(session.get, auth.User, user_id)
    # The epoch is raised on sign-out, a new password or roles, and disabling: a cookie
    # from before any of them is refused, however recently it was signed.
    if login is None or not login.active or request.session.get("epoch") != login.session_epoch:
        request.session.clear()
        raise NotAuthenticated("your session has ended; sign in again")
    if request.method not in SAFE_METHODS:
        await check_csrf(request)
    return login.actor(request_id(request))


class RoleGuard:
    """A dependency that admits only actors holding one of ``roles`` (admin always)."""

    def __init__(self, roles: frozenset[Role]) -> None:
        self.roles = roles

    async def __call__(self, request: Request,
                       session: Session = Depends(db, scope="function")) -> Actor:
        actor = await current_actor(request, session)
        # Known before the role check, so that a refusal page still shows who is signed
        # in, what they may use, and the way out.
        request.state.actor = actor
        if not actor.has_any(self.roles):
            needed = ", ".join(sorted(r.value for r in self.roles))
            raise PermissionDenied(f"this needs one of the roles: {needed}")
        return actor


async def known_actor(request: Request) -> Actor | None:
    """Who is signed in, for a page that no guard served (an unknown path): None when
    nobody is, or the session is not good, never an error."""
    actor: Actor | None = getattr(request.state, "actor", None)
    if actor is not None or "session" not in request.scope:
        return actor
    if request.session.get("user_id") is None:
        return None
    try:
        with unit_of_work(request.app.state.sessions) as session:
            actor = await current_actor(request, session)
    except Exception:  # noqa: BLE001 - an error page must render whatever this says
        return None
    request.state.actor = actor
    return actor


def requires(*roles: Role) -> RoleGuard:
    return RoleGuard(frozenset(roles))


NOT_LINKED = ("your login is not linked to a person in the register, so there is nothing "
              "of your own to show here: ask the service desk to link it")


class PersonGuard(RoleGuard):
    """Admits a login linked to a person (the ``person`` pseudo-role), whatever its staff
    roles, and no other: an administrator without a person is refused, plainly."""

    def __init__(self) -> None:
        super().__init__(frozenset({Role.PERSON}))

    async def __call__(self, request: Request,
                       session: Session = Depends(db, scope="function")) -> Actor:
        actor = await current_actor(request, session)
        request.state.actor = actor
        if actor.person_id is None:
            raise PermissionDenied(NOT_LINKED)
        return actor


def requires_person() -> PersonGuard:
    return PersonGuard()


async def public_route() -> None:
    """Marks a route as deliberately open to anyone (health check, sign-in page)."""


def actor_of(request: Request) -> Actor:
    actor: Actor = request.state.actor
    return actor
