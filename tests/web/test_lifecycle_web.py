"""The H: drive after cutover over the API and on the wave and person pages."""

from __future__ import annotations

from pathlib import Path

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.migration.rounds import cutover, run_round
from mobilise.migration.waves import WaveSelection, create_wave
from mobilise.workers import InProcessExecutor
from tests.factories import ADMIN
from tests.migration.conftest import make_tree
from tests.web.conftest import PASSWORD, Web


def _migrated(web: Web, tmp_path: Path) -> int:
    settings = web.settings.model_copy(update={
        "migration_destination": "local", "migration_destination_root": tmp_path / "od",
        "archive_root": tmp_path / "archive"})
    make_tree(Path(settings.home_root) / "asmith0", 4, seed=2)
    with session_scope(settings) as s:
        wave = create_wave(s, ADMIN, "Pilot", WaveSelection(people=["100000"]),
                           delta_rounds=0)
        s.commit()
        run_round(s, ADMIN, settings, wave, InProcessExecutor(settings))
        assert cutover(s, ADMIN, settings, wave, InProcessExecutor(settings),
                       frozen_confirmed=True)[0].migrated
        for name, roles in {"mig": ["migration"], "rm": ["records"]}.items():
            user = auth.add_user(s, ADMIN, name, PASSWORD, roles)
            s.flush()
            web.tokens[name] = auth.issue_token(s, ADMIN, user, "test")
        wave_id = wave.id
    web.app.state.settings = settings
    return wave_id


def test_lifecycle_over_the_api(web: Web, tmp_path: Path) -> None:
    _migrated(web, tmp_path)
    shown = web.client.get("/api/v1/waves/Pilot/lifecycle", headers=web.as_("viewer")).json()
    assert [(r["person"], r["state"], r["next_step"]) for r in shown] == [
        ("100000", "migrated", "grace")]
    path = "/api/v1/waves/Pilot/lifecycle/100000/advance"
    assert web.client.post(path, headers=web.as_("viewer")).status_code == 403
    done = web.client.post(path, headers=web.as_("mig"))
    assert done.status_code == 200 and done.json()["step"] == "grace", done.text
    early = web.client.post(path, headers=web.as_("mig"))
    assert early.status_code == 409 and "not due until" in early.text
    hookless = web.client.post(path, headers=web.as_("mig"), json={"reason": "pilot"})
    assert hookless.status_code == 409 and "after_read_only_hook" in hookless.text
    sign = web.client.post("/api/v1/waves/Pilot/lifecycle/100000/sign-off",
                           headers=web.as_("rm"), json={"note": "checked"})
    assert sign.status_code == 409 and "read-only or archived" in sign.text
    refused = web.client.post("/api/v1/waves/Pilot/lifecycle/release", headers=web.as_("rm"))
    assert refused.status_code == 422 and "no archived, signed-off drive" in refused.text
    assert web.client.post("/api/v1/waves/Pilot/lifecycle/kfm",
                           headers=web.as_("mig")).status_code == 422  # no group configured
    csv_text = web.client.get("/api/v1/waves/Pilot/lifecycle/kfm.csv",
                              headers=web.as_("mig")).text
    assert "100000" in csv_text.splitlines()[1]
    released = web.client.get("/api/v1/migration/storage-released",
                              headers=web.as_("viewer")).json()
    assert (released["released_bytes"], released["waves"]) == (0, [])


def test_wave_and_person_pages_show_the_lifecycle_and_advance_it(web: Web,
                                                                 tmp_path: Path) -> None:
    wave_id = _migrated(web, tmp_path)
    assert web.login("admin").status_code == 303
    page = web.client.get(f"/waves/{wave_id}")
    assert "After cutover: each H: drive" in page.text
    assert 'action="/waves/' in page.text and "/lifecycle/100000/advance" in page.text
    moved = web.client.post(f"/waves/{wave_id}/lifecycle/100000/advance",
                            data={"csrf_token": web.csrf(), "reason": ""},
                            follow_redirects=False)
    assert moved.status_code == 303, moved.text
    page = web.client.get(f"/waves/{wave_id}")
    assert "grace" in page.text and "read only" in page.text
    person = web.client.get("/people/100000")
    assert 'data-field="drive-state">grace<' in person.text and "due" in person.text
    refused = web.client.post(f"/waves/{wave_id}/lifecycle/100000/advance",
                              data={"csrf_token": web.csrf(), "reason": ""})
    assert refused.status_code == 409 and "not due until" in refused.text


def test_a_sweep_runs_as_a_background_job_from_the_api_and_the_wave_page(
        web: Web, tmp_path: Path) -> None:
    """Before: the sweep ran inside the request (200 with the report). Now: 202 with its
    job, whose stats carry the late files; the page's button redirects to the wave's live
    section; one while another of the wave runs is refused (409)."""
    from sqlalchemy import update

    from mobilise.core.progress import Job
    from mobilise.workers.background import wait_for_jobs

    wave_id = _migrated(web, tmp_path)
    path = "/api/v1/waves/Pilot/lifecycle/sweep"
    nobody = web.client.post(path, headers=web.as_("mig"))
    assert nobody.status_code == 422 and "nobody in wave 'Pilot' is in grace" in nobody.text
    assert web.client.post("/api/v1/waves/Pilot/lifecycle/100000/advance",
                           headers=web.as_("mig")).status_code == 200
    (Path(web.app.state.settings.home_root) / "asmith0" / "late.txt").write_text("late")
    assert web.client.post(path, headers=web.as_("viewer")).status_code == 403
    started = web.client.post(path, headers=web.as_("mig"))
    assert started.status_code == 202, started.text
    job = started.json()
    assert started.headers["location"] == f"/api/v1/jobs/{job['id']}"
    wait_for_jobs(120)
    done = web.client.get(job["links"]["job"], headers=web.as_("viewer")).json()
    assert done["status"] == "done", done
    assert done["stats"]["late"] == {"100000": {"files": 1, "first": "late.txt"}}
    assert "1 people had 1 late file(s)" in done["message"]
    # A sweep whose job is still running (its row as a live one leaves it) refuses the next.
    with session_scope(web.settings) as s:
        s.execute(update(Job).where(Job.id == job["id"]).values(status="running"))
    again = web.client.post(path, headers=web.as_("mig"))
    assert again.status_code == 409 and "being started or run already" in again.text
    with session_scope(web.settings) as s:
        s.execute(update(Job).where(Job.id == job["id"]).values(status="done"))

    assert web.login("admin").status_code == 303
    page = web.client.get(f"/waves/{wave_id}").text
    assert f'action="/waves/{wave_id}/lifecycle/sweep"' in page
    pressed = web.client.post(f"/waves/{wave_id}/lifecycle/sweep",
                              data={"csrf_token": web.csrf()}, follow_redirects=False)
    assert pressed.status_code == 303, pressed.text
    assert pressed.headers["location"].startswith(f"/waves/{wave_id}?started=")
    wait_for_jobs(120)
    live = web.client.get(f"/api/v1/waves/{wave_id}/progress", headers=web.as_("viewer"))
    shown = live.json()["live"]  # the wave page's live section shows it as a round
    assert (shown["description"], shown["status"]) == ("wave Pilot: round 4 (sweep)", "done")


def test_storage_released_on_the_overview_and_in_the_board_report(web: Web,
                                                                 tmp_path: Path) -> None:
    from sqlalchemy import select

    from mobilise.core import audit
    from mobilise.drives.models import DriveScan
    from mobilise.migration.models import DriveAfterCutover, PersonMigration

    _migrated(web, tmp_path)
    with session_scope(web.settings) as s:
        member = s.scalars(select(PersonMigration)).one()
        # A drive released through its batch (the steps are tested in tests/migration).
        audit.create(s, ADMIN, "test.released", DriveAfterCutover(
            migration_id=member.id, state="released", hook_attempts=0, late_files=0,
            released_bytes=3 * 1024**4 // 2))
        s.add(DriveScan(person_id=member.person_id, status="complete", root="/h",
                        scanned_at=member.wave.created_at, bytes=6 * 1024**4))
    released = web.client.get("/api/v1/migration/storage-released",
                              headers=web.as_("viewer")).json()
    assert (released["released_tb"], released["estate_tb"], released["share"]) == (
        1.5, 6.0, 0.25)
    assert released["waves"][0]["wave"] == "Pilot"
    assert web.login("admin").status_code == 303
    overview = web.client.get("/")
    assert "Storage released" in overview.text
    # In the unit that fits, as every size people read (decimal, like size_text).
    assert "1.6 TB of H: drive storage released on Isilon, of 6.6 TB" in overview.text
    board = web.client.get("/api/v1/finance/board", headers=web.as_("admin")).json()
    assert board["storage_released"]["released_tb"] == 1.5
    document = web.client.get("/reports/board.html")
    assert "Storage released" in document.text and "<strong>1.6 TB</strong>" in document.text
