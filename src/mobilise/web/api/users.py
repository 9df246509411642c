"""``/api/v1/users``: logins and their lifecycle (administrators only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.people import logins
from mobilise.web.auth import db, requires
from mobilise.web.params import RecordId

router = APIRouter(prefix="/api/v1/users", tags=["users"])
Username = Annotated[str, Path(min_length=1, max_length=100)]


class Reason(BaseModel):
    reason: str | None = Field(None, max_length=500)


class NewPassword(BaseModel):
    password: str = Field(..., min_length=1, max_length=500)


class NewRoles(BaseModel):
    roles: list[str] = Field(..., max_length=20)


class PersonLink(BaseModel):
    person: str = Field(..., min_length=1, max_length=200, description="number or UPN")


def _user(session: Session, username: str) -> dict[str, Any]:
    return logins.login_row(session, auth.get_user(session, username))


@router.get("")
def list_users(session: Session = Depends(db, scope="function"),
               _: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    users = session.scalars(select(auth.User).options(selectinload(auth.User.tokens))
                            .order_by(auth.User.username))
    return {"items": [logins.login_row(session, u) for u in users]}


@router.put("/{username}/person")
def link_person(username: Username, body: PersonLink,
                session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    """Link the login to a person (by number or UPN); the login's sessions end. Linking
    it again to the same person changes nothing; to another person, 409 (unlink first)."""
    user = auth.get_user(session, username)
    logins.link_login(session, actor, user, logins.find_person(session, body.person))
    return logins.login_row(session, user)


@router.delete("/{username}/person")
def unlink_person(username: Username, session: Session = Depends(db, scope="function"),
                  actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    user = logins.unlink_login(session, actor, auth.get_user(session, username))
    return logins.login_row(session, user)


@router.get("/{username}")
def show_user(username: Username, session: Session = Depends(db, scope="function"),
              _: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    return _user(session, username)


@router.post("/{username}/disable")
def disable_user(username: Username, body: Reason | None = None,
                 session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    """Its sessions end at once and its API tokens stop working."""
    user = auth.get_user(session, username)
    auth.set_active(session, actor, user, False, body.reason if body else None)
    return auth.user_row(user)


@router.post("/{username}/enable")
def enable_user(username: Username, body: Reason | None = None,
                session: Session = Depends(db, scope="function"),
                actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    """Also lifts a sign-in lock on the username."""
    user = auth.get_user(session, username)
    auth.set_active(session, actor, user, True, body.reason if body else None)
    return auth.user_row(user)


@router.put("/{username}/password")
def set_password(username: Username, body: NewPassword,
                 session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    """The login's sessions end."""
    user = auth.get_user(session, username)
    auth.set_password(session, actor, user, body.password)
    return auth.user_row(user)


@router.put("/{username}/roles")
def set_roles(username: Username, body: NewRoles, session: Session = Depends(db, scope="function"),
              actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    """Replaces the roles; the login's sessions end."""
    user = auth.set_roles(session, actor, auth.get_user(session, username), body.roles)
    return auth.user_row(user)


@router.get("/{username}/tokens")
def list_tokens(username: Username, session: Session = Depends(db, scope="function"),
                _: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    """Ids, names and prefixes: a token itself is shown once, when issued."""
    return {"items": auth.token_rows(auth.get_user(session, username))}


@router.post("/{username}/tokens/{token_id}/revoke")
def revoke_token(username: Username, token_id: RecordId,
                 session: Session = Depends(db, scope="function"),
                 actor: Actor = Depends(requires(Role.ADMIN))) -> dict[str, Any]:
    user = auth.get_user(session, username)
    auth.revoke_token(session, actor, token_id, user=user)
    return {"items": auth.token_rows(user)}
