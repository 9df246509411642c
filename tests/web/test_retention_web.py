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
from mobilise.workers.background import wait_for_jobs
from tests.factories import ADMIN
from tests.retention.small_estate import HOME_FILES, RULE_SET
from tests.web.conftest import PASSWORD, Web
from tests.web.markup import text_of


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


def page_job(web: Web, answer: Any, token: str) -> dict[str, Any]:
    """The job a page form started (its redirect names it), once it has ended."""
    assert answer.status_code == 303, answer.text
    found = re.search(r"\?job=(\d+)#job-h$", answer.headers["location"])
    assert found, answer.headers["location"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = web.client.get(f"/api/v1/jobs/{found.group(1)}",
                                             headers=_bearer(token)).json()
        if job["status"] != "running":
            return job
        time.sleep(0.1)
    raise AssertionError("the job did not end")


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

    # Nothing recorded yet: the page answers at once and offers to run it.
    dry = web.client.get("/retention/dry-run")
    assert dry.status_code == 200 and "No dry run of web v1 has been recorded" in dry.text
    assert "<svg" not in dry.text
    started = web.client.post("/retention/dry-run", data={
        "version": "web@1", "csrf_token": web.csrf()}, follow_redirects=False)
    assert started.status_code == 303
    assert started.headers["location"] == "/retention/dry-run?version=web@1"
    wait_for_jobs(60)
    dry = web.client.get("/retention/dry-run")
    assert dry.text.count("<svg") == 6  # files and bytes per action, rule and org unit
    assert "by rm1" in dry.text and "Run the dry run again" in dry.text
    assert "tmp-files" in dry.text and "3 files" in dry.text
    api = web.client.get("/api/v1/retention/dry-run", headers=_bearer(tokens["rm1"])).json()
    assert {r["action"]: r["files"] for r in api["by_action"]} == \
        {"migrate": 1, "dispose": 1, "review": 1}
    # The API records one in the background too, and answers with the recorded one.
    api_kept = web.client.get("/api/v1/retention/dry-run?recorded=true",
                              headers=_bearer(tokens["rm2"]))
    assert api_kept.status_code == 200 and api_kept.json()["ran_by"] == "rm1"
    job = _finished(web, web.client.post("/api/v1/retention/dry-runs", json={"version": "web@1"},
                                         headers=_bearer(tokens["rm2"])))
    assert job["status"] == "done" and "3 files" in job["message"], job
    api_kept = web.client.get("/api/v1/retention/dry-run?recorded=true&version=web@1",
                              headers=_bearer(tokens["rm2"])).json()
    assert api_kept["ran_by"] == "rm2" and api_kept["files"] == 3
    assert {r["action"] for r in api_kept["by_rule"]} == {"migrate", "dispose", "review"}

    _add(web, tokens["rm1"], 2, "dispose")
    diff = web.client.get("/retention/diff?old=web@1&new=web@2")
    assert diff.status_code == 200 and "have not been compared yet" in diff.text
    started = web.client.post("/retention/diff", data={
        "old": "web@1", "new": "web@2", "csrf_token": web.csrf()}, follow_redirects=False)
    assert started.status_code == 303
    assert started.headers["location"] == "/retention/diff?old=web%401&new=web%402"
    wait_for_jobs(60)
    diff = web.client.get(started.headers["location"])
    assert "v2 disposes 1 more files, 5 B, mostly through rule media" in diff.text
    assert "by rm1" in diff.text and "Compare them again" in diff.text
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
    item = re.search(r'name="item"[^>]*value="(\d+)"', mine.text)
    assert item
    other = web.client.post("/retention/review/decide", headers=web.as_("viewer"), data={
        "item": item.group(1), "decision": "dispose", "justification": "not mine"},
        follow_redirects=False)
    assert other.status_code == 409  # someone else's file
    decided = web.client.post("/retention/review/decide", headers=_bearer(tokens["alex"]), data={
        "item": item.group(1), "decision": "keep-migrate", "justification": "my own music",
        "back": "/retention/review/me"}, follow_redirects=False)
    assert decided.status_code == 303
    assert decided.headers["location"] == "/retention/review/me?decided=1&decision=keep-migrate"
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
    assert 'href="?status=open&person=&rule=media&page=2"' in listing.text
    assert 'action="/retention/review/queue"' in listing.text
    shown = re.findall(r'name="item"[^>]*value="(\d+)"', listing.text + web.client.get(
        "/retention/review?rule=media&page=2").text)
    assert sorted(map(int, shown)) == sorted(ids)  # two pages, every file once
    assert web.client.post("/retention/review/queue", data={},
                           follow_redirects=False).status_code == 403
    requeued = web.client.post("/retention/review/queue", data={"csrf_token": web.csrf()},
                               follow_redirects=False)
    assert page_job(web, requeued, tokens["rm1"])["stats"]["queued"] == 0
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


def test_purview_plan_page_and_downloads(web: Web) -> None:
    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    shown = web.client.get("/retention/rule-sets/web/1/purview",
                           params={"reviewer": "records@force.police.uk"},
                           headers=_bearer(tokens["rm1"]))
    assert shown.status_code == 200, shown.text
    assert "What Purview cannot carry" in shown.text and "KeepAndDelete" in shown.text
    assert "/retention/rule-sets/web/1/purview" in web.client.get(
        "/retention/rule-sets/web/1", headers=_bearer(tokens["rm1"])).text
    plan = web.client.get("/api/v1/retention/rule-sets/web/1/purview",
                          headers=_bearer(tokens["rm1"])).json()
    assert plan["rule_set"] == "web" and plan["labels"]
    script = web.client.get("/api/v1/retention/rule-sets/web/1/purview",
                            params={"form": "ps1"}, headers=_bearer(tokens["rm1"]))
    assert script.headers["content-disposition"].endswith('purview-web-v1.ps1"')
    assert "New-ComplianceTag" in script.text
    bad = web.client.get("/api/v1/retention/rule-sets/web/1/purview",
                         params={"reviewer": "not an address"}, headers=_bearer(tokens["rm1"]))
    assert bad.status_code == 422
    assert web.client.get("/api/v1/retention/rule-sets/web/1/purview",
                          headers=web.as_("viewer")).status_code == 403
    assert web.client.get("/api/v1/retention/rule-sets/web/9/purview",
                          headers=_bearer(tokens["rm1"])).status_code == 404


def test_leavers_and_orphan_drives_page_and_api(web: Web) -> None:
    tokens = _setup(web)
    (web.settings.home_root / "orphan-web").mkdir(parents=True, exist_ok=True)
    refused = web.client.post("/api/v1/retention/drive-cases/refresh", headers=web.as_("viewer"))
    assert refused.status_code == 403
    done = web.client.post("/api/v1/retention/drive-cases/refresh",
                           headers=_bearer(tokens["rm1"]))
    assert done.status_code == 200 and done.json()["added"] >= 1, done.text
    cases = web.client.get("/api/v1/retention/drive-cases", params={"open": "true"},
                           headers=_bearer(tokens["rm1"])).json()
    orphan = next(c for c in cases if c["home"].endswith("orphan-web"))
    assert (orphan["kind"], orphan["proposed"]) == ("orphan", "review")
    bad = web.client.post(f"/api/v1/retention/drive-cases/{orphan['id']}/decide",
                          headers=_bearer(tokens["rm1"]), json={"outcome": "shred",
                                                                "reason": "x"})
    assert bad.status_code == 422

    assert web.login("rm1").status_code == 303
    shown = web.client.get("/retention/drives")
    assert shown.status_code == 200 and "orphan-web" in shown.text
    action = f"/retention/drives/{orphan['id']}/decide"
    assert f'action="{action}"' in shown.text
    decided = web.client.post(action, data={"outcome": "archive", "reason": "kept for HR",
                                            "csrf_token": web.csrf()})
    assert decided.status_code == 200 and "Recorded:" in decided.text
    assert "archive by rm1" in text_of(decided.text).lower()
    again = web.client.post(f"/api/v1/retention/drive-cases/{orphan['id']}/decide",
                            headers=_bearer(tokens["rm1"]),
                            json={"outcome": "dispose", "reason": "x"})
    assert again.status_code == 409


def test_deadlines_reminders_escalation_and_the_load_per_wave_on_the_web(web: Web) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from mobilise.core.actor import Actor, Role
    from mobilise.migration.waves import WaveSelection, create_wave

    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    web.client.post("/api/v1/retention/rule-sets/web/1/activate", json={"reason": "agreed"},
                    headers=_bearer(tokens["rm1"]))
    api = "/api/v1/retention/review"
    queued = web.client.post(f"{api}/queue", json={}, headers=_bearer(tokens["rm1"]))
    assert _finished(web, queued)["stats"]["queued"] == 1
    due = SystemClock().now().date() + timedelta(days=web.settings.retention_review_days)
    (item,) = web.client.get(f"{api}/me", headers=_bearer(tokens["alex"])).json()["items"]
    assert (item["assigned_to"], item["due_on"]) == ("100000", due.isoformat())
    mine = web.client.get("/retention/review/me", headers=_bearer(tokens["alex"]))
    assert "Decide by" in mine.text and due.strftime("%d %B %Y") in mine.text

    with session_scope(web.app.state.settings) as s:
        create_wave(s, Actor("rm1", frozenset({Role.RECORDS})), "W1",
                    WaveSelection(people=["100000"]))
        s.execute(update(ReviewItem).values(due_on=SystemClock().now().date()
                                            - timedelta(days=1)))
    load = web.client.get(f"{api}/load", headers=_bearer(tokens["rm1"])).json()
    assert load == [{"wave": "W1", "people": 1, "files": 1, "bytes": 5, "overdue": 1,
                     "escalated": 0}]

    # Only records managers sweep; the page's button (CSRF) escalates what is overdue.
    assert web.client.post(f"{api}/sweep", headers=web.as_("viewer")).status_code == 403
    assert web.login("rm1").status_code == 303
    page = web.client.get("/retention/review")
    assert 'action="/retention/review/sweep"' in page.text
    assert web.client.post("/retention/review/sweep", data={},
                           follow_redirects=False).status_code == 403
    swept = web.client.post("/retention/review/sweep", data={"csrf_token": web.csrf()},
                            follow_redirects=False)
    assert swept.status_code == 303
    again = web.client.post(f"{api}/sweep", headers=_bearer(tokens["rm2"])).json()
    assert again == {"reminded": 0, "escalated": 0, "to_line_managers": 0,
                     "line_managers": 0, "to_records": 0}
    pool = web.client.get("/retention/review?status=escalated")
    assert "Music/song.mp3" in pool.text and "to the records team" in pool.text
    waves = web.client.get("/waves")
    assert "Files awaiting review" in waves.text
    wave = web.client.get("/api/v1/waves", headers=_bearer(tokens["rm1"])).json()
    assert wave[0]["review"] == {"people": 1, "files": 1, "bytes": 5, "overdue": 0,
                                 "escalated": 1}
