"""The drives API, through the app as the web tests drive it."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.drives import estate
from mobilise.people.models import Person
from mobilise.web.api.drives import router
from mobilise.web.app import create_app
from tests.factories import ADMIN, load_people


def test_summary_and_person_report(sqlite_settings, tmp_path):
    settings = sqlite_settings.model_copy(update={
        "home_template": str(sqlite_settings.home_root) + "/{sam}"})
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=2)
        people = list(s.scalars(select(Person).order_by(Person.number)))
        home = settings.home_root / people[0].sam_account_name
        home.mkdir(parents=True)
        (home / "a:b.txt").write_text("x")
        estate.scan_people(s, settings, people, SystemClock())
        tokens = {}
        for name, roles in {"viewer": ["viewer"], "migration": ["migration"]}.items():
            user = auth.add_user(s, ADMIN, name, "correct horse battery", roles)
            s.flush()
            tokens[name] = {"Authorization": f"Bearer {auth.issue_token(s, ADMIN, user, 't')}"}
        number = people[0].number
    app = create_app(settings)
    app.include_router(router)
    with TestClient(app) as client:
        summary = client.get("/api/v1/drives/summary", headers=tokens["viewer"])
        assert summary.status_code == 200, summary.text
        assert summary.json()["people"] == 1
        assert summary.json()["issues_by_kind"] == {"invalid_characters": 1}
        denied = client.get(f"/api/v1/drives/people/{number}", headers=tokens["viewer"])
        assert denied.status_code == 403
        report = client.get(f"/api/v1/drives/people/{number}", headers=tokens["migration"])
        assert report.status_code == 200, report.text
        assert [(f["path"], f["proposed_name"]) for f in report.json()["findings"]] == [
            ("a:b.txt", "a_b.txt")]
        missing = client.get(f"/api/v1/drives/people/{people[1].number}",
                             headers=tokens["migration"])
        assert missing.status_code == 404


def test_readiness_pages(sqlite_settings, tmp_path):
    from mobilise.core.words import size_text
    from mobilise.retention.dry_run import bytes_text
    from mobilise.web.pages.drives import router as pages

    settings = sqlite_settings.model_copy(update={
        "home_template": str(sqlite_settings.home_root) + "/{sam}"})
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=2)
        people = list(s.scalars(select(Person).order_by(Person.number)))
        home = settings.home_root / people[0].sam_account_name
        home.mkdir(parents=True)
        (home / "<script>.txt").write_text("x")
        (home / "big.bin").write_bytes(b"\0" * 183_600)
        estate.scan_people(s, settings, people, SystemClock())
        user = auth.add_user(s, ADMIN, "migration", "correct horse battery", ["migration"])
        s.flush()
        headers = {"Authorization": f"Bearer {auth.issue_token(s, ADMIN, user, 't')}"}
        number, other = people[0].number, people[1].number
    app = create_app(settings)
    app.include_router(pages)
    with TestClient(app) as client:
        estate_page = client.get("/drives", headers=headers)
        assert estate_page.status_code == 200, estate_page.text
        # Display labels, not internal names; sizes scaled by the one function the
        # retention dry run uses too (184 kB, not 0.000 TB).
        assert "invalid_characters" not in estate_page.text
        assert "characters OneDrive does not allow" in estate_page.text
        assert re.search(r'govuk-summary-list__value">\s*184 kB\s*</dd>', estate_page.text)
        assert size_text(183_601) == bytes_text(183_601) == "184 kB"
        drive_page = client.get(f"/drives/people/{number}", headers=headers)
        assert drive_page.status_code == 200
        assert "invalid_characters" not in re.sub(r"<[^>]+>", "", drive_page.text)
        # The page sums the findings up; the files are one click away, a page at a time.
        assert "_script_.txt" not in drive_page.text and "List them" in drive_page.text
        drive_page = client.get(f"/drives/people/{number}",
                                params={"show": "findings", "kind": "invalid_characters"},
                                headers=headers)
        assert drive_page.status_code == 200 and "Showing 1–" in drive_page.text
        assert "invalid_characters" not in re.sub(r"<[^>]+>", "", drive_page.text)
        assert "&lt;script&gt;.txt" in drive_page.text and "<script>.txt" not in drive_page.text
        assert "_script_.txt" in drive_page.text
        assert "No complete scan" in client.get(f"/drives/people/{other}", headers=headers).text


def test_a_drive_with_many_findings_is_listed_a_page_at_a_time(sqlite_settings, tmp_path):
    from mobilise.web.pages.drives import router as pages

    settings = sqlite_settings.model_copy(update={
        "home_template": str(sqlite_settings.home_root) + "/{sam}"})
    with session_scope(settings) as s:
        load_people(s, tmp_path, count=1)
        person = s.scalars(select(Person)).one()
        home = settings.home_root / person.sam_account_name
        home.mkdir(parents=True)
        for n in range(120):
            (home / f"report {n:03d}?.txt").write_text("x")
        estate.scan_people(s, settings, [person], SystemClock())
        user = auth.add_user(s, ADMIN, "migration", "correct horse battery", ["migration"])
        s.flush()
        headers = {"Authorization": f"Bearer {auth.issue_token(s, ADMIN, user, 't')}"}
        number = person.number
    app = create_app(settings)
    app.include_router(pages)
    with TestClient(app) as client:
        summary = client.get(f"/drives/people/{number}", headers=headers).text
        assert re.search(r'govuk-table__cell--numeric">120</td>', summary)
        assert "report 000" not in summary
        last = client.get(f"/drives/people/{number}", headers=headers,
                          params={"show": "findings", "page": 3}).text
        assert "Showing 101–120 of 120" in last
        assert last.count("<code>report ") == 20 and "report 119" in last
        assert 'href="?show=findings&kind=&page=2"' in last
