"""Creating a wave on the waves page: the API's validation, the CLI's reading of people
and dates, errors in a summary with the entries kept, and one wave from two identical
forms."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from mobilise.core.db import session_scope
from mobilise.migration.models import MigrationRound, MigrationWave
from tests.web.conftest import Web


def _form(web: Web, **fields: object) -> dict[str, object]:
    return {"csrf_token": web.csrf(), "name": "Pilot", "description": "first wave",
            "people": "100000\n100001, 100002", "delta_rounds": "2",
            "schedule": "2027-03-01,,2027-03-15", **fields}


def _waves(web: Web) -> int:
    with session_scope(web.settings) as s:
        return s.scalar(select(func.count()).select_from(MigrationWave)) or 0


def test_the_form_is_offered_to_the_migration_role_only(web: Web) -> None:
    assert web.login("viewer").status_code == 303
    shown = web.client.get("/waves")
    assert shown.status_code == 200 and 'action="/waves"' not in shown.text
    refused = web.client.post("/waves", data=_form(web), follow_redirects=False)
    assert refused.status_code == 403 and _waves(web) == 0
    assert web.login("admin").status_code == 303
    offered = web.client.get("/waves")
    assert 'action="/waves"' in offered.text and '<option value="CE">' in offered.text


def test_a_wave_is_created_and_the_new_wave_confirms_it(web: Web) -> None:
    assert web.login("admin").status_code == 303
    made = web.client.post("/waves", data=_form(web, org_units=["CE"], people=""),
                           follow_redirects=False)
    assert made.status_code == 303, made.text
    assert re.fullmatch(r"/waves/\d+\?created=1", made.headers["location"])
    shown = web.client.get(made.headers["location"])
    assert "Wave Pilot created: 12 people, 4 rounds planned." in shown.text
    plain = web.client.get(made.headers["location"].split("?")[0])
    assert "Wave Pilot created" not in plain.text
    with session_scope(web.settings) as s:
        rounds = s.scalars(select(MigrationRound).order_by(MigrationRound.number)).all()
        assert [(r.kind, r.scheduled_for and r.scheduled_for.date().isoformat())
                for r in rounds] == [("pre_seed", "2027-03-01"), ("delta", None),
                                     ("delta", "2027-03-15"), ("cutover", None)]


def test_refusals_are_listed_with_the_entries_kept(web: Web) -> None:
    assert web.login("admin").status_code == 303
    bad = web.client.post("/waves", data=_form(web, name="", delta_rounds="two"))
    assert bad.status_code == 422
    assert "The wave was not created" in bad.text
    assert 'href="#wave-name"' in bad.text and 'href="#wave-delta-rounds"' in bad.text
    assert "Delta rounds: input should be a valid integer" in bad.text
    assert "100000\n100001, 100002</textarea>" in bad.text and 'value="first wave"' in bad.text
    dates = web.client.post("/waves", data=_form(web, schedule="2027-13-01"))
    assert dates.status_code == 422 and "not an ISO date" in dates.text
    assert 'href="#wave-schedule"' in dates.text and 'value="2027-13-01"' in dates.text
    nobody = web.client.post("/waves", data=_form(web, people="999999", org_units=["CE"]))
    assert nobody.status_code == 404 and "no such people: 999999" in nobody.text
    assert '<option value="CE" selected>' in nobody.text
    empty = web.client.post("/waves", data=_form(web, people=""))
    assert empty.status_code == 422 and "the selection names nobody" in empty.text
    assert 'href="#wave-org-units"' in empty.text
    assert _waves(web) == 0


def test_two_identical_forms_make_one_wave(web: Web) -> None:
    assert web.login("admin").status_code == 303
    form = _form(web)
    first = web.client.post("/waves", data=form, follow_redirects=False)
    again = web.client.post("/waves", data=form, follow_redirects=False)
    assert first.status_code == 303 and again.status_code == 409
    assert "a wave named &#39;Pilot&#39; exists already" in again.text
    assert _waves(web) == 1
