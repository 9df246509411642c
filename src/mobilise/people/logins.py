"""Which person a login is: linking logins to people in the register (by an administrator,
or by UPN when someone signs in), and signing in with Microsoft Entra ID, where the login
is made on first sign-in and its roles follow the person's Entra app roles and groups.

A leaver (per the roster) cannot sign in, whichever way they try."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from mobilise.core import audit, auth
from mobilise.core.actor import Actor, Role
from mobilise.core.errors import Conflict, InvalidInput, NotAuthenticated, NotFound
from mobilise.core.oidc import Identity
from mobilise.core.settings import Settings
from mobilise.people.models import Person, PersonStatus

SIGN_IN = Actor("system:sign-in", frozenset({Role.ADMIN}))
LEAVER = "you have left the organisation (per the roster), so you cannot sign in"
UNKNOWN = ("{upn} is not in the people register, so cannot sign in to Mobilise; ask the "
           "programme team")


def find_person(session: Session, key: str) -> Person:
    """A person by number or UPN (UPNs compared without case, as Entra does)."""
    key = key.strip()
    person = session.scalar(select(Person).where(
        (Person.number == key) | (func.lower(Person.upn) == key.lower())))
    if person is None:
        raise NotFound(f"no person {key!r} (give a number or a UPN)")
    return person


def person_by_upn(session: Session, upn: str) -> Person | None:
    return session.scalar(select(Person).where(func.lower(Person.upn) == upn.strip().lower()))


def login_row(session: Session, user: auth.User) -> dict[str, Any]:
    """A login as the users list shows it, with the person it is linked to."""
    person = session.get(Person, user.person_id) if user.person_id is not None else None
    return {**auth.user_row(user), "person": person.number if person else None,
            "person_name": person.display_name if person else None}


def link_login(session: Session, actor: Actor, user: auth.User, person: Person) -> auth.User:
    """Link ``user`` to ``person``; linking it again to the same person changes nothing. A
    login linked to someone else must be unlinked first (no silent re-pointing)."""
    if user.person_id == person.id:
        return user
    if user.person_id is not None:
        raise Conflict(f"login {user.username!r} is linked to another person; unlink it "
                       "first")
    if person.status == PersonStatus.LEAVER.value:
        raise InvalidInput(f"{person.number} has left: a leaver's login is not linked")
    with audit.change(session, actor, "user.link", user):
        user.person_id = person.id
        auth.end_sessions(user)  # who the session's actor is has changed
    auth.one_winner(session, user)
    return user


def unlink_login(session: Session, actor: Actor, user: auth.User) -> auth.User:
    if user.person_id is None:
        return user
    with audit.change(session, actor, "user.unlink", user):
        user.person_id = None
        auth.end_sessions(user)
    auth.one_winner(session, user)
    return user


def refuse_leaver(session: Session, user: auth.User, address: str | None = None) -> None:
    """Refuse a login that is a leaver's: linked to one, or named by one's UPN."""
    person = (session.get(Person, user.person_id) if user.person_id is not None
              else person_by_upn(session, user.username))
    if person is not None and person.status == PersonStatus.LEAVER.value:
        _refused(session, user.username, "leaver", address)
        raise NotAuthenticated(LEAVER)


def disable_leavers_logins(session: Session, actor: Actor, person_ids: list[int]) -> None:
    """The logins of people who have just left are disabled: their sessions end at once
    and their API tokens stop working (sign-in was refused already). Someone who comes
    back needs an administrator's ``users enable``."""
    for user in session.scalars(select(auth.User).where(auth.User.person_id.in_(person_ids),
                                                        auth.User.active.is_(True))):
        with audit.change(session, actor, "user.disable", user, reason="left (roster)"):
            user.active = False
            auth.end_sessions(user)
    session.flush()


def link_on_password_sign_in(session: Session, user: auth.User) -> auth.User:
    """A local login named by a person's UPN is that person's: linked at sign-in."""
    if user.person_id is not None or "@" not in user.username:
        return user
    person = person_by_upn(session, user.username)
    if person is None or person.status == PersonStatus.LEAVER.value:
        return user
    return link_login(session, SIGN_IN, user, person)


def _refused(session: Session, upn: str, why: str, address: str | None) -> None:
    audit.event(session, SIGN_IN, "user.login_refused", "app_user", None,
                {"username": upn, "why": why, "address": address})


def mapped_roles(identity: Identity, role_map: dict[str, list[str]]) -> list[str]:
    """The Mobilise roles an Entra app role or group of ``identity`` gives (settings'
    ``entra_role_map``); none for an officer or member of staff with no staff role."""
    roles: set[str] = set()
    for claim in (*identity.app_roles, *identity.groups):
        roles.update(role_map.get(claim, []))
    return auth.parse_roles(sorted(roles))


def sign_in_with_entra(session: Session, identity: Identity, settings: Settings,
                       address: str | None = None) -> auth.User:
    """The login of the person ``identity`` names: found by object id, or made on first
    sign-in and linked to the person with that UPN; its roles set from the mapping.

    Two first sign-ins of one person at once: the login's unique object id (and
    username) admits one insert; the other finds that login and carries on."""
    for attempt in (1, 2):
        try:
            return _entra_login(session, identity, settings, address)
        except (IntegrityError, Conflict):
            session.rollback()
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _entra_login(session: Session, identity: Identity, settings: Settings,
                 address: str | None) -> auth.User:
    user = session.scalar(select(auth.User).where(auth.User.oid == identity.oid))
    person = (session.get(Person, user.person_id) if user is not None and user.person_id
              else person_by_upn(session, identity.upn))
    if person is not None and person.status == PersonStatus.LEAVER.value:
        _refused(session, identity.upn, "leaver", address)
        raise NotAuthenticated(LEAVER)
    if person is None and settings.entra_unknown_person == "refuse":
        _refused(session, identity.upn, "not in the people register", address)
        raise NotAuthenticated(UNKNOWN.format(upn=identity.upn))
    roles = (mapped_roles(identity, settings.entra_role_map) if person is not None
             else [Role.VIEWER.value])
    if user is None:
        user = _first_sign_in(session, identity, person, roles)
    elif not user.active:
        _refused(session, identity.upn, "login disabled", address)
        raise NotAuthenticated(auth.WRONG)
    else:
        if person is not None and user.person_id is None:
            link_login(session, SIGN_IN, user, person)
        auth.set_roles(session, SIGN_IN, user, roles)
    return user


def _first_sign_in(session: Session, identity: Identity, person: Person | None,
                   roles: list[str]) -> auth.User:
    taken = session.scalar(select(auth.User).where(auth.User.username == identity.upn,
                                                   auth.User.oid.is_(None)))
    if taken is not None:
        raise NotAuthenticated(f"a local login already has the name {identity.upn}, so a "
                               "login for signing in with Microsoft cannot be made; ask an "
                               "administrator (docs/operators.md, 'Local logins')")
    # No password: "!" is no argon2 hash, so no password ever verifies against it.
    user = auth.User(username=identity.upn, display_name=identity.name, password_hash="!",
                     roles=roles, active=True, failed_logins=0, oid=identity.oid,
                     person_id=person.id if person is not None else None)
    audit.create(session, SIGN_IN, "user.add", user,
                 reason="first sign-in with Microsoft")
    session.flush()  # the unique object id decides between parallel first sign-ins here
    return user
