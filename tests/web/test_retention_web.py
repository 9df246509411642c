"""Retention on the web: a records manager activates a rule set (CSRF form), sees the dry
run's charts and the difference between versions, places and releases a hold; a person
reviews their own files; a batch is proposed, approved by another records manager and
executed, and its certificate lists the deleted file."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.drives.estate import scan_people
from mobilise.people import logins
from mobilise.people.models import Person
from mobilise.retention import review, rule_sets
from mobilise.retention.models import ReviewItem
from mobilise.retention.scanned import scanned_estate
from mobilise.web.pages import retention as retention_pages
from mobilise.web.pages.render import NAVIGATION
from tests.factories import ADMIN
from tests.retention.small_estate import HOME_FILES, RULE_SET
from tests.web.conftest import PASSWORD, Web


def _setup(web: Web) -> dict[str, str]:
    """Two records managers, a person's account linked to them, a scanned drive."""
    settings = web.settings.model_copy(update={
        "home_template": str(web.settings.home_root) + "/{sam}"})
    web.app.state.settings = settings
    home = Path(settings.home_root) / "asmith0"
    for rel, data in HOME_FILES.items():
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
        logins.link_login(s, ADMIN, alex, person)
        tokens["alex"] = auth.issue_token(s, ADMIN, alex, "test")
        scan_people(s, settings, [person], SystemClock())
    return tokens


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _finished(web: Web, started: Any) -> dict[str, Any]:
    """The background job ``started`` answered for, once it has ended."""
    job: dict[str, Any] = started.json()
    assert started.headers["location"] == f"/api/v1/jobs/{job['id']}"
    deadline = time.monotonic() + 60
    while job["status"] in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.1)
        job = web.client.get(started.headers["location"], headers=web.as_("viewer")).json()
    return job


def _add(web: Web, token: str, version: int, media: str) -> None:
    r = web.client.post("/api/v1/retention/rule-sets", headers={
        **_bearer(token), "content-type": "text/plain"},
        content=RULE_SET.format(name="web", version=version, media=media))
    assert r.status_code == 201, r.text


def test_rule_sets_dry_run_diff_and_holds_pages(web: Web) -> None:
    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    listing = web.client.get("/retention", headers=_bearer(tokens["rm1"]))
    assert listing.status_code == 200
    assert "No rule set is active" in listing.text
    assert 'action="/retention/rule-sets/web/1/activate"' in listing.text
    assert ("Retention", "/retention") in [(label, href) for label, href, _ in NAVIGATION]

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
    assert proposed.status_code == 202, proposed.text  # a background job
    job = _finished(web, proposed)
    assert (job["status"], job["kind"], job["stats"]["files"]) == (
        "done", "disposal-proposal", 1), job
    batch = {"id": job["stats"]["batch"]}
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


def test_review_queue_items_and_decisions_over_the_api_and_pages(
        web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(web.settings.home_root) / "asmith0"
    for n in range(5):
        (home / "Music").mkdir(parents=True, exist_ok=True)
        (home / f"Music/track{n}.mp3").write_bytes(b"tune %d" % n)
        os.utime(home / f"Music/track{n}.mp3", (1_700_000_000, 1_700_000_000))
    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    web.client.post("/api/v1/retention/rule-sets/web/1/activate", json={"reason": "agreed"},
                    headers=_bearer(tokens["rm1"]))
    api = "/api/v1/retention/review"

    # Records managers queue; nobody else may.
    assert web.client.post(f"{api}/queue", json={}, headers=web.as_("viewer")).status_code == 403
    # Queueing runs as a background job: 202 at once, the count in the job's stats.
    queued = web.client.post(f"{api}/queue", json={}, headers=_bearer(tokens["rm1"]))
    assert queued.status_code == 202, queued.text
    job = _finished(web, queued)
    assert (job["status"], job["kind"]) == ("done", "review-queue"), job
    assert job["stats"] == {"rule_set": "web", "version": 1, "queued": 6}
    again = web.client.post(f"{api}/queue", json={"rule": "media"}, headers=_bearer(tokens["rm1"]))
    assert _finished(web, again)["stats"]["queued"] == 0  # already queued
    assert web.client.post(f"{api}/queue", json={"version": "web@9"},
                           headers=_bearer(tokens["rm1"])).status_code == 404

    # Pages of items: stable order, no overlap, totals that count every match.
    first = web.client.get(f"{api}/items?limit=4", headers=web.as_("auditor")).json()
    second = web.client.get(f"{api}/items?limit=4&offset=4", headers=web.as_("auditor")).json()
    assert (first["total"], len(first["items"]), len(second["items"])) == (6, 4, 2)
    ids = [i["id"] for i in first["items"] + second["items"]]
    assert len(set(ids)) == 6
    assert {i["path"] for i in first["items"] + second["items"]} == {
        "Music/song.mp3", *(f"Music/track{n}.mp3" for n in range(5))}
    assert web.client.get(f"{api}/items?rule=tmp-files",
                          headers=_bearer(tokens["rm1"])).json()["total"] == 0
    assert web.client.get(f"{api}/items?person=100000",
                          headers=_bearer(tokens["rm1"])).json()["total"] == 6
    assert web.client.get(f"{api}/items", headers=web.as_("viewer")).status_code == 403
    assert web.client.get(f"{api}/items?status=gone",
                          headers=_bearer(tokens["rm1"])).status_code == 422

    # A person sees their own items; an account without a person sees none.
    mine = web.client.get(f"{api}/me", headers=_bearer(tokens["alex"])).json()
    assert (mine["person"], mine["total"]) == ("100000", 6)
    assert web.client.get(f"{api}/me", headers=web.as_("viewer")).json()["person"] is None

    # The pages: filters, paging, and the queue form behind the CSRF token.
    monkeypatch.setattr(retention_pages, "REVIEW_PAGE", 4)
    assert web.login("rm1").status_code == 303
    listing = web.client.get("/retention/review?rule=media")
    assert listing.status_code == 200
    assert "6 files." in listing.text and "Page 1 of 2" in listing.text
    assert 'href="?status=pending&person=&rule=media&page=2"' in listing.text
    assert 'action="/retention/review/queue"' in listing.text
    shown = re.findall(r'name="item" value="(\d+)"', listing.text + web.client.get(
        "/retention/review?rule=media&page=2").text)
    assert sorted(map(int, shown)) == sorted(ids)  # two pages, every file once
    assert web.client.post("/retention/review/queue", data={},
                           follow_redirects=False).status_code == 403
    requeued = web.client.post("/retention/review/queue", data={"csrf_token": web.csrf()},
                               follow_redirects=False)
    assert requeued.status_code == 303
    own = web.client.get("/retention/review/me", headers=_bearer(tokens["alex"]))
    assert own.status_code == 200 and "Page 1 of 2" in own.text
    assert 'action="/retention/review/queue"' not in own.text

    # The person decides one; a records manager decides the rest of the rule in bulk.
    item = first["items"][0]["id"]
    decided = web.client.post(f"{api}/decide", headers=_bearer(tokens["alex"]), json={
        "items": [item], "decision": "keep-archive", "justification": "case notes"})
    assert decided.json() == {"decided": 1}
    body = {"rule": "media", "decision": "dispose", "justification": "personal music"}
    assert web.client.post(f"{api}/decide-rule", json=body,
                           headers=_bearer(tokens["alex"])).status_code == 403
    assert web.client.post(f"{api}/decide-rule", json={**body, "justification": ""},
                           headers=_bearer(tokens["rm2"])).status_code == 422
    bulk = web.client.post(f"{api}/decide-rule", json=body, headers=_bearer(tokens["rm2"]))
    assert bulk.json() == {"decided": 5}
    done = web.client.get(f"{api}/items?status=decided&decision=dispose",
                          headers=_bearer(tokens["rm1"])).json()
    assert done["total"] == 5 and {i["decided_by"] for i in done["items"]} == {"rm2"}
    assert {i["justification"] for i in done["items"]} == {"personal music"}
    decided_page = web.client.get("/retention/review?status=decided")
    assert "Decided files" in decided_page.text and "case notes" in decided_page.text
    assert web.client.get(f"{api}/items",
                          headers=_bearer(tokens["rm1"])).json()["total"] == 0


def test_explain_a_scanned_file_over_the_api_and_the_page(web: Web) -> None:
    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    with session_scope(web.settings) as s:
        rule_sets.activate(s, ADMIN, "web", 1, reason="agreed")
    shown = web.client.get("/api/v1/retention/explain", headers=_bearer(tokens["rm2"]),
                           params={"person": "100000", "path": "scratch/build.tmp"})
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["rule_set"], body["version"], body["rule"], body["action"]) == \
        ("web", 1, "tmp-files", "dispose")
    missing = web.client.get("/api/v1/retention/explain", headers=_bearer(tokens["rm2"]),
                             params={"person": "100000", "path": "nowhere.txt"})
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert web.client.get("/api/v1/retention/explain", headers=web.as_("viewer"),
                          params={"person": "100000", "path": "x"}).status_code == 403
    assert web.login("rm1").status_code == 303
    nav = web.client.get("/retention").text
    assert 'href="/retention/explain"' in nav
    page = web.client.get("/retention/explain",
                          params={"person": "100000", "path": "Music/song.mp3"})
    assert page.status_code == 200
    assert "by rule <strong>media</strong>" in page.text
