"""The overview: the programme at a glance, each panel a chart linking to its detail."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from mobilise.core import audit
from mobilise.core.db import session_scope
from mobilise.finance.decisions import record_decision
from mobilise.finance.papers import PAPERS
from mobilise.migration.waves import get_wave
from mobilise.retention.dry_run import DryRun, record
from tests.factories import ADMIN
from tests.migration.test_burndown import _migrated_pilot
from tests.web.conftest import Web

PANELS = ("handsets", "migration", "data", "retention", "budget", "risks")


def _panel(text: str, key: str) -> str:
    found = re.search(rf'<section class="panel" id="panel-{key}".*?</section>', text, re.S)
    assert found, key
    return found.group(0)


def test_an_empty_programme_says_what_is_not_there(web: Web) -> None:
    page = web.client.get("/", headers=web.as_("viewer"))
    assert page.status_code == 200
    assert "No migration waves yet." in _panel(page.text, "migration")
    assert "not yet run" in _panel(page.text, "retention")
    assert "No data moved yet." in _panel(page.text, "data")


def test_every_panel_has_its_chart_and_link(web: Web, tmp_path: Path) -> None:
    _migrated_pilot(web.settings, tmp_path, load=False)
    with session_scope(web.settings) as s:
        pre_seed = get_wave(s, "Pilot").rounds[0]
        with audit.change(s, ADMIN, "migration_round.summarised", pre_seed):
            pre_seed.status, pre_seed.summary = "done", {"bytes_copied": 2**40}
        for paper in PAPERS:
            record_decision(s, ADMIN, paper)
        record(s, ADMIN, DryRun("force-rules", 3, "abc", date(2026, 1, 1), 10, 1000, {
            "by_action": [{"action": "keep", "files": 7}, {"action": "delete", "files": 3}]}))
    page = web.client.get("/", headers=web.as_("viewer"))
    assert page.status_code == 200
    links = {"handsets": "/rollout", "migration": "/migration/progress", "data": "/waves",
             "retention": "/audit?entity=retention_rule_set", "budget": "/finance",
             "risks": "/rollout"}
    for key in PANELS:
        panel = _panel(page.text, key)
        assert f'href="{links[key]}"' in panel, key
        if key != "risks":  # the risks panel has a chart only when risks are flagged
            assert "<svg" in panel, key
    assert "1 person migrated to OneDrive, of 12 people in waves" in _panel(page.text,
                                                                              "migration")
    assert "1.1 TB copied from H: drives to OneDrive and the archive" in _panel(page.text, "data")
    assert 'href="/waves/Pilot"' in _panel(page.text, "data")  # the bar links to the wave
    assert "force-rules v3" in _panel(page.text, "retention")
    assert "Approved and forecast spend by year" in _panel(page.text, "budget")


def test_the_overview_follows_every_audited_change(web: Web, tmp_path: Path) -> None:
    """The panels are cached between readers (core.readcache): an audited change shows
    at once on the next read, from any session."""
    first = web.client.get("/", headers=web.as_("viewer"))
    assert "No migration waves yet." in _panel(first.text, "migration")
    assert web.client.get("/", headers=web.as_("viewer")).text.count("No migration waves") == 1
    _migrated_pilot(web.settings, tmp_path, load=False)
    after = web.client.get("/", headers=web.as_("viewer"))
    assert "1 person migrated to OneDrive, of 12 people in waves" in _panel(after.text,
                                                                              "migration")
