"""axe-core over every page the app serves, in real Chromium: no serious or critical
violation. Each page is opened on an estate where it has something to show, and a test
reads the app's routes so that a new page cannot go unchecked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from mobilise.core.settings import Settings
from mobilise.web.app import create_app
from tests.browser.conftest import Site, assert_accessible, sign_in
from tests.devices.fleet import imei
from tests.web.conftest import all_routes

# (estate fixture, path, who signs in: None for nobody)
CHECKED: list[tuple[str, str, str | None]] = [
    ("site", "/login", None),
    *[("site", path, "admin") for path in (
        "/", "/people", "/people?q=alex1", "/people/100001", "/audit?verify=true", "/jobs",
        "/finance", "/reports/board", "/reports/board.html", "/handsets", "/handover?q=alex",
        "/handover?person=100002", "/drives", "/rollout?as_of=2026-11-22", "/comms", "/waves",
        "/waves/Pilot", "/waves/Pilot?job=1",
        "/migration/progress?as_of=2026-11-22", "/users", "/waves/Pilot/laptops")],
    *[("fleet_site", path, "admin") for path in (
        "/", "/handsets", "/handsets?status=in_stock", f"/handsets/{imei(4)}",
        "/rollout?as_of=2026-11-22", "/sims")],
    ("retention_site", "/", "alex"),
    ("retention_site", "/retention/review/me", "alex"),
    *[("retention_site", path, "rm1") for path in (
        "/retention", "/retention/rule-sets/browser/1", "/retention/dry-run",
        "/retention/rule-sets/browser/1/purview", "/retention/drives",
        "/retention/diff", "/retention/diff?old=browser@1&new=browser@2", "/retention/review",
        "/retention/review/people/100000", "/retention/review/me",
        "/retention/explain?person=100000&path=Music/song.mp3&version=browser@1")],
    ("retention_site", "/drives/people/100000", "admin"),
    *[("disposed_site", path, "rm2") for path in (
        "/retention/holds", "/retention/disposal", "/retention/disposal/1",
        "/retention/disposal/1/certificate")],
    ("disposed_site", "/audit", "admin"),
    *[("self_service_site", path, who) for path, who in (
        ("/me", "bob"), ("/me/phone", "bob"), ("/me/phone", "alice"), ("/me/policy", "alice"),
        ("/me/drive", "bob"), ("/policy", "planner"), ("/adjustments", "desk"),
        ("/handover?person=100004", "desk"))],
]

# GET routes outside /api/v1 that are not HTML pages, and why.
NOT_PAGES = {
    "/healthz": "a JSON health check",
    "/favicon.ico": "the site's icon (an SVG image)",
    "/reports/board.pdf": "a PDF document (its HTML twin, /reports/board.html, is checked)",
    "/login/microsoft": "a redirect (303) to the identity platform's sign-in page",
    "/auth/callback": "the identity platform's way back: a page that moves on at once to the "
                      "page asked for (test_entra_sign_in.py follows it in Chromium and "
                      "checks where it lands); a refusal is the sign-in page (/login)",
    "/me/appointment.ics": "a calendar file (text/calendar)",
    "/me/policy/receipts/{acceptance_id}.pdf": "a PDF receipt",
}


def _password(estate: str) -> dict[str, str]:
    from tests.web.self_service_estate import PASSWORD
    return {"password": PASSWORD} if estate == "self_service_site" else {}


@pytest.mark.parametrize(("estate", "path", "who"), CHECKED,
                         ids=[f"{e}:{p}:{w}" for e, p, w in CHECKED])
def test_no_serious_accessibility_violations(page: Page, request: pytest.FixtureRequest,
                                             estate: str, path: str, who: str | None) -> None:
    site: Site = request.getfixturevalue(estate)
    if who is not None:
        sign_in(page, site, who, **_password(estate))
    # Every console error counts: a script or style the Content-Security-Policy refuses
    # is reported only there.
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    response = page.goto(site.url + path)
    assert response is not None and response.status == 200, path
    assert_accessible(page)
    assert errors == [], errors


def test_every_page_route_is_checked(sqlite_settings: Settings) -> None:
    checked = [path.split("?", 1)[0] for _, path, _ in CHECKED]
    pages = [r for r in all_routes(create_app(sqlite_settings))
             if "GET" in r.methods and not r.path.startswith("/api/")]
    assert pages, "no page routes found"
    unchecked = [r.path for r in pages if r.path not in NOT_PAGES
                 and not any(r.path_regex.match(path) for path in checked)]
    assert unchecked == [], f"pages without an axe-core check: {unchecked}"
    stale = [path for path in NOT_PAGES if path not in {r.path for r in pages}]
    assert stale == [], f"NOT_PAGES lists routes the app no longer has: {stale}"


@pytest.mark.parametrize(("path", "who", "status"), [
    ("/people/999999", "admin", 404),     # not found
    ("/retention", "alex", 403),          # a viewer on a records page
    ("/retention/disposal/9", "rm1", 404),
])
def test_error_pages_are_accessible(page: Page, retention_site: Site, path: str, who: str,
                                    status: int) -> None:
    sign_in(page, retention_site, who)
    response = page.goto(retention_site.url + path)
    assert response is not None and response.status == status
    assert_accessible(page)


def test_the_check_finds_a_serious_violation(page: Page) -> None:
    """An unlabelled field and grey-on-grey text: the check must not pass them."""
    page.set_content('<html lang="en"><head><title>t</title></head><body><main>'
                     '<input type="text"><p style="color:#aaa;background:#bbb">faint</p>'
                     '</main></body></html>')
    with pytest.raises(AssertionError) as failure:
        assert_accessible(page)
    assert "label:" in str(failure.value) and "color-contrast:" in str(failure.value)
