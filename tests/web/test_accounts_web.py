"""Sessions that end on the server, the users API, special-category fields by role, and
no caching of authenticated answers."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mobilise.core import audit, auth
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.people.models import Person
from tests.factories import ADMIN
from tests.web.conftest import PASSWORD, Web


def _cookie(web: Web) -> str:
    value = web.client.cookies.get("mobilise_session")
    assert value
    return value


def _replay(web: Web, cookie: str, path: str = "/api/v1/me") -> int:
    web.client.cookies.clear()
    web.client.cookies.set("mobilise_session", cookie)
    return int(web.client.get(path).status_code)


def test_a_cookie_replayed_after_sign_out_is_refused(web: Web) -> None:
    assert web.login("viewer").status_code == 303
    stolen = _cookie(web)
    assert _replay(web, stolen) == 200
    r = web.client.post("/logout", data={"csrf_token": web.csrf()}, follow_redirects=False)
    assert r.status_code == 303
    assert _replay(web, stolen) == 401
    assert _replay(web, stolen, "/people") == 401
    # Signing in again works, with a new cookie.
    web.client.cookies.clear()
    assert web.login("viewer").status_code == 303
    assert web.client.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("change", ["password", "roles", "disable"])
def test_an_administrators_change_ends_the_users_sessions(web: Web, change: str) -> None:
    assert web.login("programme").status_code == 303
    cookie = _cookie(web)
    assert _replay(web, cookie) == 200
    base = "/api/v1/users/programme"
    if change == "password":
        r = web.client.put(f"{base}/password", json={"password": "a brand new password"},
                           headers=web.as_("admin"))
    elif change == "roles":
        r = web.client.put(f"{base}/roles", json={"roles": ["viewer"]}, headers=web.as_("admin"))
    else:
        r = web.client.post(f"{base}/disable", json={"reason": "left"}, headers=web.as_("admin"))
    assert r.status_code == 200, r.text
    assert _replay(web, cookie) == 401


def test_users_api_lifecycle(web: Web) -> None:
    admin = web.as_("admin")
    listed = web.client.get("/api/v1/users", headers=admin).json()["items"]
    assert {u["username"] for u in listed} >= {"admin", "viewer", "programme"}
    assert web.client.post("/api/v1/users/viewer/disable", headers=admin).json()["active"] is False
    assert web.client.get("/api/v1/me", headers=web.as_("viewer")).status_code == 401
    assert web.login("viewer").status_code == 401
    assert web.client.post("/api/v1/users/viewer/enable", headers=admin).json()["active"] is True
    assert web.client.get("/api/v1/me", headers=web.as_("viewer")).status_code == 200

    r = web.client.put("/api/v1/users/viewer/roles", json={"roles": ["auditor", "viewer"]},
                       headers=admin)
    assert r.json()["roles"] == ["auditor", "viewer"]
    assert web.client.put("/api/v1/users/viewer/roles", json={"roles": ["chief"]},
                          headers=admin).status_code == 422
    assert web.client.put("/api/v1/users/viewer/password", json={"password": "short"},
                          headers=admin).status_code == 422

    tokens = web.client.get("/api/v1/users/viewer/tokens", headers=admin).json()["items"]
    assert len(tokens) == 1 and web.tokens["viewer"] not in str(tokens)
    r = web.client.post(f"/api/v1/users/viewer/tokens/{tokens[0]['id']}/revoke", headers=admin)
    assert r.json()["items"][0]["revoked_at"] is not None
    assert web.client.get("/api/v1/me", headers=web.as_("viewer")).status_code == 401
    other = web.client.get("/api/v1/users/admin/tokens", headers=admin).json()["items"][0]
    assert web.client.post(f"/api/v1/users/viewer/tokens/{other['id']}/revoke",
                           headers=admin).status_code == 404
    with session_scope(web.settings) as s:
        actions = s.scalars(select(AuditEntry.action).where(AuditEntry.actor == "admin")).all()
    assert actions == ["user.disable", "user.enable", "user.roles", "token.revoke"]


def test_users_api_is_for_administrators_only(web: Web) -> None:
    for who in ("viewer", "programme", "auditor"):
        assert web.client.get("/api/v1/users", headers=web.as_(who)).status_code == 403
        assert web.client.post("/api/v1/users/admin/disable",
                               headers=web.as_(who)).status_code == 403


ROLE_USERS = {"desk": ["service-desk"], "mover": ["migration"], "records": ["records"]}


@pytest.fixture
def staff(web: Web) -> dict[str, dict[str, str]]:
    headers = {name: web.as_(name) for name in ("admin", "viewer", "programme", "auditor")}
    with session_scope(web.settings) as s:
        for name, roles in ROLE_USERS.items():
            user = auth.add_user(s, ADMIN, name, PASSWORD, roles)
            s.flush()
            headers[name] = {"Authorization": f"Bearer {auth.issue_token(s, ADMIN, user, 't')}"}
        p = s.scalars(select(Person).where(Person.number == "100001")).one()
        with audit.change(s, ADMIN, "person.update", p):
            p.adjustments = "hearing aid"
            p.home_directory = r"\\isilon\home$\asmith1"
    return headers


# Who may read each special-category field; everyone else does not get it at all.
SEES = {
    "adjustments": {"admin", "programme", "desk"},
    "home_directory": {"admin", "mover", "records"},
}


def test_special_category_fields_by_role(web: Web, staff: dict[str, dict[str, str]]) -> None:
    for who, headers in staff.items():
        one = web.client.get("/api/v1/people/100001", headers=headers).json()
        found = web.client.get("/api/v1/people?q=alex1", headers=headers).json()["items"]
        listed = next(p for p in found if p["number"] == "100001")
        page = web.client.get("/people/100001", headers=headers).text
        for field, allowed in SEES.items():
            value = {"adjustments": "hearing aid",
                     "home_directory": r"\\isilon\home$\asmith1"}[field]
            if who in allowed:
                assert one[field] == listed[field] == value, (who, field)
            else:
                assert field not in one and field not in listed, (who, field)
            label = {"adjustments": "Reasonable adjustments",
                     "home_directory": "Home directory"}[field]
            assert (label in page) is (who in allowed), (who, field)
            assert (value in page) is (who in allowed), (who, field)


def test_appointments_are_for_the_rollout_and_service_desk(
        web: Web, staff: dict[str, dict[str, str]]) -> None:
    for who, headers in staff.items():
        allowed = who in {"admin", "programme", "desk"}
        for path in ("/api/v1/rollout/appointments", "/api/v1/rollout/appointments/100001",
                     "/api/v1/rollout/appointments/100001/ics"):
            status = web.client.get(path, headers=headers).status_code
            assert (status == 200) is allowed and (status == 403) is (not allowed), (who, path)
        page = web.client.get("/rollout", headers=headers)
        assert page.status_code == 200
        assert ("Booked appointments" in page.text) is allowed, who


def test_authenticated_answers_are_not_cached(web: Web) -> None:
    for path in ("/api/v1/people/100001", "/api/v1/me", "/people/100001", "/"):
        r = web.client.get(path, headers=web.as_("admin"))
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-store", path
    assert web.client.get("/api/v1/people").headers["cache-control"] == "no-store"  # 401


def test_logins_are_linked_to_people_through_the_api(web: Web) -> None:
    admin = web.as_("admin")
    base = "/api/v1/users/programme/person"
    linked = web.client.put(base, json={"person": "alex3.smith@example.police.uk"},
                            headers=admin)
    assert linked.status_code == 200 and linked.json()["person"] == "100003"
    assert web.client.put(base, json={"person": "100003"}, headers=admin).status_code == 200
    other = web.client.put(base, json={"person": "100004"}, headers=admin)
    assert other.status_code == 409 and "unlink it first" in other.json()["detail"]
    assert web.client.put(base, json={"person": "nobody"}, headers=admin).status_code == 404
    assert web.client.put(base, json={}, headers=admin).status_code == 422
    assert web.client.put(base, json={"person": "100003"},
                          headers=web.as_("programme")).status_code == 403
    shown = web.client.get("/api/v1/users/programme", headers=admin).json()
    assert shown["person"] == "100003" and shown["person_name"] == "Alex3 Smith"
    unlinked = web.client.delete(base, headers=admin)
    assert unlinked.status_code == 200 and unlinked.json()["person"] is None
    assert web.client.delete("/api/v1/users/nobody/person", headers=admin).status_code == 404
