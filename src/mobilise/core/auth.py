"""Logins (users), their roles, passwords (argon2) and API tokens (stored hashed, shown
once). A *user* is a login; a *person* is someone in the people register.
"""

from __future__ import annotations

import hashlib
import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    case,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship
from sqlalchemy.orm.exc import StaleDataError

from mobilise.core import audit
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import Clock, SystemClock
from mobilise.core.db import Base
from mobilise.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from mobilise.core.transitions import lock

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
    # Superseded by login_throttle (which also counts unknown usernames); kept so that no
    # SQLite table rebuild is needed. Nothing reads them.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Part of every session cookie: raising it ends every session of this login (sign-out,
    # new password, new roles, disabled).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Every lifecycle change raises the epoch, and its UPDATE names the epoch it read: of
    # two parallel changes to one login, the second matches no row (one winner).
    __mapper_args__ = {"version_id_col": session_epoch, "version_id_generator": False}
    # The person this login is (people.logins links it): by UPN on first sign-in, or by an
    # administrator.
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id"), index=True)
    # The Microsoft Entra object id of a login made by signing in with Microsoft: the key
    # later sign-ins find it by (a UPN can change, an object id cannot).
    oid: Mapped[str | None] = mapped_column(String(36), unique=True)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")

    def actor(self, request_id: str | None = None) -> Actor:
        roles = {Role(r) for r in self.roles} - {Role.PERSON}
        if self.person_id is not None:
            roles.add(Role.PERSON)
        return Actor(self.username, frozenset(roles), request_id, self.id, self.person_id)


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
        if item == Role.PERSON.value:
            raise InvalidInput("'person' is not granted: link the login to a person "
                               "(users link) and it follows")
        try:
            roles.append(Role(item).value)
        except ValueError:
            known = ", ".join(r.value for r in Role if r is not Role.PERSON)
            raise InvalidInput(f"unknown role {item!r}; roles are {known}") from None
    return sorted(set(roles))


def add_user(
    session: Session, actor: Actor, username: str, password: str, roles: list[str],
    display_name: str | None = None,
) -> User:
    _check_password(password)
    if session.scalar(select(User).where(User.username == username)):
        raise Conflict(f"user {username!r} exists")
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), roles=parse_roles(roles), active=True,
                failed_logins=0)
    return audit.create(session, actor, "user.add", user)  # type: ignore[no-any-return]


def _check_password(password: str) -> None:
    if len(password) < 12:
        raise InvalidInput("a password needs at least 12 characters")


def end_sessions(user: User) -> None:
    """Every signed session cookie of ``user`` stops working (inside an audited change)."""
    user.session_epoch = (user.session_epoch or 0) + 1


def one_winner(session: Session, user: User) -> None:
    """Write the change now: if another change to this login came first, refuse."""
    try:
        session.flush()
    except StaleDataError:
        session.rollback()
        raise Conflict(f"user {user.username!r} was changed at the same moment by someone "
                       "else; look again and retry") from None


def set_password(session: Session, actor: Actor, user: User, password: str) -> None:
    _check_password(password)
    with audit.change(session, actor, "user.password", user):
        user.password_hash = _hasher.hash(password)
        end_sessions(user)
    one_winner(session, user)
    clear_throttle(session, user.username)


def set_roles(session: Session, actor: Actor, user: User, roles: list[str]) -> User:
    wanted = parse_roles(roles)
    if wanted == sorted(user.roles):
        return user
    with audit.change(session, actor, "user.roles", user):
        user.roles = wanted
        end_sessions(user)
    one_winner(session, user)
    return user


def set_active(session: Session, actor: Actor, user: User, active: bool,
               reason: str | None = None) -> User:
    """Disable a login (its sessions end, its API tokens stop working) or enable it again
    (which also lifts a sign-in lock on its username)."""
    if actor.user_id is not None and actor.user_id == user.id and not active:
        raise InvalidInput("you cannot disable your own login")
    if user.active != active:
        with audit.change(session, actor, "user.enable" if active else "user.disable", user,
                          reason=reason):
            user.active = active
            end_sessions(user)
        one_winner(session, user)
    if active:
        clear_throttle(session, user.username)
    return user


def sign_out(session: Session, user: User) -> None:
    """Sign-out ends the login's sessions everywhere: a copied cookie is worth nothing."""
    with audit.change(session, user.actor(), "user.logout", user):
        end_sessions(user)
    with suppress(Conflict):  # another sign-out (or change) ended them first: no matter
        one_winner(session, user)


def token_rows(user: User) -> list[dict[str, Any]]:
    """A login's API tokens: ids, names and prefixes, never the tokens."""
    return [{"id": t.id, "username": user.username, "name": t.name, "prefix": t.prefix,
             "created_at": t.created_at, "revoked_at": t.revoked_at}
            for t in sorted(user.tokens, key=lambda t: t.id)]


def user_row(user: User) -> dict[str, Any]:
    return {"username": user.username, "name": user.display_name, "roles": list(user.roles),
            "active": user.active, "person_id": user.person_id,
            "entra": user.oid is not None,
            "tokens": sum(1 for t in user.tokens if t.revoked_at is None)}


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


@dataclass(frozen=True)
class LoginPolicy:
    """How failed sign-ins slow an attacker down (docs/security.md, "Sign-in throttling").

    Failures are counted per source address and per username (known or not). An address
    is blocked after fewer failures than an account, so one attacker's address is shut
    out long before the account is locked for everyone; the account lock is what stops
    an attacker who spreads over many addresses.
    """

    account_attempts: int = 30
    account_lockout: timedelta = timedelta(minutes=5)
    address_attempts: int = 10
    address_block: timedelta = timedelta(minutes=15)
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Any) -> LoginPolicy:
        return cls(account_attempts=settings.login_attempts,
                   account_lockout=timedelta(seconds=settings.login_lockout_seconds),
                   address_attempts=settings.login_address_attempts,
                   address_block=timedelta(seconds=settings.login_address_block_seconds),
                   window=timedelta(seconds=settings.login_window_seconds))


class LoginThrottle(Base):
    """Failed sign-ins per ``("account", username)`` and ``("address", ip)``: counters,
    not records, so unaudited; each failure is an audit event of its own."""

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_start: Mapped[float] = mapped_column(Float)  # seconds since the epoch
    blocked_until: Mapped[float] = mapped_column(Float, default=0.0)


# The same message for an unknown user, a wrong password and a disabled login, so the
# answer never tells whether a username exists; a blocked source or username gets its own
# message, whether or not the username exists.
WRONG = "wrong username or password"
BLOCKED = "too many failed attempts; try again later"


@cache
def _dummy_hash() -> str:
    """Verified for unknown users, so that they take as long as a wrong password does
    (made on first use: every CLI command imports this module)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def _account_key(username: str) -> str:
    # Hashed: what is typed as a username is sometimes a password.
    return hashlib.sha256(username.strip().lower().encode()).hexdigest()


def _throttle_keys(username: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("account", _account_key(username))]
    if address:
        keys.append(("address", address[:200]))
    return keys


def _blocked(session: Session, keys: list[tuple[str, str]], now: float) -> bool:
    rows = session.execute(select(LoginThrottle.scope, LoginThrottle.key,
                                  LoginThrottle.blocked_until)
                           .where(LoginThrottle.scope.in_([k[0] for k in keys]),
                                  LoginThrottle.key.in_([k[1] for k in keys]))).all()
    wanted = set(keys)
    return any((r.scope, r.key) in wanted and r.blocked_until > now for r in rows)


def _count_failure(session: Session, scope: str, key: str, limit: int, block: timedelta,
                   window: timedelta, now: float) -> int:
    """One more failure for ``(scope, key)``, counted by the database in one statement (a
    read in Python and a write would lose parallel failures); blocks at ``limit``."""
    row = LoginThrottle
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    expired = row.window_start < now - window.total_seconds()
    upsert = insert(row).values(scope=scope, key=key, failures=1, window_start=now,
                                blocked_until=0.0)
    stmt = upsert.on_conflict_do_update(
        index_elements=["scope", "key"],
        set_={"failures": case((expired, 1), else_=row.failures + 1),
              "window_start": case((expired, now), else_=row.window_start)},
    ).returning(row.failures)
    failures = int(session.execute(stmt).scalar_one())
    if failures >= limit:
        session.execute(update(row).where(row.scope == scope, row.key == key)
                        .values(blocked_until=now + block.total_seconds(), failures=0,
                                window_start=now))
    return failures


def clear_throttle(session: Session, username: str) -> None:
    """Lift a username's lock (an administrator's ``users enable`` or new password)."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.scope == "account",
                                                LoginThrottle.key == _account_key(username)))


def authenticate(
    session: Session, username: str, password: str, *, address: str | None = None,
    policy: LoginPolicy | None = None, clock: Clock | None = None,
) -> User:
    """Check a password. Failures are counted per username and per source ``address``;
    either, past its limit, refuses every attempt for a while (LoginPolicy)."""
    policy = policy or LoginPolicy()
    now = (clock or SystemClock()).now().timestamp()
    keys = _throttle_keys(username, address)
    if _blocked(session, keys, now):
        raise NotAuthenticated(BLOCKED)
    user = session.scalar(select(User).where(User.username == username))
    try:
        _hasher.verify(user.password_hash if user is not None else _dummy_hash(), password)
        verified = user is not None and user.active
    except (VerificationError, InvalidHashError):
        verified = False
    if not verified:
        limits = {"account": policy.account_attempts, "address": policy.address_attempts}
        blocks = {"account": policy.account_lockout, "address": policy.address_block}
        counts = {scope: _count_failure(session, scope, key, limits[scope], blocks[scope],
                                        policy.window, now) for scope, key in keys}
        audit.event(session, Actor("system:login"), "user.login_failed", "app_user",
                    str(user.id) if user is not None else None,
                    # An unknown username is not recorded: it is often a password
                    # typed into the wrong field.
                    {"username": user.username if user is not None else None,
                     "address": address, "failures": counts})
        raise NotAuthenticated(WRONG)
    assert user is not None
    clear_throttle(session, username)
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


def revoke_token(session: Session, actor: Actor, token_id: int, clock: Clock | None = None,
                 *, user: User | None = None) -> None:
    """Revoke a token (of ``user``, when given: a token id of another login is not found)."""
    record = session.get(ApiToken, token_id)
    if record is None or (user is not None and record.user_id != user.id):
        raise NotFound(f"no API token {token_id}" + (f" of {user.username!r}" if user else ""))
    # Locked and read again: of two revocations at once, the second finds it revoked.
    lock(session, [record])
    if record.revoked_at is not None:
        return
    with audit.change(session, actor, "token.revoke", record):
        record.revoked_at = (clock or SystemClock()).now()


def user_for_token(session: Session, token: str) -> User:
    record = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_digest(token)))
    if record is None or record.revoked_at is not None or not record.user.active:
        raise NotAuthenticated("invalid or revoked API token")
    return record.user
