"""The retention forms on the pages: the rule-set, person and wave pickers; queueing and
proposing run as background jobs whose status the page shows live and then the result;
decisions are confirmed with how many files were decided."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from mobilise.core.db import session_scope
from mobilise.migration import waves
from mobilise.retention.models import ReviewItem
from tests.factories import ADMIN
from tests.web.conftest import Web
from tests.web.test_retention_web import _add, _bearer, _setup, page_job


def _ready(web: Web) -> dict[str, str]:
    tokens = _setup(web)
    _add(web, tokens["rm1"], 1, "review")
    web.client.post("/api/v1/retention/rule-sets/web/1/activate", json={"reason": "agreed"},
                    headers=_bearer(tokens["rm1"]))
    _add(web, tokens["rm1"], 2, "dispose")
    with session_scope(web.settings) as s:
        waves.create_wave(s, ADMIN, "Scanned", waves.WaveSelection(people=["100000"]))
        waves.create_wave(s, ADMIN, "Unscanned", waves.WaveSelection(people=["100003"]))
    return tokens


def test_the_queue_form_picks_versions_people_and_waves(web: Web) -> None:
    tokens = _ready(web)
    shown = web.client.get("/retention/review", headers=_bearer(tokens["rm1"])).text
    versions = re.findall(r'<option value="(web@\d)">([^<]+)</option>', shown)
    assert versions[:2] == [("web@1", "web v1 (in force)"), ("web@2", "web v2")]
    assert 'name="version"' in shown and "NAME@VERSION" not in shown
    assert '<option value="100000">100000 – ' in shown  # scanned; the others are not
    assert '<option value="100003">' not in shown
    assert '<option value="Scanned">Scanned</option>' in shown
    disposal = web.client.get("/retention/disposal", headers=_bearer(tokens["rm1"])).text
    assert '<option value="web@1">web v1 (in force)</option>' in disposal
    assert '<option value="Unscanned">Unscanned</option>' in disposal


def test_queueing_answers_at_once_shows_the_job_live_then_the_count(
        web: Web, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = _ready(web)
    release = threading.Event()
    from mobilise.migration import review_load

    real = review_load.queue_for_review

    def held(*args: Any, **kwargs: Any) -> int:
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(review_load, "queue_for_review", held)
    assert web.login("rm1").status_code == 303
    started = web.client.post("/retention/review/queue", follow_redirects=False, data={
        "csrf_token": web.csrf(), "version": "web@1", "wave": "Scanned"})
    assert started.status_code == 303  # answered while the work waits
    running = web.client.get(started.headers["location"]).text
    assert "data-reload-when-done" in running and 'data-live-jobs="/api/v1/jobs?kind=' in running
    assert "review queue: web v1, wave Scanned" in running
    assert '<script src="/static/live.js"></script>' in running
    release.set()
    job = page_job(web, started, tokens["rm1"])
    assert job["status"] == "done", job
    with session_scope(web.settings) as s:
        queued = s.scalar(select(func.count()).select_from(ReviewItem))
    assert queued and job["stats"]["queued"] == queued
    done = web.client.get(started.headers["location"]).text
    assert f"{queued} file{'' if queued == 1 else 's'} queued for review under web v1." in done
    assert "data-reload-when-done" not in done


def test_a_wave_nobody_of_which_is_scanned_is_reported(web: Web) -> None:
    tokens = _ready(web)
    assert web.login("rm1").status_code == 303
    started = web.client.post("/retention/review/queue", follow_redirects=False, data={
        "csrf_token": web.csrf(), "version": "web@1", "wave": "Unscanned"})
    job = page_job(web, started, tokens["rm1"])
    assert job["status"] == "failed"
    shown = web.client.get(started.headers["location"]).text
    assert "Queueing did not finish" in shown
    assert "no drive of these people has been scanned" in shown
    missing = web.client.post("/retention/review/queue", follow_redirects=False, data={
        "csrf_token": web.csrf(), "version": "web@1", "wave": "Nowhere"})
    assert missing.status_code == 404


def test_decisions_and_a_proposal_are_confirmed(web: Web) -> None:
    tokens = _ready(web)
    assert web.login("rm1").status_code == 303
    page_job(web, web.client.post("/retention/review/queue", follow_redirects=False, data={
        "csrf_token": web.csrf(), "version": "web@1"}), tokens["rm1"])
    listing = web.client.get("/retention/review").text
    item = re.search(r'name="item"[^>]*value="(\d+)"', listing)
    assert item
    decided = web.client.post("/retention/review/decide", follow_redirects=False, data={
        "csrf_token": web.csrf(), "item": item.group(1), "decision": "keep-archive",
        "justification": "case notes", "back": "/retention/review?rule=media"})
    assert decided.headers["location"] == \
        "/retention/review?rule=media&decided=1&decision=keep-archive"
    assert "1 file decided: keep and archive." in web.client.get(
        decided.headers["location"]).text
    forged = web.client.get("/retention/review?decided=5&decision=<b>gone</b>").text
    assert "decided:" not in forged

    proposed = web.client.post("/retention/disposal/propose", follow_redirects=False, data={
        "csrf_token": web.csrf(), "version": "web@1", "wave": "Scanned"})
    job = page_job(web, proposed, tokens["rm1"])
    assert job["status"] == "done", job
    shown = web.client.get(proposed.headers["location"]).text
    batch = job["stats"]["batch"]
    assert f"Disposal batch {batch} proposed: 1 file." in shown
    assert f'href="/retention/disposal/{batch}"' in shown
