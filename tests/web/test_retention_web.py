"""Retention on the web: a records manager activates a rule set (CSRF form), sees the dry
run's charts and the difference between versions, places and releases a hold; a person
reviews their own files; a batch is proposed, approved by another records manager and
executed, and its certificate lists the deleted file."""

from __future__ import annotations

import os
import re
from pathlib import Path

from sqlalchemy import select

from mobilise.core import audit, auth
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.drives.estate import scan_people
from mobilise.people.models import Person
from mobilise.retention import review, rule_sets
from mobilise.retention.models import ReviewItem
from mobilise.retention.scanned import scanned_estate
from mobilise.web.pages.render import NAVIGATION
from tests.factories import ADMIN
from tests.web.conftest import PASSWORD, Web

V1 = """
rule_set: web
version: {version}
rules:
  - id: tmp-files
    title: Temporary files
    authority: "Not a record"
    action: dispose
    period: 0d
    select:
      extension: [tmp]
  - id: media
    title: Music
    authority: "Acceptable use"
    action: {media}
    period: 0d
    select:
      extension: [mp3]
default:
  id: everything-else
  action: migrate
"""
FILES = {"Documents/plan.docx": b"plan", "scratch/build.tmp": b"temporary",
         "Music/song.mp3": b"la la"}


def _setup(web: Web) -> dict[str, str]:
    """Two records managers, a person's account linked to them, a scanned drive."""
    settings = web.settings.model_copy(update={
        "home_template": str(web.settings.home_root) + "/{sam}"})
    web.app.state.settings = settings
    home = Path(settings.home_root) / "asmith0"
    for rel, data in FILES.items():
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_bytes(data)
        os.utime(home / rel, (1_700_000_000, 1_700_000_000))
    tokens = {}
    with session_scope(settings) as s:
        for name in ("rm1", "rm2"):
            user = auth.add_user(s, ADMIN, name, PASSWORD, ["records"])
            s.flush()
            tokens[name] = auth.issue_token(s, ADMIN, user, "test")
        alex = auth.add_user(s, ADMIN, "alex", PASSWORD, ["viewer"])
        person = s.scalar(select(Person).where(Person.number == "100000"))
        assert person is not None
        s.flush()
        with audit.change(s, ADMIN, "user.link_person", alex):
            alex.person_id = person.id
        tokens["alex"] = auth.issue_token(s, ADMIN, alex, "test")
        scan_people(s, settings, [person], SystemClock())
    return tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _add(web: Web, token: str, version: int, media: str) -> None:
    r = web.client.post("/api/v1/retention/rule-sets", headers={
        **_bearer(token), "content-type": "text/plain"},
        content=V1.format(version=version, media=media))
    assert r.status_code == 201, r.text


def test_rule_sets_dry_run_diff_and_holds_pages(web: Web) -> None:
    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    listing = web.client.get("/retention", headers=_bearer(tokens["rm1"]))
    assert listing.status_code == 200
    assert "No rule set is active" in listing.text
    assert 'action="/retention/rule-sets/web/1/activate"' in listing.text
    assert ("Retention", "/retention") in NAVIGATION

    # The activation form needs the session's CSRF token.
    assert web.login("rm1").status_code == 303
    refused = web.client.post("/retention/rule-sets/web/1/activate", data={"reason": "x"},
                              follow_redirects=False)
    assert refused.status_code == 403
    done = web.client.post("/retention/rule-sets/web/1/activate",
                           data={"reason": "agreed with the records board",
                                 "csrf_token": web.csrf()}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert "In force: <strong>web v1</strong>" in web.client.get("/retention").text

    dry = web.client.get("/retention/dry-run")
    assert dry.status_code == 200
    assert dry.text.count("<svg") == 6  # files and bytes per action, rule and org unit
    assert "tmp-files" in dry.text and "3 files" in dry.text
    api = web.client.get("/api/v1/retention/dry-run", headers=_bearer(tokens["rm1"])).json()
    assert {r["action"]: r["files"] for r in api["by_action"]} == \
        {"migrate": 1, "dispose": 1, "review": 1}

    _add(web, tokens["rm1"], 2, "dispose")
    diff = web.client.get("/retention/diff?old=web@1&new=web@2")
    assert diff.status_code == 200
    assert "v2 disposes 1 more files, 5 B, mostly through rule media" in diff.text
    api_diff = web.client.get("/api/v1/retention/diff", params={"old": "web@1", "new": "web@2"},
                              headers=_bearer(tokens["rm2"])).json()
    assert api_diff["changed_files"] == 1

    csrf = web.csrf()
    placed = web.client.post("/retention/holds", data={
        "csrf_token": csrf, "reference": "FOI-7", "kind": "foi", "people": "100000",
        "reason": "request received"}, follow_redirects=False)
    assert placed.status_code == 303, placed.text
    assert "FOI-7" in web.client.get("/retention/holds").text
    released = web.client.post("/retention/holds/FOI-7/release",
                               data={"csrf_token": csrf, "reason": "answered"},
                               follow_redirects=False)
    assert released.status_code == 303
    assert "released by rm1: answered" in web.client.get("/retention/holds").text


def test_self_service_review_then_disposal_batch_and_certificate(web: Web) -> None:
    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    r = web.client.post("/api/v1/retention/rule-sets/web/1/activate",
                        json={"reason": "agreed"}, headers=_bearer(tokens["rm1"]))
    assert r.status_code == 200, r.text
    with session_scope(web.app.state.settings) as s:
        scanned = scanned_estate(s)
        assert scanned is not None
        review.queue_reviews(s, ADMIN, rule_sets.get_version(s, "web"), scanned.estate,
                             SystemClock().now().date())

    # The person sees their own file (through their account's person link) and decides.
    mine = web.client.get("/retention/review/me", headers=_bearer(tokens["alex"]))
    assert mine.status_code == 200 and "Music/song.mp3" in mine.text
    unlinked = web.client.get("/retention/review/me", headers=web.as_("viewer"))
    assert "not linked to a person" in unlinked.text
    item = re.search(r'name="item" value="(\d+)"', mine.text)
    assert item
    other = web.client.post("/retention/review/decide", headers=web.as_("viewer"), data={
        "item": item.group(1), "decision": "dispose", "justification": "not mine"},
        follow_redirects=False)
    assert other.status_code == 409  # someone else's file
    decided = web.client.post("/retention/review/decide", headers=_bearer(tokens["alex"]), data={
        "item": item.group(1), "decision": "keep-migrate", "justification": "my own music",
        "back": "/retention/review/me"}, follow_redirects=False)
    assert decided.status_code == 303 and decided.headers["location"] == "/retention/review/me"
    with session_scope(web.app.state.settings) as s:
        row = s.scalar(select(ReviewItem))
        assert row is not None and (row.decision, row.decided_by) == ("keep-migrate", "alex")
    assert web.client.get("/retention/review/people/100000",
                          headers=_bearer(tokens["rm2"])).status_code == 200

    # Proposed by one records manager, approved by another, executed.
    proposed = web.client.post("/api/v1/retention/disposal-batches", json={},
                               headers=_bearer(tokens["rm1"]))
    assert proposed.status_code == 201, proposed.text
    batch = proposed.json()
    assert batch["files"] == 1
    same = web.client.post(f"/retention/disposal/{batch['id']}/approve", data={},
                           headers=_bearer(tokens["rm1"]), follow_redirects=False)
    assert same.status_code == 409
    approved = web.client.post(f"/retention/disposal/{batch['id']}/approve",
                               data={"reason": "checked"}, headers=_bearer(tokens["rm2"]),
                               follow_redirects=False)
    assert approved.status_code == 303
    page = web.client.get(f"/retention/disposal/{batch['id']}", headers=_bearer(tokens["rm2"]))
    assert "approved" in page.text and "/execute" in page.text
    executed = web.client.post(f"/api/v1/retention/disposal-batches/{batch['id']}/execute",
                               headers=_bearer(tokens["rm2"]))
    assert executed.status_code == 200, executed.text
    assert executed.json()["deleted_files"] == 1
    home = Path(web.settings.home_root) / "asmith0"
    assert not (home / "scratch/build.tmp").exists()
    assert (home / "Music/song.mp3").exists() and (home / "Documents/plan.docx").exists()
    certificate = web.client.get(f"/retention/disposal/{batch['id']}/certificate",
                                 headers=_bearer(tokens["rm1"]))
    assert "scratch/build.tmp" in certificate.text and "Music/song.mp3" not in certificate.text
    listing = web.client.get("/retention/disposal", headers=_bearer(tokens["rm1"]))
    assert "executed" in listing.text
