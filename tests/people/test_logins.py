"""Logins linked to people: by an administrator, by UPN at sign-in, and made on first
sign-in with Microsoft (roles from the Entra mapping; leavers and strangers refused)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from mobilise.core import auth
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_factory, session_scope
from mobilise.core.errors import Conflict, InvalidInput, NotAuthenticated
from mobilise.core.oidc import Identity
from mobilise.core.settings import Settings
from mobilise.people import logins
from mobilise.people.models import Person
from tests.factories import ADMIN, load_people

ROLE_MAP = {"Records.Manager": ["records"], "group-auditors": ["auditor"]}


def entra_settings(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(update={"entra_role_map": ROLE_MAP, **changes})


def identity(n: int = 1, oid: str | None = None, roles: tuple[str, ...] = (),
             groups: tuple[str, ...] = (), upn: str | None = None) -> Identity:
    return Identity(oid=oid or f"oid-{n}", upn=upn or f"Alex{n}.Smith@example.police.uk",
                    name=f"Alex{n} Smith", app_roles=roles, groups=groups)


def actions(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == action)) or 0


@pytest.fixture
def people(session: Session, tmp_path: Path) -> Session:
    load_people(session, tmp_path, count=4)
    return session


def test_first_sign_in_makes_a_login_linked_by_upn(people: Session, settings: Settings) -> None:
    user = logins.sign_in_with_entra(people, identity(1, roles=("Records.Manager",)),
                                     entra_settings(settings))
    person = logins.find_person(people, "100001")
    assert user.person_id == person.id and user.oid == "oid-1"
    assert user.roles == ["records"] and user.username == "Alex1.Smith@example.police.uk"
    assert actions(people, "user.add") == 1
    with pytest.raises(NotAuthenticated):  # no password was ever set
        auth.authenticate(people, user.username, "!")


def test_an_officer_without_mapped_claims_has_no_staff_role(people: Session,
                                                            settings: Settings) -> None:
    user = logins.sign_in_with_entra(people, identity(2, groups=("unmapped",)),
                                     entra_settings(settings))
    assert user.roles == [] and user.person_id is not None


def test_later_sign_ins_find_the_login_and_follow_entra_roles(people: Session,
                                                              settings: Settings) -> None:
    s = entra_settings(settings)
    first = logins.sign_in_with_entra(people, identity(1, roles=("Records.Manager",)), s)
    people.commit()
    again = logins.sign_in_with_entra(people, identity(1, groups=("group-auditors",)), s)
    assert again.id == first.id and again.roles == ["auditor"]
    assert actions(people, "user.roles") == 1


def test_a_leaver_cannot_sign_in(people: Session, settings: Settings) -> None:
    s = entra_settings(settings)
    logins.sign_in_with_entra(people, identity(1), s)
    people.execute(update(Person).where(Person.number == "100001").values(status="leaver"))
    with pytest.raises(NotAuthenticated, match="left"):
        logins.sign_in_with_entra(people, identity(1), s)
    with pytest.raises(NotAuthenticated, match="left"):  # nor the first time
        people.execute(update(Person).where(Person.number == "100002").values(status="leaver"))
        logins.sign_in_with_entra(people, identity(2), s)
    assert actions(people, "user.login_refused") == 2


def test_someone_not_in_the_register_is_refused_or_a_viewer(people: Session,
                                                            settings: Settings) -> None:
    stranger = identity(9, upn="contractor@example.police.uk", roles=("Records.Manager",))
    with pytest.raises(NotAuthenticated, match="not in the people register"):
        logins.sign_in_with_entra(people, stranger, entra_settings(settings))
    assert people.scalar(select(auth.User).where(auth.User.oid == "oid-9")) is None
    user = logins.sign_in_with_entra(people, stranger, entra_settings(
        settings, entra_unknown_person="viewer"))
    assert user.roles == ["viewer"] and user.person_id is None


def test_a_disabled_login_cannot_sign_in(people: Session, settings: Settings) -> None:
    s = entra_settings(settings)
    user = logins.sign_in_with_entra(people, identity(1), s)
    auth.set_active(people, ADMIN, user, False)
    with pytest.raises(NotAuthenticated):
        logins.sign_in_with_entra(people, identity(1), s)


def test_a_local_login_with_the_upn_as_name_is_not_taken_over(people: Session,
                                                              settings: Settings) -> None:
    auth.add_user(people, ADMIN, "Alex1.Smith@example.police.uk", "a long enough password",
                  ["admin"])
    with pytest.raises(NotAuthenticated, match="local login"):
        logins.sign_in_with_entra(people, identity(1), entra_settings(settings))


def test_parallel_first_sign_ins_make_one_login(settings: Settings, tmp_path: Path) -> None:
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=2)
    s_ = entra_settings(settings)
    sessions = session_factory(settings)
    barrier = threading.Barrier(4)
    made: list[int] = []
    errors: list[BaseException] = []

    def sign_in() -> None:
        try:
            with sessions() as s:
                barrier.wait()
                user = logins.sign_in_with_entra(s, identity(1, roles=("Records.Manager",)), s_)
                s.commit()
                made.append(user.id)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sign_in) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(set(made)) == 1 and len(made) == 4
    with session_scope(settings) as s:
        assert s.scalar(select(func.count()).select_from(auth.User)
                        .where(auth.User.oid == "oid-1")) == 1
        assert actions(s, "user.add") == 1


def test_link_and_unlink(people: Session) -> None:
    user = auth.add_user(people, ADMIN, "desk1", "a long enough password", ["service-desk"])
    people.flush()
    epoch = user.session_epoch
    one, two = logins.find_person(people, "100001"), logins.find_person(
        people, "ALEX2.smith@example.police.uk")
    logins.link_login(people, ADMIN, user, one)
    assert user.person_id == one.id and user.session_epoch == epoch + 1
    logins.link_login(people, ADMIN, user, one)  # again: nothing changes
    assert actions(people, "user.link") == 1
    with pytest.raises(Conflict, match="unlink it first"):
        logins.link_login(people, ADMIN, user, two)
    logins.unlink_login(people, ADMIN, user)
    assert user.person_id is None and actions(people, "user.unlink") == 1
    people.execute(update(Person).where(Person.id == two.id).values(status="leaver"))
    people.expire_all()
    with pytest.raises(InvalidInput, match="left"):
        logins.link_login(people, ADMIN, user, logins.find_person(people, "100002"))


def test_a_password_sign_in_links_a_login_named_by_upn(people: Session) -> None:
    user = auth.add_user(people, ADMIN, "alex3.smith@example.police.uk",
                         "a long enough password", [])
    plain = auth.add_user(people, ADMIN, "breakglass", "a long enough password", ["admin"])
    people.flush()
    logins.link_on_password_sign_in(people, user)
    logins.link_on_password_sign_in(people, plain)
    assert user.person_id == logins.find_person(people, "100003").id
    assert plain.person_id is None


def test_a_roster_that_makes_someone_a_leaver_disables_their_login(
        people: Session, settings: Settings, tmp_path: Path) -> None:
    from mobilise.people import roster
    from tests.factories import ROSTER_HEADER, person_row, write_csv

    user = logins.sign_in_with_entra(people, identity(1), entra_settings(settings))
    token = auth.issue_token(people, ADMIN, user, "laptop")
    people.commit()
    epoch = user.session_epoch
    rows = [person_row(i) for i in range(4) if i != 1]
    roster.import_roster(people, ADMIN, write_csv(tmp_path / "r2.csv", ROSTER_HEADER, rows),
                         allow_mass_leavers=True)
    people.commit()
    assert not user.active and user.session_epoch == epoch + 1
    with pytest.raises(NotAuthenticated):
        auth.user_for_token(people, token)
