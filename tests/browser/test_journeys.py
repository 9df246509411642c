"""Key journeys in real Chromium, and an axe-core accessibility check of every page."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, sign_in

PAGES = ["/", "/people", "/people?q=alex1", "/people/100001", "/audit?verify=true", "/jobs",
         "/finance", "/reports/board", "/login"]


def test_sign_in_find_a_person_and_sign_out(page: Page, site: Site) -> None:
    sign_in(page, site)
    expect(page.get_by_role("heading", name="Programme overview")).to_be_visible()
    page.get_by_role("link", name="People", exact=True).click()
    page.get_by_label("Name, number or UPN").fill("alex17")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="100017").click()
    expect(page.get_by_role("heading", name="Alex17 Smith")).to_be_visible()
    expect(page.get_by_text("person.add")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_wrong_password_shows_an_error(page: Page, site: Site) -> None:
    page.goto(site.url + "/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill("not it at all")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("wrong username or password")


@pytest.mark.parametrize("path", PAGES)
def test_no_serious_accessibility_violations(page: Page, site: Site, path: str) -> None:
    if path != "/login":
        sign_in(page, site)
    page.goto(site.url + path)
    results = Axe().run(page)
    serious = [v for v in results.response["violations"]
               if v["impact"] in {"serious", "critical"}]
    assert serious == [], "\n".join(f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
                                    for v in serious)
