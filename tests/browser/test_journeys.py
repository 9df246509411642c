"""Key journeys in real Chromium, and an axe-core accessibility check of every page."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.browser.conftest import Site, sign_in
from tests.devices.fleet import imei

PAGES = ["/", "/people", "/people?q=alex1", "/people/100001", "/audit?verify=true", "/jobs",
         "/finance", "/reports/board", "/login", "/handsets", "/handover?q=alex",
         "/handover?person=100002", "/drives", "/rollout?as_of=2026-11-22", "/comms",
         "/waves", "/waves/Pilot", "/migration/progress?as_of=2026-11-22"]


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


def test_hand_over_a_handset(page: Page, fleet_site: Site) -> None:
    sign_in(page, fleet_site)
    page.get_by_role("link", name="Hand-over", exact=True).click()
    page.get_by_label("Name, warrant or staff number, or UPN").fill("alex2")
    page.get_by_role("button", name="Find").click()
    page.get_by_role("link", name="Choose Alex2 Smith").click()
    page.get_by_label("IMEI (scan the barcode on the box)").fill(imei(11))
    page.get_by_role("button", name="Hand over").click()
    # The policy must be accepted first: the browser refuses the unticked required box.
    expect(page.get_by_role("status")).to_have_count(0)
    page.get_by_label("Alex2 Smith has read and accepted the acceptable-use policy").check()
    page.get_by_role("button", name="Hand over").click()
    # Handset 11 of the fleet is disposed: refused, and the form keeps the person.
    expect(page.get_by_role("alert")).to_contain_text("cannot issue from disposed")
    page.get_by_label("IMEI (scan the barcode on the box)").fill(imei(12))  # a spare
    page.get_by_label("Alex2 Smith has read and accepted the acceptable-use policy").check()
    page.get_by_role("button", name="Hand over").click()
    expect(page.get_by_role("status")).to_contain_text(f"Handset {imei(12)} handed to Alex2 Smith")
    page.goto(fleet_site.url + f"/handsets/{imei(12)}")
    expect(page.get_by_text("Alex2 Smith").first).to_be_visible()


def test_bar_the_sims_of_lost_handsets(page: Page, fleet_site: Site) -> None:
    sign_in(page, fleet_site)
    page.goto(fleet_site.url + "/handsets")
    page.get_by_role("link", name="SIM bars", exact=True).click()
    expect(page.get_by_text("2 bar request(s) waiting to be sent.")).to_be_visible()
    page.get_by_role("button", name="Send queued bar requests").click()
    expect(page.get_by_role("status").first).to_contain_text("2 bar request(s) queued")
    results = Axe().run(page)  # the page with its forms showing
    assert [v["id"] for v in results.response["violations"]
            if v["impact"] in {"serious", "critical"}] == []
    page.get_by_label("Carrier's reference").first.fill("EE-1001")
    page.get_by_role("button", name="Record bar confirmed").first.click()
    expect(page.get_by_role("status").first).to_contain_text("bar confirm recorded")
    expect(page.get_by_role("button", name="Request unbar")).to_have_count(1)


def test_follow_a_wave(page: Page, site: Site) -> None:
    sign_in(page, site)
    page.get_by_role("link", name="Waves", exact=True).click()
    page.get_by_role("link", name="Pilot", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Pilot")
    expect(page.get_by_text("Alex3 Smith")).to_be_visible()
    page.get_by_role("link", name="Migration progress", exact=True).click()
    expect(page.get_by_role("heading", name="Migration progress")).to_be_visible()
    expect(page.get_by_text("0 of 5 people in waves migrated")).to_be_visible()


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


FLEET_PAGES = ["/", "/handsets", "/handsets?status=in_stock", f"/handsets/{imei(4)}",
               "/rollout?as_of=2026-11-22", "/sims"]


@pytest.mark.parametrize("path", FLEET_PAGES)
def test_no_serious_accessibility_violations_with_a_fleet(page: Page, fleet_site: Site,
                                                         path: str) -> None:
    sign_in(page, fleet_site)
    page.goto(fleet_site.url + path)
    results = Axe().run(page)
    serious = [v for v in results.response["violations"]
               if v["impact"] in {"serious", "critical"}]
    assert serious == [], "\n".join(f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)"
                                    for v in serious)
