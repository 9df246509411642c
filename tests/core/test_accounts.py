"""Logins: sign-in throttling per username and source address, the same answer for
unknown users, and the account lifecycle (disable, enable, password, roles, tokens)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from mobilise.core import auth
from mobilise.core.audit import AuditEntry
from mobilise.core.clock import FixedClock
from mobilise.core.db import session_factory
from mobilise.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from mobilise.core.settings import Settings
from tests.factories import ADMIN

PASSWORD = "correct horse battery"
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture
def users(session: Session) -> dict[str, auth.User]:
    made = {name: auth.add_user(session, ADMIN, name, PASSWORD, roles)
            for name, roles in (("admin", ["admin"]), ("alice", ["records"]))}
    session.commit()
    return made


def _fail(session: Session, username: str, address: str, *, policy: auth.LoginPolicy,
          at: datetime = T0) -> str:
    with pytest.raises(NotAuthenticated) as caught:
        auth.authenticate(session, username, "wrong password!", address=address,
                          policy=policy, clock=FixedClock(at))
    session.commit()
    return caught.value.message


def _login(session: Session, username: str, address: str, *, policy: auth.LoginPolicy,
           at: datetime = T0) -> auth.User:
    user = auth.authenticate(session, username, PASSWORD, address=address, policy=policy,
                             clock=FixedClock(at))
    session.commit()
    return user


def test_an_address_is_blocked_before_the_account_is_locked(
        session: Session, users: dict[str, auth.User]) -> None:
    policy = auth.LoginPolicy(account_attempts=6, address_attempts=3)
    for _ in range(3):
        assert _fail(session, "admin", "203.0.113.9", policy=policy) == auth.WRONG
    # The attacker's address is shut out, even with the right password ...
    with pytest.raises(NotAuthenticated, match="too many failed attempts"):
        _login(session, "admin", "203.0.113.9", policy=policy)
    # ... while the administrator, elsewhere, still signs in.
    assert _login(session, "admin", "10.0.0.5", policy=policy).username == "admin"


def test_an_account_is_locked_by_failures_from_many_addresses(
        session: Session, users: dict[str, auth.User]) -> None:
    policy = auth.LoginPolicy(account_attempts=4, address_attempts=3)
    for n in range(4):
        _fail(session, "alice", f"203.0.113.{n}", policy=policy)
    with pytest.raises(NotAuthenticated, match="too many failed attempts"):
        _login(session, "alice", "10.0.0.5", policy=policy)
    # The lock ends by itself ...
    later = T0 + policy.account_lockout + timedelta(seconds=1)
    assert _login(session, "alice", "10.0.0.5", policy=policy, at=later).username == "alice"
    # ... or an administrator lifts it at once.
    for n in range(4):
        _fail(session, "alice", f"198.51.100.{n}", policy=policy, at=later)
    auth.set_active(session, ADMIN, auth.get_user(session, "alice"), True)
    session.commit()
    assert _login(session, "alice", "10.0.0.5", policy=policy, at=later).username == "alice"


def test_old_failures_are_forgotten(session: Session, users: dict[str, auth.User]) -> None:
    policy = auth.LoginPolicy(account_attempts=3, address_attempts=3,
                              window=timedelta(minutes=10))
    _fail(session, "alice", "203.0.113.1", policy=policy)
    _fail(session, "alice", "203.0.113.1", policy=policy)
    later = T0 + timedelta(minutes=11)
    _fail(session, "alice", "203.0.113.1", policy=policy, at=later)  # counts as the first
    assert _login(session, "alice", "203.0.113.1", policy=policy, at=later).username == "alice"


def test_unknown_users_get_the_same_answers(session: Session, users: dict[str, auth.User],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []
    real = auth._hasher
    dummy = auth._dummy_hash()

    class Spy:
        def verify(self, hash_: str, password: str) -> bool:
            verified.append(hash_)
            return real.verify(hash_, password)

    monkeypatch.setattr(auth, "_hasher", Spy())
    policy = auth.LoginPolicy(account_attempts=2, address_attempts=100)
    answers = {name: [_fail(session, name, "203.0.113.7", policy=policy) for _ in range(3)]
               for name in ("alice", "nobody")}
    assert answers["alice"] == answers["nobody"] == [
        auth.WRONG, auth.WRONG, "too many failed attempts; try again later"]
    # An unknown user costs an argon2 verification, as a wrong password does.
    assert len(verified) == 4 and verified.count(dummy) == 2
    assert all(h.startswith("$argon2") for h in verified)


def test_a_disabled_login_gets_the_wrong_password_answer(
        session: Session, users: dict[str, auth.User]) -> None:
    auth.set_active(session, ADMIN, users["alice"], False, "left the team")
    session.commit()
    with pytest.raises(NotAuthenticated, match="wrong username or password"):
        _login(session, "alice", "10.0.0.5", policy=auth.LoginPolicy())


def test_failures_are_audited_without_unknown_usernames(
        session: Session, users: dict[str, auth.User]) -> None:
    policy = auth.LoginPolicy()
    _fail(session, "alice", "203.0.113.7", policy=policy)
    _fail(session, "my secret password", "203.0.113.7", policy=policy)
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "user.login_failed").order_by(AuditEntry.seq)).all()
    assert [e.after["username"] for e in entries] == ["alice", None]
    assert "my secret password" not in str([e.after for e in entries])
    assert entries[1].after["failures"] == {"account": 1, "address": 2}


def test_lifecycle_ends_sessions_and_is_audited(session: Session,
                                                users: dict[str, auth.User]) -> None:
    alice = users["alice"]
    epochs = [alice.session_epoch]
    auth.set_password(session, ADMIN, alice, "another long password")
    epochs.append(alice.session_epoch)
    auth.set_roles(session, ADMIN, alice, ["records", "auditor"])
    epochs.append(alice.session_epoch)
    auth.set_roles(session, ADMIN, alice, ["auditor", "records"])  # no change: no entry
    auth.set_active(session, ADMIN, alice, False, "on leave")
    epochs.append(alice.session_epoch)
    auth.set_active(session, ADMIN, alice, True)
    auth.sign_out(session, alice)
    epochs.append(alice.session_epoch)
    session.commit()
    assert epochs == sorted(set(epochs)) and len(epochs) == 5
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity == "app_user", AuditEntry.entity_id == str(alice.id))
        .order_by(AuditEntry.seq)).all()
    assert actions == ["user.add", "user.password", "user.roles", "user.disable",
                       "user.enable", "user.logout"]
    assert alice.roles == ["auditor", "records"]


def test_tokens_are_listed_by_id_and_revoked_per_login(
        session: Session, users: dict[str, auth.User]) -> None:
    alice, admin = users["alice"], users["admin"]
    plain = auth.issue_token(session, ADMIN, alice, "laptop")
    other = auth.issue_token(session, ADMIN, admin, "admin's")
    session.commit()
    rows = auth.token_rows(alice)
    assert [(r["name"], r["revoked_at"]) for r in rows] == [("laptop", None)]
    assert plain not in str(rows) and rows[0]["prefix"] == plain[:10]
    admin_token = auth.token_rows(admin)[0]["id"]
    with pytest.raises(NotFound):  # another login's token is not alice's to revoke
        auth.revoke_token(session, ADMIN, admin_token, user=alice)
    auth.revoke_token(session, ADMIN, rows[0]["id"], user=alice)
    session.commit()
    with pytest.raises(NotAuthenticated):
        auth.user_for_token(session, plain)
    assert auth.user_for_token(session, other).username == "admin"


def test_cannot_disable_oneself(session: Session, users: dict[str, auth.User]) -> None:
    admin = users["admin"]
    with pytest.raises(InvalidInput, match="your own login"):
        auth.set_active(session, admin.actor(), admin, False)


def test_typed_usernames_are_not_kept_in_clear(session: Session,
                                               users: dict[str, auth.User]) -> None:
    _fail(session, "my secret password", "203.0.113.7", policy=auth.LoginPolicy())
    keys = session.scalars(select(auth.LoginThrottle.key)).all()
    assert len(keys) == 2 and not any("secret" in k for k in keys)


def test_two_changes_to_one_login_have_one_winner(settings: Settings,
                                                  session: Session,
                                                  users: dict[str, auth.User]) -> None:
    """Both read the login before either wrote: the second is refused, with one entry."""
    first, second = session_factory(settings)(), session_factory(settings)()
    try:
        mine = auth.get_user(first, "alice")
        theirs = auth.get_user(second, "alice")
        auth.set_active(first, ADMIN, mine, False, "left")
        first.commit()
        with pytest.raises(Conflict, match="at the same moment"):
            auth.set_roles(second, ADMIN, theirs, ["auditor"])
        second.rollback()
        stale = auth.get_user(second, "alice")
        assert (stale.active, stale.roles) == (False, ["records"])
        # A stale sign-out is no error: the sessions have ended either way.
        third = session_factory(settings)()
        old = auth.get_user(third, "alice")
        auth.set_active(second, ADMIN, stale, True)
        second.commit()
        auth.sign_out(third, old)
        third.commit()
        third.close()
    finally:
        first.close()
        second.close()
    actions = session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity == "app_user").order_by(AuditEntry.seq)).all()
    assert actions == ["user.add", "user.add", "user.disable", "user.enable"]


def test_the_person_pseudo_role_is_held_only_through_a_link() -> None:
    from mobilise.core.actor import Actor, Role

    person = frozenset({Role.PERSON})
    officer = Actor("officer", frozenset({Role.PERSON}), person_id=7)
    admin = Actor("root", frozenset({Role.ADMIN}))
    assert officer.has_any(person) and not admin.has_any(person)
    # An officer with no staff role is no viewer of the programme's pages...
    assert not officer.has_any(frozenset({Role.VIEWER}))
    # ...and an administrator still passes every staff guard.
    assert admin.has_any(frozenset({Role.RECORDS})) and admin.has_any(frozenset())
