"""Logins (users), their roles, passwords (argon2) and API tokens (stored hashed, shown
once). A *user* is a login; a *person* is someone in the people register.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import Clock, SystemClock, utc
from mobilise.core.db import Base
from mobilise.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound

_hasher = PasswordHasher()
TOKEN_PREFIX = "mob_"


class User(audit.Audited, Base):
    __tablename__ = "app_user"
    __audit_exclude__ = frozenset({"password_hash"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    roles: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"))

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    def actor(self, request_id: str | None = None) -> Actor:
        return Actor(self.username, frozenset(Role(r) for r in self.roles), request_id, self.id)


class ApiToken(audit.Audited, Base):
    __tablename__ = "api_token"
    __audit_exclude__ = frozenset({"token_hash"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(back_populates="tokens")


def parse_roles(text: str | list[str]) -> list[str]:
    items = text.split(",") if isinstance(text, str) else text
    roles = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            roles.append(Role(item).value)
        except ValueError:
            known = ", ".join(r.value for r in Role)
            raise InvalidInput(f"unknown role {item!r}; roles are {known}") from None
    return sorted(set(roles))


def add_user(
    session: Session, actor: Actor, username: str, password: str, roles: list[str],
    display_name: str | None = None,
) -> User:
    if len(password) < 12:
        raise InvalidInput("a password needs at least 12 characters")
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username!r} exists")
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), roles=parse_roles(roles), active=True,
                failed_logins=0)
    return audit.create(session, actor, "user.add", user)  # type: ignore[no-any-return]


def set_password(session: Session, actor: Actor, user: User, password: str) -> None:
    if len(password) < 12:
        raise InvalidInput("a password needs at least 12 characters")
    with audit.change(session, actor, "user.password", user):
        user.password_hash = _hasher.hash(password)
        user.failed_logins = 0
        user.locked_until = None


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def authenticate(
    session: Session, username: str, password: str, *, max_attempts: int = 5,
    lockout: timedelta = timedelta(minutes=5), clock: Clock | None = None,
) -> User:
    """Check a password; after ``max_attempts`` failures the login is locked for a while."""
    now = (clock or SystemClock()).now()
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        _hasher.hash(password)  # spend the same time as a real check
        raise NotAuthenticated("wrong username or password")
    system = Actor("system:login")
    if user.locked_until and utc(user.locked_until) > now:
        raise NotAuthenticated("too many failed attempts; try again later")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        with audit.change(session, system, "user.login_failed", user):
            user.failed_logins += 1
            if user.failed_logins >= max_attempts:
                user.locked_until = now + lockout
                user.failed_logins = 0
        raise NotAuthenticated("wrong username or password") from None
    if user.failed_logins:
        with audit.change(session, system, "user.login", user):
            user.failed_logins = 0
            user.locked_until = None
    return user


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, actor: Actor, user: User, name: str, clock: Clock | None = None
) -> str:
    """Create an API token; the plain token is returned once and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name, prefix=token[:10], token_hash=_token_digest(token),
                      created_at=(clock or SystemClock()).now())
    audit.create(session, actor, "token.issue", record)
    return token


def revoke_token(session: Session, actor: Actor, token_id: int, clock: Clock | None = None) -> None:
    record = session.get(ApiToken, token_id)
    if record is None:
        raise NotFound(f"no API token {token_id}")
    with audit.change(session, actor, "token.revoke", record):
        record.revoked_at = (clock or SystemClock()).now()


def user_for_token(session: Session, token: str) -> User:
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if record is None or record.revoked_at is not None or not record.user.active:
        raise NotAuthenticated("invalid or revoked API token")
    return record.user
