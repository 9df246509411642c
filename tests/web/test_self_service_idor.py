"""Everything a person sees is their own: for every self-service route, bob (100001) asking
for or about anything of alice's (100000) or carol's (100003) is refused (403 or 404) and
changes nothing, and a route without an id answers with bob's records only.

``test_every_self_service_route_has_a_case`` fails when a /me route is added without a
case here."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.web.app import create_app
from tests.web.conftest import all_routes
from tests.web.self_service_estate import PASSWORD, Estate, build, with_drives


class Bob:
    """Bob's client, signed in by token (API) and cookie (pages)."""

    def __init__(self, client: TestClient, estate: Estate) -> None:
        self.client, self.estate, self.ids = client, estate, estate.ids
        self.headers = {"Authorization": f"Bearer {estate.tokens['bob']}"}
        page = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        client.post("/login", data={"username": "bob", "password": PASSWORD,
                                    "csrf_token": token.group(1), "next": "/"})
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/me").text)
        assert found
        self.csrf = found.group(1)

    def api(self, method: str, path: str, **kw: object) -> object:
        return self.client.request(method, path, headers=self.headers, **kw)  # type: ignore[arg-type]

    def form(self, path: str, data: dict[str, object]) -> object:
        return self.client.post(path, data={"csrf_token": self.csrf, **data},
                                follow_redirects=False)


Case = Callable[[Bob], None]
CASES: dict[tuple[str, str], Case] = {}


def case(method: str, *paths: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        for path in paths:
            CASES[(method, path)] = fn
        return fn
    return register


def _refused(r: object) -> None:
    status = r.status_code  # type: ignore[attr-defined]
    assert status in (403, 404), f"{status}: {r.text[:300]}"  # type: ignore[attr-defined]


def _shows_only_bob(text: str) -> None:
    assert "100001" in text or "Alex1 " in text or "Music/a.mp3" in text or "bob" in text
    for other in ("100000", "100003", "Alex0 ", "Alex3 ", "Music/c.mp3"):
        assert other not in text, other


# --- reads without an id: bob's own records only -----------------------------------------

@case("GET", "/api/v1/me/phone", "/me/phone", "/me")
def phone(bob: Bob) -> None:
    for path in ("/api/v1/me/phone", "/me/phone", "/me"):
        r = bob.api("GET", path)
        assert r.status_code == 200  # type: ignore[attr-defined]
        _shows_only_bob(r.text)  # type: ignore[attr-defined]
    body = bob.api("GET", "/api/v1/me/phone").json()  # type: ignore[attr-defined]
    assert body["appointment"]["id"] == bob.ids["bob_appointment"]
    assert bob.ids["alice_imei"] not in str(body)


@case("GET", "/api/v1/me")
def who(bob: Bob) -> None:
    assert bob.api("GET", "/api/v1/me").json()["name"] == "bob"  # type: ignore[attr-defined]


@case("GET", "/api/v1/me/open-days")
def open_days(bob: Bob) -> None:
    # Places left, never who holds them.
    r = bob.api("GET", "/api/v1/me/open-days")
    assert r.status_code == 200 and "100003" not in r.text  # type: ignore[attr-defined]


@case("GET", "/api/v1/me/appointment/ics", "/me/appointment.ics")
def ics(bob: Bob) -> None:
    for path in ("/api/v1/me/appointment/ics", "/me/appointment.ics"):
        text = bob.api("GET", path).text  # type: ignore[attr-defined]
        assert f"appointment-{bob.ids['bob_appointment']}@" in text
        assert "alex1.smith" in text and "alex3.smith" not in text


@case("GET", "/api/v1/me/policy", "/me/policy")
def my_policy(bob: Bob) -> None:
    body = bob.api("GET", "/api/v1/me/policy").json()  # type: ignore[attr-defined]
    assert body["pending"] == [] and body["acceptances"] == []  # alice's are not bob's
    assert bob.ids["alice_imei"] not in bob.api("GET", "/me/policy").text  # type: ignore[attr-defined]


@case("GET", "/api/v1/me/drive", "/me/drive")
def my_drive(bob: Bob) -> None:
    body = bob.api("GET", "/api/v1/me/drive").json()  # type: ignore[attr-defined]
    assert sorted(i["id"] for i in body["reviews"]["items"]) == bob.ids["bob_items"]
    _shows_only_bob(bob.api("GET", "/me/drive").text)  # type: ignore[attr-defined]


# --- ids of other people's records: refused, nothing changed ------------------------------

@case("GET", "/api/v1/me/policy/receipts/{acceptance_id}",
      "/api/v1/me/policy/receipts/{acceptance_id}/pdf", "/me/policy/receipts/{acceptance_id}.pdf")
def receipts(bob: Bob) -> None:
    alices = bob.ids["alice_acceptance"]
    for path in (f"/api/v1/me/policy/receipts/{alices}",
                 f"/api/v1/me/policy/receipts/{alices}/pdf",
                 f"/me/policy/receipts/{alices}.pdf"):
        _refused(bob.api("GET", path))


@case("POST", "/api/v1/me/handsets/{imei}/report", "/me/handsets/report")
def report_alices_phone(bob: Bob) -> None:
    imei = bob.ids["alice_imei"]
    _refused(bob.api("POST", f"/api/v1/me/handsets/{imei}/report",
                     json={"kind": "stolen", "reference": "CRIS 9/26"}))
    _refused(bob.form("/me/handsets/report", {"imei": imei, "kind": "lost",
                                              "reference": "LP 1"}))


@case("POST", "/api/v1/me/policy/accept", "/me/policy/accept")
def sign_for_alices_phone(bob: Bob) -> None:
    imei = bob.ids["alice_imei"]
    _refused(bob.api("POST", "/api/v1/me/policy/accept", json={"imei": imei}))
    _refused(bob.form("/me/policy/accept", {"imei": imei, "confirm": "yes"}))


@case("POST", "/api/v1/me/drive/decide", "/me/drive/decide")
def decide_carols_file(bob: Bob) -> None:
    carol = bob.ids["carol_item"]
    _refused(bob.api("POST", "/api/v1/me/drive/decide",
                     json={"ids": [carol], "decision": "dispose", "justification": "x"}))
    # Mixed with his own: all refused, his own not decided either.
    _refused(bob.form("/me/drive/decide", {"item": [bob.ids["bob_items"][0], carol],
                                           "decision": "dispose", "justification": "x"}))


# --- writes without an id: they can only reach bob's own appointment ---------------------

@case("POST", "/api/v1/me/appointment/move", "/me/appointment/move",
      "/api/v1/me/appointment/cancel", "/me/appointment/cancel",
      "/api/v1/me/appointment", "/me/appointment")
def appointment_writes(bob: Bob) -> None:
    # Body fields naming someone else are not read: the appointment is the caller's.
    day = bob.ids["days"][1]
    r = bob.api("POST", "/api/v1/me/appointment/move",
                json={"site": "CE-01", "day": day, "person": "100003",
                      "id": bob.ids["carol_appointment"]})
    assert r.status_code in (200, 409)  # type: ignore[attr-defined]  (409: already there)
    assert r.json().get("id") != bob.ids["carol_appointment"]  # type: ignore[attr-defined]
    bob.form("/me/appointment/cancel", {"reason": "leave", "person": "100003"})
    bob.form("/me/appointment", {"place": f"CE-01|{day}", "person": "100003"})
    bob.api("POST", "/api/v1/me/appointment/cancel", json={"reason": "x", "person": "100003"})
    bob.api("POST", "/api/v1/me/appointment", json={"site": "CE-01", "day": day,
                                                     "person": "100003"})
    with session_scope(bob.estate.settings) as s:
        from mobilise.rollout.models import Appointment
        carol = s.get(Appointment, bob.ids["carol_appointment"])
        assert carol is not None and carol.status == "booked"


@case("POST", "/api/v1/me/adjustments", "/me/adjustments")
def adjustments(bob: Bob) -> None:
    bob.api("POST", "/api/v1/me/adjustments", json={"requested": "x", "person": "100003"})
    with session_scope(bob.estate.settings) as s:
        from mobilise.people.models import AdjustmentRequest, Person
        owners = set(s.scalars(select(Person.number).join(
            AdjustmentRequest, AdjustmentRequest.person_id == Person.id)))
        assert owners == {"100001"}
    # The page refuses a second while his first is open: it never lands on carol.
    r = bob.form("/me/adjustments", {"requested": "y", "person": "100003"})
    assert r.status_code == 409  # type: ignore[attr-defined]


def _self_service_routes(settings: Settings) -> set[tuple[str, str]]:
    return {(m, r.path) for r in all_routes(create_app(settings)) for m in r.methods
            if r.path == "/me" or r.path.startswith(("/me/", "/api/v1/me"))
            and m != "HEAD"}


def test_every_self_service_route_has_a_case(sqlite_settings: Settings) -> None:
    routes = _self_service_routes(sqlite_settings)
    assert not routes - set(CASES), f"self-service routes without an IDOR case: " \
        f"{sorted(routes - set(CASES))}"
    assert not set(CASES) - routes, "cases for routes that do not exist"


@pytest.fixture(scope="module")
def served(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[TestClient, Estate]]:
    import shutil

    from mobilise.core.db import make_engine
    from tests.conftest import EXACT

    tmp = tmp_path_factory.mktemp("idor")
    db = tmp / "mobilise.db"
    shutil.copy(sqlite_template, db)
    data = tmp / "data"
    settings = Settings(database_url=f"sqlite:///{db}", data_dir=data, home_root=data / "home",
                        **EXACT)
    estate = build(with_drives(settings), tmp)
    with TestClient(create_app(estate.settings), base_url="http://testserver") as client:
        yield client, estate
    make_engine(settings.database_url).dispose()


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_another_persons_records_are_refused(served: tuple[TestClient, Estate],
                                             route: tuple[str, str]) -> None:
    client, estate = served
    before = _other_peoples_audit(estate)
    CASES[route](Bob(client, estate))
    assert _other_peoples_audit(estate) == before, "something of another person changed"


def _other_peoples_audit(estate: Estate) -> int:
    """Audit entries written by bob about anything that is not his."""
    with session_scope(estate.settings) as s:
        return s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.actor == "bob", AuditEntry.action.in_(
                ["handset.lose", "handset.steal", "policy.accept"]))) or 0
