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
