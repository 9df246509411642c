"""The rollout and comms API and pages, driven in-process."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from sqlalchemy import select

from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.devices import handsets
from mobilise.devices.models import Handset
from mobilise.finance.connected import ProgrammeRegisters
from mobilise.people.models import Person
from mobilise.rollout.planning import RolloutRecords
from tests.factories import ADMIN
from tests.rollout.desk import shelf
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
    # "Handed over" is the hand-over form, which attends the appointment itself.
    assert 'href="/handover?person=100001"' in page.text
    assert "Attended, not issued" in page.text
    token = web.csrf()
    r = web.client.post("/rollout/appointments/100001/attend",
                        data={"csrf_token": token, "back": "/rollout"},
                        follow_redirects=False)
    assert r.status_code == 409 and "no handset is issued" in r.text
    r = web.client.post("/rollout/appointments/100001/attend_not_issued",
                        data={"csrf_token": token, "back": "/rollout"},
                        follow_redirects=False)
    assert r.status_code == 409  # the reason is mandatory
    r = web.client.post("/rollout/appointments/100001/attend_not_issued",
                        data={"csrf_token": token, "back": "/rollout",
                              "reason": "handset faulty at hand-over"},
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/rollout"
    shown = web.client.get("/api/v1/rollout/appointments/100001",
                           headers=web.as_("programme")).json()
    assert shown["status"] == "not_issued"
    forged = web.client.post("/rollout/appointments/100001/no_show",
                             data={"csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403


def test_hand_over_through_the_api_and_every_surface_counts_the_register(
        web: Web, tmp_path: Path) -> None:
    """The API's hand-over attends appointment 100001; the forecast (API, page, overview,
    CLI) and the board report's progress all show the register's count."""
    with session_scope(web.settings) as s:
        phones = [h.imei for h in shelf(s, web.settings, tmp_path, 2)]
        # One handset recorded in the register without the desk: it counts too.
        other = s.scalars(select(Handset).where(Handset.imei == phones[1])).one()
        person = s.scalars(select(Person).where(Person.number == "100005")).one()
        handsets.issue_handset(s, ADMIN, web.settings, SystemClock(), other, person,
                               method="paper")
    r = web.client.post(f"/api/v1/handsets/{phones[0]}/issue",
                        json={"person": "100001", "method": "signature"},
                        headers=web.as_("admin"))
    assert r.status_code == 200, r.text
    assert r.json()["appointment"] == 100001
    shown = web.client.get("/api/v1/rollout/appointments/100001",
                           headers=web.as_("programme")).json()
    assert shown["status"] == "attended"
    with session_scope(web.settings) as s:
        expected = len(RolloutRecords().people_with_handset(s))
        progress = ProgrammeRegisters(web.settings).rollout_progress(s)
    assert expected == 2
    assert progress.value is not None and progress.value.cumulative[-1][1] == expected
    fc = web.client.get("/api/v1/rollout/forecast", headers=web.as_("viewer")).json()
    assert fc["summary"]["issued"] == expected
    assert sum(u["issued"] for u in fc["by_org_unit"]) == expected
    page = web.client.get("/rollout", headers=web.as_("viewer")).text
    assert re.search(rf'<span class="figure">{expected}</span> of 12 handed over', page)
    overview = web.client.get("/", headers=web.as_("viewer")).text
    assert (f'data-figure="handsets_issued">{expected} eligible people hold an issued handset'
            in overview)
    assert "of 12 active people eligible for a handset" in overview
    figures = web.client.get("/api/v1/figures", headers=web.as_("viewer")).json()
    assert {f["key"]: f["value"] for f in figures}["handsets_issued"] == expected
