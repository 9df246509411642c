"""The handset API and pages, driven in-process through the real app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.devices.models import Acceptance, Handset
from tests.devices.fleet import catalogue, imei, manifest_row, stock, write_manifest
from tests.factories import ADMIN
from tests.web.conftest import PASSWORD, Web


@pytest.fixture
def desk(web: Web, tmp_path: Path) -> Web:
    """The web fixture plus a catalogue, five handsets in stock and a service-desk login."""
    with session_scope(web.settings) as s:
        catalogue(s)
        stock(s, web.settings, tmp_path, range(1, 6))
        user = auth.add_user(s, ADMIN, "desk", PASSWORD, ["service-desk"])
        s.flush()
        web.tokens["desk"] = auth.issue_token(s, ADMIN, user, "test")
    return web


def test_list_filter_and_show(desk: Web) -> None:
    r = desk.client.get("/api/v1/handsets?status=in_stock&limit=2", headers=desk.as_("viewer"))
    body = r.json()
    assert r.status_code == 200 and body["total"] == 5 and len(body["items"]) == 2
    assert body["next"].endswith("offset=2") or "offset=2" in body["next"]
    r = desk.client.get(f"/api/v1/handsets/{imei(3)}", headers=desk.as_("viewer"))
    assert r.json()["status"] == "in_stock" and r.json()["colour"] == "green"
    r = desk.client.get("/api/v1/handsets/999", headers=desk.as_("viewer"))
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")


def test_bulk_transition_is_all_or_nothing(desk: Web) -> None:
    body = {"imeis": [imei(1), imei(2)], "repair_reference": "REP-1"}
    r = desk.client.post("/api/v1/handsets/transitions/repair", json=body,
                         headers=desk.as_("desk"))
    assert r.status_code == 200 and r.json()["moved"] == 2
    r = desk.client.post("/api/v1/handsets/transitions/lose",
                         json={"imeis": [imei(3), imei(4)]}, headers=desk.as_("desk"))
    assert r.status_code == 409
    assert "needs the police reference" in r.json()["detail"]
    assert len(r.json()["errors"]) == 2
    r = desk.client.post("/api/v1/handsets/transitions/repair", json=body,
                         headers=desk.as_("viewer"))
    assert r.status_code == 403


def test_issue_through_the_api(desk: Web) -> None:
    body = {"person": "100003", "method": "signature", "kit": "KIT-A32"}
    r = desk.client.post(f"/api/v1/handsets/{imei(1)}/issue", json=body,
                         headers=desk.as_("desk"))
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["holder"]) == ("issued", "100003")
    r = desk.client.post(f"/api/v1/handsets/{imei(2)}/issue", json=body,
                         headers=desk.as_("desk"))
    assert r.status_code == 409
    assert "already holds 1 active handset(s)" in r.json()["detail"]


def test_manifest_upload_names_the_bad_line(desk: Web, tmp_path: Path) -> None:
    rows = [manifest_row(n) for n in range(10, 13)]
    rows[1][1] = rows[1][1][:-1] + str((int(rows[1][1][-1]) + 1) % 10)
    path = write_manifest(tmp_path / "delivery.csv", rows)
    r = desk.client.post("/api/v1/handsets/manifests",
                         files={"file": ("delivery.csv", path.read_bytes(), "text/csv")},
                         headers=desk.as_("programme"))
    assert r.status_code == 422
    assert any(":3:2: imei: IMEI" in e for e in r.json()["errors"])


def test_register_and_handset_pages(desk: Web) -> None:
    desk.login("admin")
    r = desk.client.get("/handsets?status=in_stock")
    assert r.status_code == 200
    assert "govuk-tag--green" in r.text and imei(2) in r.text
    assert "5 of 40,000 managed devices" in r.text
    r = desk.client.get(f"/handsets/{imei(2)}")
    assert r.status_code == 200 and "handset.stock" in r.text


def _csrf(text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', text)
    assert found
    return found.group(1)


def test_hand_over_screen(desk: Web) -> None:
    assert desk.login("desk").status_code == 303
    r = desk.client.get("/handover?q=alex4")
    assert r.status_code == 200 and "Choose Alex4 Smith" in r.text
    r = desk.client.get("/handover?person=100004")
    assert 'name="imei"' in r.text
    form = {"person": "100004", "imei": imei(5), "method": "signature",
            "policy_version": "1.0", "accepted": "yes", "kit": "KIT-A32"}
    assert desk.client.post("/handover", data=form).status_code == 403  # no CSRF token
    refused = desk.client.post("/handover", data={**form, "accepted": "",
                                                  "csrf_token": _csrf(r.text)})
    assert refused.status_code == 422 and "must read and accept" in refused.text
    r = desk.client.post("/handover", data={**form, "csrf_token": _csrf(r.text)})
    assert r.status_code == 200, r.text
    assert f"Handset {imei(5)} handed to Alex4 Smith (100004)" in r.text
    again = desk.client.post("/handover", data={**form, "imei": imei(4),
                                                "csrf_token": _csrf(r.text)})
    assert again.status_code == 409 and "already holds 1 active handset" in again.text
    with session_scope(desk.settings) as s:
        h = s.scalars(select(Handset).where(Handset.imei == imei(5))).one()
        accepted = s.scalars(select(Acceptance).where(Acceptance.handset_id == h.id)).one()
        assert (h.status, accepted.recorded_by, accepted.policy_version) == (
            "issued", "desk", "1.0")


def test_recovery_tasks_for_leavers(desk: Web) -> None:
    from mobilise.core import audit
    from mobilise.people.models import Person

    r = desk.client.post(f"/api/v1/handsets/{imei(1)}/issue",
                         json={"person": "100002", "method": "paper"}, headers=desk.as_("desk"))
    assert r.status_code == 200
    with session_scope(desk.settings) as s:
        person = s.scalars(select(Person).where(Person.number == "100002")).one()
        with audit.change(s, ADMIN, "person.leave", person):
            person.status = "leaver"
    r = desk.client.post("/api/v1/handsets/recovery-tasks", headers=desk.as_("desk"))
    assert r.status_code == 200 and r.json()["opened"] == 1
    items = desk.client.get("/api/v1/handsets/recovery-tasks",
                            headers=desk.as_("viewer")).json()["items"]
    assert [(t["imei"], t["person"], t["status"]) for t in items] == [
        (imei(1), "100002", "open")]
