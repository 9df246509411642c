"""Logins (administrators): who may sign in, how, with which roles, and which person in
the register each login is; a login is linked to its person, or unlinked, from here."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.errors import MobiliseError
from mobilise.people import logins
from mobilise.web.auth import db, requires
from mobilise.web.pages.render import form_fields, page

router = APIRouter(include_in_schema=False)


def _logins(request: Request, session: Session, *, error: str | None = None,
            done: str | None = None, status_code: int = 200) -> HTMLResponse:
    users = session.scalars(select(auth.User).options(selectinload(auth.User.tokens))
                            .order_by(auth.User.username))
    return page(request, "logins.html", rows=[logins.login_row(session, u) for u in users],
                error=error, done=done, status_code=status_code)


@router.get("/users")
def list_logins(request: Request, session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(Role.ADMIN))) -> HTMLResponse:
    return _logins(request, session)


@router.post("/users/{username}/person")
def link_or_unlink(request: Request, username: Annotated[str, Path(max_length=100)],
                   session: Session = Depends(db, scope="function"),
                   actor: Actor = Depends(requires(Role.ADMIN)),
                   form: dict[str, str] = Depends(form_fields)) -> HTMLResponse:
    """``person`` given: link the login to that person (number or UPN); empty: unlink."""
    wanted = form.get("person", "").strip()[:200]
    try:
        user = auth.get_user(session, username)
        if wanted:
            person = logins.find_person(session, wanted)
            logins.link_login(session, actor, user, person)
            done = f"{username} is now {person.display_name} ({person.number})."
        else:
            logins.unlink_login(session, actor, user)
            done = f"{username} is linked to no person."
        session.commit()
    except MobiliseError as err:
        session.rollback()
        return _logins(request, session, error=err.message, status_code=err.status)
    return _logins(request, session, done=done)
