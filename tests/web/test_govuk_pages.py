"""The drives, waves, migration and retention pages are drawn in GOV.UK Frontend
components: each page, rendered on an estate where it has something to show, uses the
components its content calls for, every table, button and form field inside <main> is
the GOV.UK one, and none of the ad-hoc classes they replaced is left."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mobilise.core import auth
from mobilise.core.actor import Actor, Role
from mobilise.core.clock import SystemClock
from mobilise.core.db import session_scope
from mobilise.core.settings import Settings
from mobilise.migration.waves import WaveSelection, create_wave, get_wave
from mobilise.retention import holds, rule_sets
from mobilise.retention.scanned import propose_scanned
from mobilise.web.app import create_app
from tests.browser.conftest import _retention_estate
from tests.factories import ADMIN

# The classes the pages used before GOV.UK Frontend; none may come back.
OLD_CLASSES = {"tiles", "figure", "notice", "error-summary", "hint", "error-message", "stack",
               "inline", "filters", "subnav", "live-figures", "chart", "status"}
# What each form control and table must be drawn as, inside <main>.
GOVUK_CLASS = {"table": "govuk-table", "button": "govuk-button", "select": "govuk-select",
               "textarea": "govuk-textarea", "label": "govuk-label", "h1": "govuk-heading-"}
INPUT_CLASSES = {"govuk-input", "govuk-file-upload", "govuk-checkboxes__input",
                 "govuk-radios__input"}


class _Main(HTMLParser):
    """Each element inside <main>: (tag, its attributes). What is inside an <svg> is the
    charts' own drawing (web/charts.py), not the page's markup, and is left out."""

    def __init__(self) -> None:
        super().__init__()
        self.inside = False
        self.svg = 0
        self.elements: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "main":
            self.inside = True
        elif self.inside and not self.svg:
            self.elements.append((tag, {k: v or "" for k, v in attrs}))
        self.svg += tag == "svg"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.inside and not self.svg:
            self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag == "main":
            self.inside = False
        self.svg -= tag == "svg" and self.svg > 0


def main_elements(html: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Main()
    parser.feed(html)
    return parser.elements


@pytest.fixture
def estate(sqlite_settings: Settings, tmp_path: Path) -> Iterator[tuple[TestClient, int]]:
    """The browser tests' retention estate (a scanned drive, rule set browser v1 in force,
    v2 a draft, a dry run recorded, a file queued for review), with a wave of five
    people, a hold, and a disposal batch proposed by rm1; the viewer may do everything."""
    settings = _retention_estate(sqlite_settings, tmp_path)
    rm1 = Actor("rm1", frozenset({Role.RECORDS}))
    with session_scope(settings) as s:
        create_wave(s, ADMIN, "Pilot", WaveSelection(people=[str(100000 + n) for n in range(5)]),
                    schedule=[None, None, datetime(2026, 11, 25, 9, tzinfo=UTC)])
        propose_scanned(s, rm1, settings, rule_sets.get_version(s, "browser", 1),
                        SystemClock().now().date())
        holds.place_hold(s, rm1, "FOI-7", "foi", "request received", people=["100003"])
        user = auth.add_user(s, ADMIN, "everything", "a long enough password",
                             ["admin", "records", "migration"])
        s.flush()
        token = auth.issue_token(s, ADMIN, user, "test")
        wave_id = get_wave(s, "Pilot").id
    with TestClient(create_app(settings), base_url="http://testserver",
                    headers={"Authorization": f"Bearer {token}"}) as client:
        yield client, wave_id


# (path, the GOV.UK component classes it must use); {wave} is the wave's id.
PAGES: list[tuple[str, set[str]]] = [
    ("/drives", {"govuk-summary-list", "govuk-table"}),
    ("/drives/people/100000", {"govuk-summary-list", "govuk-table", "govuk-caption-l"}),
    ("/drives/people/100000?show=review", {"govuk-table"}),
    ("/waves", {"govuk-table", "govuk-input", "govuk-select", "govuk-textarea", "govuk-button"}),
    ("/waves/{wave}", {"govuk-table", "govuk-summary-list", "govuk-tag", "govuk-button"}),
    ("/waves/{wave}/laptops", {"govuk-table", "govuk-file-upload", "govuk-button",
                               "govuk-back-link"}),
    ("/migration/progress", {"govuk-summary-list", "govuk-table", "govuk-details",
                             "govuk-select", "govuk-input"}),
    ("/retention", {"govuk-service-navigation", "govuk-table", "govuk-tag", "govuk-button"}),
    ("/retention/rule-sets/browser/1", {"govuk-summary-list", "govuk-table", "govuk-tag"}),
    ("/retention/rule-sets/browser/1/purview", {"govuk-table", "govuk-tag", "govuk-input"}),
    ("/retention/dry-run", {"govuk-table", "govuk-select", "govuk-inset-text"}),
    ("/retention/diff?old=browser@1&new=browser@2", {"govuk-select", "govuk-button"}),
    ("/retention/explain?person=100000&path=Music/song.mp3&version=browser@1",
     {"govuk-input", "govuk-select", "govuk-table"}),
    ("/retention/explain?person=100000&path=nothing/here.txt", {"govuk-error-summary",
                                                               "govuk-error-message"}),
    ("/retention/holds", {"govuk-table", "govuk-tag", "govuk-radios", "govuk-textarea",
                          "govuk-button--warning"}),
    ("/retention/review", {"govuk-table", "govuk-tag", "govuk-checkboxes", "govuk-select",
                           "govuk-button--warning"}),
    ("/retention/review/people/100000", {"govuk-table", "govuk-checkboxes"}),
    ("/retention/disposal", {"govuk-table", "govuk-tag", "govuk-select", "govuk-inset-text"}),
    ("/retention/disposal/1", {"govuk-summary-list", "govuk-table", "govuk-tag",
                               "govuk-button--warning"}),
    ("/retention/drives", {"govuk-table", "govuk-button"}),
]


def problems(html: str, components: set[str]) -> list[str]:
    """What keeps ``html`` from being drawn in GOV.UK components (nothing: it is)."""
    elements = main_elements(html)
    classes = {c for _, attrs in elements for c in attrs.get("class", "").split()}
    found = [f"missing {sorted(components - classes)}"] if components - classes else []
    left = sorted(c for c in classes if c in OLD_CLASSES or c.startswith("status-"))
    found += [f"ad-hoc classes left: {left}"] if left else []
    for tag, attrs in elements:
        own = attrs.get("class", "")
        if "style" in attrs:
            found.append(f"inline style: {tag} {attrs}")
        if tag == "script" and not attrs.get("src"):
            found.append("an inline script")
        if tag in GOVUK_CLASS and GOVUK_CLASS[tag] not in own:
            found.append(f"not a GOV.UK {tag}: {attrs}")
        if tag == "input" and attrs.get("type") != "hidden" and not INPUT_CLASSES & set(
                own.split()):
            found.append(f"not a GOV.UK input: {attrs}")
    return found


def test_each_page_is_drawn_in_govuk_components(estate: tuple[TestClient, int]) -> None:
    client, wave_id = estate
    found: dict[str, list[str]] = {}
    for path, components in PAGES:
        shown = client.get(path.format(wave=wave_id))
        # The explanation of a file the drive does not have is a 404 with its form.
        assert shown.status_code == (404 if "nothing/here" in path else 200), path
        found[path] = problems(shown.text, components)
    assert {path: p for path, p in found.items() if p} == {}


def test_the_old_markup_would_be_refused() -> None:
    """The check itself: the markup the pages had before is caught."""
    old = ('<main><ul class="tiles"><li><span class="figure">3</span> files</li></ul>'
           '<table><tr><td><span class="status status-green">done</span></td></tr></table>'
           '<form class="stack"><label for="x">X</label><input id="x" name="x">'
           '<button type="submit">Go</button></form></main>')
    found = problems(old, {"govuk-table"})
    assert found[0] == "missing ['govuk-table']"
    assert "ad-hoc classes left: ['figure', 'stack', 'status', 'status-green', 'tiles']" in found
    assert sum(p.startswith("not a GOV.UK") for p in found) == 4  # table, label, input, button


def test_a_status_tag_is_coloured_by_its_meaning(estate: tuple[TestClient, int]) -> None:
    client, _ = estate
    rule_sets_page = client.get("/retention").text
    assert 'class="govuk-tag govuk-tag--green"' in rule_sets_page   # browser v1 is active
    assert 'class="govuk-tag govuk-tag--blue"' in rule_sets_page    # v2 is a draft
    review_page = client.get("/retention/review").text
    assert 'class="govuk-tag govuk-tag--orange"' in review_page     # pending: amber
    holds_page = client.get("/retention/holds").text
    assert 'class="govuk-tag govuk-tag--red"' in holds_page         # a hold in place
