"""My Mobilise through the API and the pages: my appointment, my handset (lost or stolen
→ wipe and SIM bar), my adjustments, the acceptable-use policy (versions, signatures,
receipts, who has accepted) and my H: drive."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from mobilise.comms.models import OutboxMessage
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.devices.models import DeviceAction, Handset, PolicyAcceptance
from mobilise.people.models import AdjustmentRequest
from mobilise.retention.models import ReviewItem
from mobilise.rollout.models import Appointment
from mobilise.web.app import create_app
from tests.web.self_service_estate import PASSWORD, Estate, build, with_drives


@pytest.fixture
def estate(sqlite_settings: Settings, tmp_path: Path) -> Estate:
    return build(with_drives(sqlite_settings), tmp_path)


@pytest.fixture
def client(estate: Estate) -> Iterator[TestClient]:
    with TestClient(create_app(estate.settings), base_url="http://testserver") as c:
        yield c


def _as(estate: Estate, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {estate.tokens[who]}"}


def _login(client: TestClient, who: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    r = client.post("/login", data={"username": who, "password": PASSWORD,
                                    "csrf_token": token.group(1), "next": "/"},
                    follow_redirects=False)
    assert r.status_code == 303
    return str(r.headers["location"])


def _csrf(client: TestClient, path: str = "/me") -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
    assert found
    return found.group(1)


def _audit(estate: Estate, action: str) -> list[AuditEntry]:
    with session_scope(estate.settings) as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))
        s.expunge_all()
        return rows


# --- the person capability ---------------------------------------------------------------

def test_an_officer_without_staff_roles_lands_on_my_mobilise(client: TestClient) -> None:
    assert _login(client, "bob") == "/me"
    html = client.get("/me").text
    nav = re.search(r'<nav aria-label="Main"[^>]*>(.*?)</nav>', html, re.DOTALL)
    assert nav and re.findall(r'href="([^"]+)"', nav.group(1)) == ["/me"]
    assert client.get("/people").status_code == 403  # no staff role, no register


def test_a_login_without_a_person_gets_a_plain_refusal(client: TestClient,
                                                        estate: Estate) -> None:
    _login(client, "staff")
    r = client.get("/me")
    assert r.status_code == 403 and "not linked to a person" in r.text
    assert "/me" not in re.findall(r'href="([^"]+)"', r.text)
    api = client.get("/api/v1/me/phone", headers=_as(estate, "planner"))
    assert api.status_code == 403 and "not linked" in api.json()["detail"]


def test_staff_linked_to_a_person_have_both(client: TestClient, estate: Estate) -> None:
    assert client.get("/api/v1/me/phone", headers=_as(estate, "deskperson")).status_code == 200
    assert client.get("/api/v1/policy/status", headers=_as(estate, "deskperson")).status_code \
        == 200
    me = client.get("/api/v1/me", headers=_as(estate, "deskperson")).json()
    assert me["roles"] == ["person", "service-desk"]


def test_person_is_never_granted_as_a_role(estate: Estate) -> None:
    from mobilise.core.auth import parse_roles
    from mobilise.core.errors import InvalidInput
    with pytest.raises(InvalidInput, match="not granted"):
        parse_roles("viewer,person")


# --- my phone ----------------------------------------------------------------------------

def test_book_move_cancel_my_appointment_within_capacity(client: TestClient,
                                                         estate: Estate) -> None:
    days = estate.ids["days"]
    bob = _as(estate, "bob")
    phone = client.get("/api/v1/me/phone", headers=bob).json()
    assert phone["appointment"]["day"] == days[0] and phone["what_to_bring"]
    # Bob has one: booking another is refused; moving it is how.
    assert client.post("/api/v1/me/appointment", headers=bob,
                       json={"site": "CE-01", "day": days[1]}).status_code == 409
    moved = client.post("/api/v1/me/appointment/move", headers=bob,
                        json={"site": "CE-01", "day": days[1]})
    assert moved.status_code == 200 and moved.json()["day"] == days[1]
    ics = client.get("/api/v1/me/appointment/ics", headers=bob)
    assert ics.status_code == 200 and f"DTSTART;VALUE=DATE:{days[1].replace('-', '')}" \
        in ics.text and "SEQUENCE:1" in ics.text
    assert client.post("/api/v1/me/appointment/cancel", headers=bob,
                       json={"reason": "on leave"}).status_code == 200
    assert client.get("/api/v1/me/phone", headers=bob).json()["appointment"] is None
    again = client.post("/api/v1/me/appointment", headers=bob,
                        json={"site": "CE-01", "day": days[2]})
    assert again.status_code == 201, again.text
    assert [e.actor for e in _audit(estate, "appointment.reschedule")] == ["bob"]


def test_booking_keeps_the_rules(client: TestClient, estate: Estate) -> None:
    bob = _as(estate, "bob")
    client.post("/api/v1/me/appointment/cancel", headers=bob, json={"reason": "x"})
    from datetime import UTC, datetime, timedelta
    today = datetime.now(UTC).date()
    for day, why in ((today, "one day ahead"), (today + timedelta(days=90), "at most"),
                     (estate.ids["days"][0][:8] + "01", None)):
        r = client.post("/api/v1/me/appointment", headers=bob,
                        json={"site": "CE-01", "day": str(day)})
        assert r.status_code in (409, 422), r.text
        if why:
            assert why in r.json()["detail"]
    # Alice holds a phone already: no appointment for her.
    r = client.post("/api/v1/me/appointment", headers=_as(estate, "alice"),
                    json={"site": "CE-01", "day": estate.ids["days"][1]})
    assert r.status_code == 422 and "already hold" in r.json()["detail"]


def test_a_full_day_is_refused(client: TestClient, estate: Estate) -> None:
    day = estate.ids["days"][0]  # 3 places, bob and carol booked: one left
    with session_scope(estate.settings) as s:
        from mobilise.rollout.models import IssueSlot
        slot = s.scalars(select(IssueSlot).where(IssueSlot.day == day)).one()
        slot.booked = slot.capacity
    r = client.post("/api/v1/me/appointment/move", headers=_as(estate, "deskperson"),
                    json={"site": "CE-01", "day": day})
    assert r.status_code == 409  # deskperson has no appointment to move
    r = client.post("/api/v1/me/appointment", headers=_as(estate, "deskperson"),
                    json={"site": "CE-01", "day": day})
    assert r.status_code == 409 and "places left" in r.json()["detail"]


def test_report_my_phone_stolen_queues_wipe_and_bar_as_the_desk_would(
        client: TestClient, estate: Estate) -> None:
    imei = estate.ids["alice_imei"]
    r = client.post(f"/api/v1/me/handsets/{imei}/report", headers=_as(estate, "alice"),
                    json={"kind": "stolen", "reference": "CRIS 1/26"})
    assert r.status_code == 200 and r.json()["status"] == "stolen"
    with session_scope(estate.settings) as s:
        h = s.scalars(select(Handset).where(Handset.imei == imei)).one()
        kinds = {a.kind for a in s.scalars(select(DeviceAction).where(
            DeviceAction.handset_id == h.id))}
        assert "wipe" in kinds and h.police_reference == "CRIS 1/26"
    assert [e.actor for e in _audit(estate, "handset.steal")][-1] == "alice"
    again = client.post(f"/api/v1/me/handsets/{imei}/report", headers=_as(estate, "alice"),
                        json={"kind": "lost", "reference": "x"})
    assert again.status_code == 409


def test_adjustment_request_reaches_the_desk(client: TestClient, estate: Estate) -> None:
    bob = _as(estate, "bob")
    r = client.post("/api/v1/me/adjustments", headers=bob,
                    json={"requested": "Step-free site, please"})
    assert r.status_code == 201
    assert client.post("/api/v1/me/adjustments", headers=bob,
                       json={"requested": "and another"}).status_code == 409
    listed = client.get("/api/v1/adjustment-requests", headers=_as(estate, "desk")).json()
    assert [i["requested"] for i in listed["items"]] == ["Step-free site, please"]
    rid = listed["items"][0]["id"]
    done = client.post(f"/api/v1/adjustment-requests/{rid}/settle", headers=_as(estate, "desk"),
                       json={"adjustments": "Step-free issuing site"})
    assert done.status_code == 200 and done.json()["status"] == "settled"
    assert client.get("/api/v1/me/phone", headers=bob).json()["adjustments"] == \
        "Step-free issuing site"
    with session_scope(estate.settings) as s:
        assert s.scalars(select(AdjustmentRequest)).one().recorded is None


# --- the acceptable-use policy -----------------------------------------------------------

def test_a_new_version_asks_holders_again_and_the_receipt_follows(
        client: TestClient, estate: Estate) -> None:
    alice = _as(estate, "alice")
    mine = client.get("/api/v1/me/policy", headers=alice).json()
    assert mine["policy"]["version"] == "2.0" and mine["pending"] == [estate.ids["alice_imei"]]
    status = client.get("/api/v1/policy/status", headers=_as(estate, "desk")).json()
    assert status["version"] == "2.0" and status["not_accepted"] == 1
    r = client.post("/api/v1/me/policy/accept", headers=alice,
                    json={"imei": estate.ids["alice_imei"]})
    assert r.status_code == 201, r.text
    receipt = r.json()
    assert receipt["policy"]["version"] == "2.0" and receipt["how"] == "own-device"
    assert receipt["kit"] is None and receipt["handset"]["imei"] == estate.ids["alice_imei"]
    import hashlib
    with session_scope(estate.settings) as s:
        from mobilise.devices.models import PolicyVersion
        v2 = s.scalars(select(PolicyVersion).where(PolicyVersion.version == "2.0")).one()
        assert receipt["policy"]["sha256"] == hashlib.sha256(v2.text.encode()).hexdigest()
        mail = s.scalars(select(OutboxMessage).where(
            OutboxMessage.template == "policy_receipt")).one()
        assert estate.ids["alice_imei"] in mail.body and v2.sha256 in mail.body
    assert client.post("/api/v1/me/policy/accept", headers=alice,
                       json={"imei": estate.ids["alice_imei"]}).status_code == 409
    after = client.get("/api/v1/policy/status", headers=_as(estate, "desk")).json()
    assert after["accepted"] == 1 and after["not_accepted"] == 0


def test_publishing_is_for_the_programme(client: TestClient, estate: Estate) -> None:
    body = {"version": "3.0", "text": "New words."}
    assert client.post("/api/v1/policy/versions", headers=_as(estate, "desk"),
                       json=body).status_code == 403
    r = client.post("/api/v1/policy/versions", headers=_as(estate, "planner"), json=body)
    assert r.status_code == 201 and len(r.json()["sha256"]) == 64
    assert client.post("/api/v1/policy/versions", headers=_as(estate, "planner"),
                       json=body).status_code == 409


def test_desk_screen_signature(client: TestClient, estate: Estate) -> None:
    r = client.post("/api/v1/policy/acceptances", headers=_as(estate, "desk"),
                    json={"person": "100000", "imei": estate.ids["alice_imei"]})
    assert r.status_code == 201 and r.json()["how"] == "desk-screen"
    with session_scope(estate.settings) as s:
        row = s.get(PolicyAcceptance, r.json()["id"])
        assert row is not None and row.signed_by == "desk"
    # Someone who does not hold that handset cannot sign for it.
    assert client.post("/api/v1/policy/acceptances", headers=_as(estate, "desk"),
                       json={"person": "100001", "imei": estate.ids["alice_imei"]}
                       ).status_code == 404


def test_accept_on_my_own_device_through_the_page(client: TestClient, estate: Estate) -> None:
    _login(client, "alice")
    page = client.get("/me/policy")
    assert "Version <strong>2.0</strong>" in page.text
    token = _csrf(client, "/me/policy")
    refused = client.post("/me/policy/accept", data={"csrf_token": token,
                                                     "imei": estate.ids["alice_imei"]})
    assert refused.status_code == 422 and "tick the box" in refused.text
    r = client.post("/me/policy/accept", data={"csrf_token": token, "confirm": "yes",
                                               "imei": estate.ids["alice_imei"]},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/me/policy?done=accepted"
    assert "acceptance is recorded" in client.get(r.headers["location"]).text


# --- my H: drive -------------------------------------------------------------------------

def test_my_drive_readiness_and_reviews(client: TestClient, estate: Estate) -> None:
    bob = _as(estate, "bob")
    drive = client.get("/api/v1/me/drive", headers=bob).json()
    renames = drive["readiness"]["renames"]
    assert [r["old"] for r in renames] == ["Documents/notes?.txt"]
    assert renames[0]["new"] != "notes?.txt" and renames[0]["reason"]
    items = drive["reviews"]["items"]
    assert sorted(i["id"] for i in items) == estate.ids["bob_items"]
    assert {i["rule"] for i in items} == {"media"}
    r = client.post("/api/v1/me/drive/decide", headers=bob,
                    json={"ids": estate.ids["bob_items"], "decision": "keep-migrate",
                          "justification": "my evidence recordings"})
    assert r.status_code == 200 and r.json()["decided"] == 2
    with session_scope(estate.settings) as s:
        decided = s.scalars(select(ReviewItem).where(
            ReviewItem.id.in_(estate.ids["bob_items"]))).all()
        assert {(i.decided_by, i.justification) for i in decided} == {
            ("bob", "my evidence recordings")}


def test_the_pages_render(client: TestClient, estate: Estate) -> None:
    _login(client, "bob")
    for path, text in (("/me", "My Mobilise"), ("/me/phone", "What to bring"),
                       ("/me/policy", "Acceptable-use policy"), ("/me/drive", "notes?.txt")):
        r = client.get(path)
        assert r.status_code == 200 and text in r.text, path
    assert client.get("/me/appointment.ics").status_code == 200


def test_book_through_the_page(client: TestClient, estate: Estate) -> None:
    _login(client, "bob")
    token = _csrf(client, "/me/phone")
    day = estate.ids["days"][2]
    r = client.post("/me/appointment/move", data={"csrf_token": token,
                                                   "place": f"CE-01|{day}"},
                    follow_redirects=False)
    assert r.status_code == 303
    with session_scope(estate.settings) as s:
        live = s.scalars(select(Appointment).where(Appointment.status == "booked",
                                                   Appointment.replaces_id.is_not(None))).one()
        assert live.day.isoformat() == day
    bad = client.post("/me/appointment/move", data={"csrf_token": token, "place": "nonsense"})
    assert bad.status_code == 422 and "choose a day" in bad.text


# --- the desk and the programme ----------------------------------------------------------

def test_the_desk_hands_over_with_a_signature_on_its_screen(client: TestClient,
                                                            estate: Estate) -> None:
    _login(client, "desk")
    form = client.get("/handover?person=100004")
    assert "Version 2." in form.text and "Where the officer signs" in form.text
    token = _csrf(client, "/handover")
    spare = estate.ids["spares"][0]
    base = {"csrf_token": token, "person": "100004", "imei": spare, "method": "signature",
            "policy_version": "2.0", "signed": "desk-screen"}
    refused = client.post("/handover", data=base)
    assert refused.status_code == 422  # not ticked: nothing handed over
    r = client.post("/handover", data={**base, "accepted": "yes"})
    assert r.status_code == 200 and "Signed on this screen" in r.text, r.text[-2000:]
    with session_scope(estate.settings) as s:
        row = s.scalars(select(PolicyAcceptance).join(Handset).where(
            Handset.imei == spare)).one()
        assert (row.how, row.signed_by, row.policy.version) == ("desk-screen", "desk", "2.0")
        assert s.scalars(select(OutboxMessage).where(
            OutboxMessage.idempotency_key == f"policy_receipt:acceptance:{row.id}")).one()


def test_the_desk_hands_over_for_a_signature_on_the_officers_device(
        client: TestClient, estate: Estate) -> None:
    _login(client, "desk")
    token = _csrf(client, "/handover")
    spare = estate.ids["spares"][1]
    r = client.post("/handover", data={"csrf_token": token, "person": "100005", "imei": spare,
                                       "method": "web-form", "policy_version": "2.0",
                                       "signed": "own-device"})
    assert r.status_code == 200 and "own device" in r.text
    status = client.get("/api/v1/policy/status?accepted=false",
                        headers=_as(estate, "desk")).json()
    assert spare in [i["imei"] for i in status["items"]]  # until the officer signs
    assert "not yet" in client.get("/policy?show=not-accepted").text


def test_the_programme_publishes_on_the_page(client: TestClient, estate: Estate) -> None:
    _login(client, "desk")
    assert "Publish a new version" not in client.get("/policy").text
    client.cookies.clear()
    _login(client, "planner")
    token = _csrf(client, "/policy")
    r = client.post("/policy/versions", data={"csrf_token": token, "version": "3.0",
                                              "text": "Third words."}, follow_redirects=False)
    assert r.status_code == 303
    assert "version <strong>3.0</strong>" in client.get("/policy").text
    again = client.post("/policy/versions", data={"csrf_token": token, "version": "3.0",
                                                  "text": "Third words."})
    assert again.status_code == 409 and "already published" in again.text


def test_the_desk_settles_a_request_on_its_page(client: TestClient, estate: Estate) -> None:
    client.post("/api/v1/me/adjustments", headers=_as(estate, "bob"),
                json={"requested": "Large-print guide"})
    _login(client, "desk")
    page = client.get("/adjustments")
    assert "Large-print guide" in page.text and "100001" in page.text
    rid = re.search(r'action="/adjustments/(\d+)/settle"', page.text)
    assert rid
    r = client.post(f"/adjustments/{rid.group(1)}/settle",
                    data={"csrf_token": _csrf(client, "/adjustments"), "change": "yes",
                          "adjustments": "Large-print guide"}, follow_redirects=False)
    assert r.status_code == 303
    assert "No requests are open" in client.get("/adjustments").text


def test_my_receipt_as_a_pdf(client: TestClient, estate: Estate) -> None:
    r = client.get(f"/api/v1/me/policy/receipts/{estate.ids['alice_acceptance']}/pdf",
                   headers=_as(estate, "alice"))
    assert r.status_code == 200 and r.content.startswith(b"%PDF")
    from mobilise.devices import policy
    from mobilise.web.receipt import receipt_document
    with session_scope(estate.settings) as s:
        row = s.get(PolicyAcceptance, estate.ids["alice_acceptance"])
        assert row is not None
        html = receipt_document(policy.receipt(s, row), "Test Police")
        assert estate.ids["alice_imei"] in html and row.text_sha256 in html
