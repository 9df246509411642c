"""Waves over the API and on the pages, after a real round."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mobilise.core.db import session_scope
from mobilise.migration.rounds import run_round
from mobilise.migration.waves import get_wave
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN
from tests.migration.conftest import make_tree
from tests.web.conftest import Web
from tests.web.markup import table_rows


def test_wave_api_and_page_after_a_round(web: Web, tmp_path: Path) -> None:
    settings = web.settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "od",
        "archive_root": tmp_path / "archive"})
    make_tree(Path(settings.home_root) / "asmith0", 9, seed=2)
    make_tree(Path(settings.home_root) / "asmith1", 5, seed=3)
    created = web.client.post("/api/v1/waves", headers=web.as_("admin"),
                              json={"name": "Pilot", "people": ["100000", "100001"]})
    assert created.status_code == 201, created.text
    assert web.client.post("/api/v1/waves", headers=web.as_("viewer"),
                           json={"name": "X", "people": ["100002"]}).status_code == 403
    with session_scope(settings) as s:
        run_round(s, ADMIN, settings, get_wave(s, "Pilot"), InProcessExecutor(settings))
    shown = web.client.get("/api/v1/waves/Pilot", headers=web.as_("viewer")).json()
    assert [p["copied"] for p in shown["people"]] == [9, 5]
    assert shown["rounds"][0]["status"] == "done"
    page = web.client.get(f"/waves/{shown['id']}", headers=web.as_("viewer"))
    assert page.status_code == 200
    assert "Throughput by round (MB/s)" in page.text and "<svg" in page.text
    assert "Alex0 Smith" in page.text
    web.app.state.settings = settings  # the reports read the journals where they were written
    files = web.client.get("/api/v1/migration/people/100000", headers=web.as_("admin")).json()
    assert files["summary"]["moved"] == 9
    summary = web.client.get("/api/v1/migration/waves/Pilot/summary",
                             headers=web.as_("viewer")).json()
    assert [r["Migrated items"] for r in summary] == [9, 5]
    assert web.client.get("/api/v1/waves/nope", headers=web.as_("viewer")).status_code == 404


def test_a_huge_wave_number_is_a_clean_404(web: Web) -> None:
    r = web.client.get("/api/v1/waves/99999999999999999999999", headers=web.as_("viewer"))
    assert r.status_code == 404


def test_migration_progress_page_and_api(web: Web, tmp_path: Path) -> None:
    from tests.migration.test_burndown import _migrated_pilot

    _migrated_pilot(web.settings, tmp_path, load=False)  # the 12 people of the web fixture
    api = web.client.get("/api/v1/migration/burndown?as_of=2026-01-14&org_unit=CE",
                         headers=web.as_("viewer"))
    assert api.status_code == 200, api.text
    body = api.json()
    assert body["people"] == {"CE": 12, "all": 12}
    assert [w["actual_remaining"] for w in body["weeks"][:2]] == [12, 11]
    assert web.client.get("/api/v1/migration/burndown?org_unit=ZZ",
                          headers=web.as_("viewer")).status_code == 404
    page = web.client.get("/migration/progress?as_of=2026-01-14&org_unit=CE",
                          headers=web.as_("viewer"))
    assert page.status_code == 200
    assert "People left to migrate (CE)" in page.text and "<svg" in page.text
    assert ["2026-01-12", "0", "11"] in [row[:3] for row in table_rows(page.text)]


def test_wave_page_shows_the_latest_rounds_live_progress(web: Web, tmp_path: Path) -> None:
    from mobilise.core.db import session_factory
    from mobilise.core.progress import JobProgress
    from mobilise.migration.progress import JOB_KIND

    settings = web.settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "od",
        "archive_root": tmp_path / "archive"})
    make_tree(Path(settings.home_root) / "asmith0", 12, seed=2)
    web.client.post("/api/v1/waves", headers=web.as_("admin"),
                    json={"name": "Pilot", "people": ["100000"]})
    before = web.client.get("/api/v1/waves/Pilot/progress", headers=web.as_("viewer")).json()
    assert before["live"] is None
    assert "No round has run yet" in web.client.get("/waves/Pilot",
                                                    headers=web.as_("viewer")).text
    jobs = session_factory(settings)()
    try:
        with session_scope(settings) as s:
            run_round(s, ADMIN, settings, get_wave(s, "Pilot"), InProcessExecutor(settings),
                      progress=JobProgress(jobs, JOB_KIND))
    finally:
        jobs.close()
    body = web.client.get("/api/v1/waves/Pilot/progress", headers=web.as_("viewer")).json()
    live = body["live"]
    assert live["status"] == "done" and live["stats"]["files"] == 12
    assert {"files_per_s", "mb_per_s", "eta_s", "throttle_events", "series"} <= \
        set(live["stats"])
    assert body["rounds"][0]["status"] == "done"
    assert web.client.get("/api/v1/waves/Pilot/progress",
                          headers=web.as_("norole")).status_code == 403
    page = web.client.get(f"/waves/{get_id(web, 'Pilot')}",
                          headers=web.as_("viewer"))
    assert page.status_code == 200
    assert 'data-live-wave="/api/v1/waves/' in page.text
    assert '<script src="/static/wave-live.js">' in page.text
    assert "round 1 (pre-seed)" in page.text and "12 of 12" in page.text
    assert web.client.get("/static/wave-live.js").status_code == 200


def get_id(web: Web, name: str) -> int:
    return int(web.client.get(f"/api/v1/waves/{name}", headers=web.as_("viewer")).json()["id"])


def _local_wave(web: Web, tmp_path: Path, delta_rounds: int = 0) -> None:
    settings = web.settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "od",
        "archive_root": tmp_path / "archive"})
    web.app.state.settings = settings
    make_tree(Path(settings.home_root) / "asmith0", 8, seed=5)
    make_tree(Path(settings.home_root) / "asmith1", 4, seed=6)
    created = web.client.post("/api/v1/waves", headers=web.as_("admin"),
                              json={"name": "Pilot", "people": ["100000", "100001"],
                                    "delta_rounds": delta_rounds})
    assert created.status_code == 201, created.text


def test_a_round_starts_from_the_api_with_202_and_a_job(web: Web, tmp_path: Path) -> None:
    from mobilise.workers.background import wait_for_jobs

    _local_wave(web, tmp_path)
    assert web.client.post("/api/v1/waves/Pilot/rounds", headers=web.as_("viewer"),
                           json={}).status_code == 403
    assert web.client.post("/api/v1/waves/Pilot/rounds", headers=web.as_("admin"),
                           json={"executor": "threads"}).status_code == 422
    started = web.client.post("/api/v1/waves/Pilot/rounds", headers=web.as_("admin"))
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/v1/jobs/{job['id']}"
    assert job["status"] == "running" and "round 1 (pre-seed)" in job["description"]
    assert job["links"]["progress"].endswith("/progress")
    wait_for_jobs(120)
    done = web.client.get(f"/api/v1/jobs/{job['id']}", headers=web.as_("viewer")).json()
    assert done["status"] == "done", done
    assert done["done"] == done["total"] == 12 and done["stats"]["copied"] == 12
    assert "round 1 (pre-seed): done" in done["message"]
    shown = web.client.get("/api/v1/waves/Pilot", headers=web.as_("viewer")).json()
    assert shown["rounds"][0]["status"] == "done"
    assert [p["copied"] for p in shown["people"]] == [8, 4]
    live = web.client.get("/api/v1/waves/Pilot/progress", headers=web.as_("viewer")).json()
    assert live["live"]["id"] == job["id"]
    # Only the cutover is left, and it needs the sources frozen: refused at once.
    refused = web.client.post("/api/v1/waves/Pilot/rounds", headers=web.as_("admin"))
    assert refused.status_code == 422 and "cutover" in refused.text


def test_a_round_cannot_start_while_another_runs(web: Web, tmp_path: Path) -> None:
    from mobilise.core.transitions import run_transition
    from mobilise.migration.transitions import ROUND_LIFECYCLE

    _local_wave(web, tmp_path, delta_rounds=1)
    with session_scope(web.settings) as s:
        run_transition(s, ADMIN, ROUND_LIFECYCLE, "start", [get_wave(s, "Pilot").rounds[0]])
    busy = web.client.post("/api/v1/waves/Pilot/rounds", headers=web.as_("admin"),
                           json={"number": 2})
    assert busy.status_code == 409 and "round 1 is running" in busy.text


def test_the_wave_page_button_starts_the_next_round(web: Web, tmp_path: Path) -> None:
    from mobilise.workers.background import wait_for_jobs

    _local_wave(web, tmp_path, delta_rounds=1)
    wave_id = get_id(web, "Pilot")
    assert web.login("viewer").status_code == 303
    assert "Start round" not in web.client.get(f"/waves/{wave_id}").text
    assert web.client.post(f"/waves/{wave_id}/rounds",
                           data={"csrf_token": web.csrf()}).status_code == 403
    web.client.post("/logout", data={"csrf_token": web.csrf()})
    assert web.login("admin").status_code == 303
    page = web.client.get(f"/waves/{wave_id}").text
    assert "Start round 1 (pre-seed)" in page
    assert web.client.post(f"/waves/{wave_id}/rounds", data={},
                           follow_redirects=False).status_code == 403  # no CSRF token
    started = web.client.post(f"/waves/{wave_id}/rounds", data={"csrf_token": web.csrf()},
                              follow_redirects=False)
    assert started.status_code == 303
    assert started.headers["location"].startswith(f"/waves/{wave_id}?started=")
    wait_for_jobs(120)
    page = web.client.get(f"/waves/{wave_id}").text
    assert "Start round 2 (delta)" in page and "12 of 12" in page


def test_a_round_against_a_stopped_emulator_fails_in_seconds_and_says_why(
        web: Web, tmp_path: Path) -> None:
    import time

    from mobilise.emulator.server import EmulatorProcess
    from mobilise.workers.background import wait_for_jobs

    emulator = EmulatorProcess(tmp_path / "emulator").start()
    emulator.stop()  # nothing listens on its port now: connections are refused
    settings = web.settings.model_copy(update={
        "migration_destination": "onedrive", "graph_url": emulator.graph_url,
        "graph_authority": emulator.authority, "graph_ca_bundle": emulator.ca,
        "archive_root": tmp_path / "archive"})  # the default retry policy, as served
    web.app.state.settings = settings
    make_tree(Path(settings.home_root) / "asmith0", 8, seed=5)
    make_tree(Path(settings.home_root) / "asmith1", 4, seed=6)
    assert web.client.post("/api/v1/waves", headers=web.as_("admin"),
                           json={"name": "Pilot", "people": ["100000", "100001"],
                                 "delta_rounds": 1}).status_code == 201
    wave_id = get_id(web, "Pilot")
    started_at = time.monotonic()
    started = web.client.post("/api/v1/waves/Pilot/rounds", headers=web.as_("admin"))
    assert started.status_code == 202, started.text
    wait_for_jobs(60)
    assert time.monotonic() - started_at < 10
    job = web.client.get(f"/api/v1/jobs/{started.json()['id']}",
                         headers=web.as_("viewer")).json()
    assert job["status"] == "failed" and "refused the connection" in job["message"], job
    shown = web.client.get("/api/v1/waves/Pilot", headers=web.as_("viewer")).json()
    assert shown["rounds"][0]["status"] == "failed"
    assert "refused the connection" in shown["rounds"][0]["reason"]
    assert [p["state"] for p in shown["people"]] == ["failed", "failed"]
    assert all("round 1 failed" in p["reason"] and "refused the connection" in p["reason"]
               for p in shown["people"])
    # The next round is not offered over a failed one: the failed one is retried first.
    refused = web.client.post("/api/v1/waves/Pilot/rounds", headers=web.as_("admin"),
                              json={"number": 2})
    assert refused.status_code == 409 and "round 1 failed" in refused.text
    assert web.login("admin").status_code == 303
    page = web.client.get(f"/waves/{wave_id}").text
    assert "Why it failed:" in page and "refused the connection" in page
    assert "Start round 2" not in page and "Retry round 1 (pre-seed)" in page
    person = web.client.get("/people/100000").text
    assert "H: drive migration" in person and "refused the connection" in person
    assert "refused the connection" in web.client.get("/jobs").text
    # Retried from the page: planned again and run, failing as fast while nothing listens.
    again = web.client.post(f"/waves/{wave_id}/rounds",
                            data={"csrf_token": web.csrf(), "number": "1"},
                            follow_redirects=False)
    assert again.status_code == 303, again.text
    wait_for_jobs(60)
    rounds = web.client.get("/api/v1/waves/Pilot", headers=web.as_("viewer")).json()["rounds"]
    assert [r["status"] for r in rounds] == ["failed", "planned", "planned"]


def test_the_wave_page_tells_the_rounds_that_ran_without_a_job(web: Web,
                                                               tmp_path: Path) -> None:
    """Rounds run from the CLI (or the demo) have no Job row: the page still tells the
    latest of them rather than "no round has run yet"."""
    _local_wave(web, tmp_path)
    settings = web.app.state.settings
    with session_scope(settings) as s:
        run_round(s, ADMIN, settings, get_wave(s, "Pilot"), InProcessExecutor(settings))
    page = web.client.get(f"/waves/{get_id(web, 'Pilot')}", headers=web.as_("viewer")).text
    assert "No round has run yet" not in page
    assert "Round 1 (pre-seed): <span data-field=\"status\">done</span>" in page


def test_a_stage_is_queued_from_the_api_and_the_wave_page_once(web: Web,
                                                               tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from mobilise.comms.models import OutboxMessage
    from mobilise.workers.background import wait_for_jobs

    _local_wave(web, tmp_path)
    wave_id = get_id(web, "Pilot")
    path = "/api/v1/waves/Pilot/notify"
    assert web.client.post(path, headers=web.as_("viewer"),
                           json={"stage": "announcement"}).status_code == 403
    assert web.client.post(path, headers=web.as_("admin"),
                           json={"stage": "farewell"}).status_code == 422
    assert web.client.post("/api/v1/waves/nope/notify", headers=web.as_("admin"),
                           json={"stage": "announcement"}).status_code == 404
    first = web.client.post(path, headers=web.as_("admin"), json={"stage": "announcement"})
    assert first.status_code == 202, first.text  # a background job (was: counts, at once)
    assert first.headers["location"] == f"/api/v1/jobs/{first.json()['id']}"
    wait_for_jobs(60)
    counts = ("wave", "stage", "queued", "already", "skipped")

    def outcome(started: dict[str, Any]) -> dict[str, Any]:
        job = web.client.get(started["links"]["job"], headers=web.as_("viewer")).json()
        assert job["status"] == "done", job
        assert (job["done"], job["total"]) == (2, 2)  # told each person
        return {k: job["stats"][k] for k in counts}

    assert outcome(first.json()) == {"wave": "Pilot", "stage": "announcement", "queued": 2,
                                     "already": 0, "skipped": {}}
    again = web.client.post(path, headers=web.as_("admin"), json={"stage": "announcement"})
    wait_for_jobs(60)
    said = outcome(again.json())
    assert (said["queued"], said["already"]) == (0, 2)
    with session_scope(web.settings) as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2

    assert web.login("viewer").status_code == 303
    assert "Queue the wave announcement" not in web.client.get(f"/waves/{wave_id}").text
    assert web.client.post(f"/waves/{wave_id}/notify", data={
        "csrf_token": web.csrf(), "stage": "announcement"}).status_code == 403
    web.client.post("/logout", data={"csrf_token": web.csrf()})
    assert web.login("admin").status_code == 303
    page = web.client.get(f"/waves/{wave_id}").text
    assert "Queue the readiness report" in page and 'govuk-table__cell">2 of 2</td>' in page
    done = web.client.post(f"/waves/{wave_id}/notify", follow_redirects=False,
                           data={"csrf_token": web.csrf(), "stage": "announcement"})
    assert done.status_code == 303
    assert "?job=" in done.headers["location"]  # the page shows the job live
    wait_for_jobs(60)
    shown = web.client.get(done.headers["location"]).text
    assert "Queueing messages" in shown
    assert "Wave announcement: 0 queued, 2 queued before" in shown
    # Nobody's drive is scanned: no readiness report can be written yet, and the page says so.
    ready = web.client.post(f"/waves/{wave_id}/notify", follow_redirects=False,
                            data={"csrf_token": web.csrf(), "stage": "readiness"})
    wait_for_jobs(60)
    shown = web.client.get(ready.headers["location"]).text
    assert "Readiness report: 0 queued, 0 queued before; not queued: 2 no complete drive " \
           "scan yet" in shown
    wrong = web.client.post(f"/waves/{wave_id}/notify",
                            data={"csrf_token": web.csrf(), "stage": "<b>x</b>"})
    assert wrong.status_code == 422 and "<b>x</b>" not in wrong.text
