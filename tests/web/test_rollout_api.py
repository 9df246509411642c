"""The rollout and comms API and pages, driven in-process."""

from __future__ import annotations

import csv
import io

from tests.web.conftest import Web

PLAN = {"start": "2023-01-09", "deadline": "2023-03-31", "slots": 3, "staging_per_day": 20,
        "as_of": "2023-01-06"}


def test_plan_book_and_run_appointments(web: Web) -> None:
    prog = web.as_("programme")
    r = web.client.post("/api/v1/rollout/stock", json={"expected_on": "2023-01-02",
                                                        "quantity": 20}, headers=prog)
    assert r.status_code == 201
    preview = web.client.get("/api/v1/rollout/plan?start=2023-01-09&deadline=2023-03-31&slots=3",
                             headers=prog).json()
    assert preview["summary"]["met"] is True
    r = web.client.post("/api/v1/rollout/plan", json=PLAN, headers=prog)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["summary"]["met"] and body["applied"]["booked"] == 11
    assert body["applied"]["kept"] == 1  # the seeded appointment 100001 did not move
    listed = web.client.get("/api/v1/rollout/appointments?status=booked", headers=prog).json()
    assert listed["total"] == 12
    r = web.client.post("/api/v1/rollout/appointments/confirm", json={"ids": [100001]},
                        headers=prog)
    assert r.json()["count"] == 1
    r = web.client.post("/api/v1/rollout/appointments/100001/reschedule",
                        json={"site": "CE-01", "day": "2023-01-11"}, headers=prog)
    assert r.status_code == 409 and "reason" in r.json()["detail"]
    r = web.client.post("/api/v1/rollout/appointments/100001/reschedule",
                        json={"site": "CE-01", "day": "2023-01-16", "reason": "on leave"},
                        headers=prog)
    assert r.status_code == 200 and r.json()["day"] == "2023-01-16", r.text
    ics = web.client.get(f"/api/v1/rollout/appointments/{r.json()['id']}/ics", headers=prog)
    assert ics.headers["content-type"].startswith("text/calendar")
    assert "DTSTART;VALUE=DATE:20230116" in ics.text
    fc = web.client.get("/api/v1/rollout/forecast?as_of=2023-01-20",
                        headers=web.as_("viewer")).json()
    assert fc["summary"]["total"] == 12 and fc["by_org_unit"][0]["booked"] == 12
    page = web.client.get("/rollout?as_of=2023-01-20", headers=web.as_("viewer"))
    assert page.status_code == 200 and "<svg" in page.text and "Burndown" in page.text


def test_notices_outbox_and_export(web: Web) -> None:
    prog = web.as_("programme")
    r = web.client.post("/api/v1/rollout/notify",
                        json={"kind": "invitation", "as_of": "2023-01-06"}, headers=prog)
    assert r.json()["queued"] == 1  # the one seeded appointment
    assert web.client.get("/api/v1/comms/outbox", headers=web.as_("viewer")).status_code == 403
    box = web.client.get("/api/v1/comms/outbox", headers=prog).json()
    assert box["counts"]["queued"] == 1 and box["items"][0]["template"] == "invitation"
    exported = web.client.get("/api/v1/comms/export.csv", headers=prog)
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert len(rows) == 1 and rows[0]["recipient"] == "alex1.smith@example.police.uk"
    bad = web.client.post("/api/v1/comms/templates/invitation",
                          json={"subject": "{{ oops", "body": "x"}, headers=prog)
    assert bad.status_code == 422
    good = web.client.post("/api/v1/comms/templates/invitation",
                           json={"subject": "Hello {{ person.first_name }}", "body": "Hi"},
                           headers=prog)
    assert good.status_code == 201 and good.json()["version"] == 2
    shown = web.client.get("/api/v1/comms/templates/invitation/preview",
                           headers=web.as_("viewer")).json()
    assert shown["subject"] == "Hello Sam" and shown["version"] == 2
    page = web.client.get("/comms", headers=web.as_("viewer"))
    assert page.status_code == 200 and "invitation" in page.text
    assert "alex1.smith@example.police.uk" not in page.text  # who is sent what: not theirs
    assert "alex1.smith@example.police.uk" in web.client.get("/comms", headers=prog).text


def test_service_desk_records_outcomes_on_the_page(web: Web) -> None:
    assert web.login("programme").status_code == 303
    page = web.client.get("/rollout")
    assert "Handed over" in page.text
    token = web.csrf()
    r = web.client.post("/rollout/appointments/100001/attend",
                        data={"csrf_token": token, "back": "/rollout"},
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/rollout"
    shown = web.client.get("/api/v1/rollout/appointments/100001",
                           headers=web.as_("programme")).json()
    assert shown["status"] == "attended"
    forged = web.client.post("/rollout/appointments/100001/no_show",
                             data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403
