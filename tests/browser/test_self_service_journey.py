"""My Mobilise with the keyboard alone (Tab, arrows, Space, Enter and typing), in real
Chromium, every page axe-clean: bob moves his appointment, cancels it and books again,
and decides his flagged files; alice accepts the new policy and reports her phone lost."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.browser.conftest import Site, assert_accessible
from tests.web.self_service_estate import PASSWORD

FOCUSED = """([selector, text]) => {
  const el = document.activeElement;
  return !!el && el.matches(selector) && (text === null || el.textContent.trim() === text);
}"""


def tab_to(page: Page, selector: str, text: str | None = None, limit: int = 120) -> None:
    """Press Tab until the focus is on ``selector`` (with ``text``), as a person tabs
    through a page."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(FOCUSED, [selector, text]):
            return
    raise AssertionError(f"Tab never reached {selector} {text or ''} on {page.url}")


def sign_in(page: Page, site: Site, who: str) -> None:
    page.goto(site.url + "/login")
    tab_to(page, "#username")
    page.keyboard.type(who)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/me")
    assert_accessible(page)


def follow(page: Page, site: Site, href: str) -> None:
    tab_to(page, f'a[href="{href}"]')
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + href)
    assert_accessible(page)


def submit(page: Page, button: str) -> None:
    tab_to(page, "button", button)
    page.keyboard.press("Enter")
    page.wait_for_load_state()


def test_bob_books_moves_and_reviews_with_the_keyboard(page: Page,
                                                       self_service_site: Site) -> None:
    site = self_service_site
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    sign_in(page, site, "bob")
    follow(page, site, "/me/phone")
    # Move: into the list of days (the first is his), down to the next, then the button.
    tab_to(page, 'input[name="place"]')
    page.keyboard.press("ArrowDown")
    submit(page, "Move my appointment")
    assert "Your appointment has moved." in page.inner_text("main")
    assert_accessible(page)
    tab_to(page, "#cancel-reason")
    page.keyboard.type("on a course that day")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/me/phone?done=cancelled")
    tab_to(page, 'input[name="place"]')
    page.keyboard.press("Space")
    submit(page, "Book")
    assert "Your appointment is booked." in page.inner_text("main")
    assert_accessible(page)
    # His files due for review: both chosen, one decision and its justification.
    follow(page, site, "/me")
    follow(page, site, "/me/drive")
    for _ in range(2):
        tab_to(page, 'input[name="item"]:not(:checked)')
        page.keyboard.press("Space")
    tab_to(page, "#justification")
    page.keyboard.type("recordings I need for a case")
    page.keyboard.press("Enter")
    page.wait_for_url(site.url + "/me/drive?done=decided")
    assert "No files await your decision." in page.inner_text("main")
    assert_accessible(page)
    assert errors == [], errors


def test_alice_accepts_the_policy_and_reports_her_phone_lost(page: Page,
                                                             self_service_site: Site) -> None:
    site = self_service_site
    sign_in(page, site, "alice")
    follow(page, site, "/me/policy")
    tab_to(page, "#confirm")
    page.keyboard.press("Space")
    submit(page, "Accept")
    assert "acceptance is recorded" in page.inner_text("main")
    assert "Receipt" in page.inner_text("main")
    assert_accessible(page)
    follow(page, site, "/me")
    follow(page, site, "/me/phone")
    tab_to(page, "#kind-lost")
    page.keyboard.press("Space")
    tab_to(page, "#report-reference")
    page.keyboard.type("LP 2026/118")
    submit(page, "Report it")
    assert "wipe and SIM bar are queued" in page.inner_text("main")
    assert "lost" in page.inner_text("main")
    assert_accessible(page)
