"""A wave's laptops over the API and on the page: import, who is held back, the message,
the override; bad files change nothing and say where."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from mobilise.comms.models import OutboxMessage
from mobilise.comms.templates import ensure_defaults
from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.endpoints.models import Endpoint
from mobilise.migration.waves import WaveSelection, create_wave
from tests.factories import ADMIN
from tests.web.conftest import PASSWORD, Web

INVENTORY = ("Device name,Primary user,Last sync,Items pending\n"
             "LT-1,alex1.smith@example.police.uk,2026-11-20 09:00,0\n"
             "LT-2,alex2.smith@example.police.uk,2026-12-03 09:00,0\n")


def _setup(web: Web) -> str:
    with session_scope(web.settings) as s:
        user = auth.add_user(s, ADMIN, "mig", PASSWORD, ["migration"])
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "test")
        ensure_defaults(s, ADMIN)
        create_wave(s, ADMIN, "L1", WaveSelection(people=["100001", "100002", "100003"]),
                    delta_rounds=0, schedule=[None, datetime(2026, 12, 1, 18, tzinfo=UTC)])
    return token


def test_laptops_over_the_api(web: Web) -> None:
    token = _setup(web)
    mig = {"Authorization": f"Bearer {token}"}
    refused = web.client.post("/api/v1/endpoints/import", headers=web.as_("viewer"),
                              files={"file": ("e.csv", INVENTORY.encode(), "text/csv")})
    assert refused.status_code == 403
    bad = web.client.post("/api/v1/endpoints/import", headers=mig, files={
        "file": ("e.csv", b"Device name,Primary user,Last sync\nLT-9,x,soon\n", "text/csv")})
    assert bad.status_code == 422 and "e.csv:2:3" in bad.text
    done = web.client.post("/api/v1/endpoints/import", headers=mig,
                           files={"file": ("e.csv", INVENTORY.encode(), "text/csv")})
    assert done.status_code == 200 and done.json()["added"] == 2, done.text
    shown = web.client.get("/api/v1/waves/L1/laptops", headers=web.as_("viewer")).json()
    states = {r["person"]: (r["state"], r["holds_back"]) for r in shown["laptops"]}
    assert states == {"100001": ("not synced since the freeze", True),
                      "100002": ("synced", False), "100003": ("no laptop recorded", False)}
    held = web.client.get("/api/v1/waves/L1/laptops", params={"held": "true"},
                          headers=web.as_("viewer")).json()["laptops"]
    assert [r["person"] for r in held] == ["100001"]
    assert web.client.post("/api/v1/waves/L1/laptops/notify", headers=mig).json() == {
        "queued": 1, "queued_before": 0}
    r = web.client.post("/api/v1/waves/L1/people/100001/offline-override", headers=mig,
                        json={"reason": ""})
    assert r.status_code == 422
    r = web.client.post("/api/v1/waves/L1/people/100001/offline-override", headers=mig,
                        json={"reason": "laptop replaced; nothing offline"})
    assert r.status_code == 200 and r.json()["override_by"] == "mig"
    again = web.client.post("/api/v1/waves/L1/people/100001/offline-override", headers=mig,
                            json={"reason": "again"})
    assert again.status_code == 409
    assert web.client.post("/api/v1/waves/L1/people/100009/offline-override", headers=mig,
                           json={"reason": "x"}).status_code == 404


def test_laptops_page(web: Web) -> None:
    _setup(web)
    assert web.login("mig").status_code == 303
    wave_page = web.client.get("/waves/L1")
    assert "/laptops" in wave_page.text
    page = web.client.get(re.search(r'href="(/waves/\d+/laptops)"', wave_page.text)
                          .group(1))  # type: ignore[union-attr]
    assert page.status_code == 200 and "Import the inventory" in page.text
    action = re.search(r'action="(/waves/\d+/laptops/import)"', page.text)
    assert action
    bad = web.client.post(action.group(1), data={"csrf_token": web.csrf()},
                          files={"file": ("e.csv", b"Device name\nLT-1\n", "text/csv")})
    assert bad.status_code == 200 and "The inventory was not imported" in bad.text
    assert "missing column" in bad.text
    done = web.client.post(action.group(1), data={"csrf_token": web.csrf()},
                           files={"file": ("e.csv", INVENTORY.encode(), "text/csv")})
    assert done.status_code == 200 and "2 laptops added" in done.text
    assert "1</strong> person is held back" in done.text
    with session_scope(web.settings) as s:
        assert len(s.scalars(select(Endpoint)).all()) == 2
    notify = re.search(r'action="(/waves/\d+/laptops/notify)"', done.text)
    assert notify
    told = web.client.post(notify.group(1), data={"csrf_token": web.csrf()})
    assert "1 messages queued" in told.text
    with session_scope(web.settings) as s:
        assert s.scalar(select(OutboxMessage.recipient).where(
            OutboxMessage.template == "offline_sync")) == "alex1.smith@example.police.uk"
    override = re.search(r'action="(/waves/\d+/people/100001/offline-override)"', told.text)
    assert override
    forged = web.client.post(override.group(1), data={"reason": "x"})
    assert forged.status_code == 403  # no CSRF token
    ok = web.client.post(override.group(1), data={"reason": "laptop wiped",
                                                   "csrf_token": web.csrf()})
    assert "laptop wiped (mig)" in ok.text and "0</strong> people are held back" in ok.text
