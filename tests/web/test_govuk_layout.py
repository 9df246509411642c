"""Every page is a GOV.UK Design System page built from the vendored GOV.UK Frontend: its
template (skip link, header, main), nothing from another host, and the vendored files are
the version the notes state, compiled without the GOV.UK-only font and crest."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mobilise.web.pages.render import NAVIGATION
from tests.web.conftest import Web

ROOT = Path(__file__).resolve().parents[2]
GOVUK = ROOT / "src/mobilise/web/static/govuk"
# Every attribute that makes the browser fetch something for the page itself.
FETCHED = re.compile(r'<(?:link|script|img|iframe|source)\b[^>]*\b(?:href|src)="([^"]*)"', re.I)


def _pages(web: Web) -> dict[str, str]:
    assert web.login("admin").status_code == 303
    shown = {href: web.client.get(href).text for _, href, _ in NAVIGATION if href != "/me"}
    shown["/people/100001"] = web.client.get("/people/100001").text
    web.client.post("/logout", data={"csrf_token": web.csrf()})
    shown["/login"] = web.client.get("/login").text
    return shown


def test_every_page_uses_the_govuk_template(web: Web) -> None:
    for path, html in _pages(web).items():
        assert re.search(r'<html lang="en-GB" class="govuk-template"', html), path
        assert re.search(r'<body class="govuk-template__body"', html), path
        assert re.search(r'<a href="#main-content" class="govuk-skip-link"', html), path
        assert '<header class="govuk-template__header">' in html, path
        assert re.search(r'<main class="govuk-main-wrapper" id="main-content"', html), path
        assert '<footer class="govuk-footer">' in html, path
        assert '<script type="module" src="/static/govuk-init.js"></script>' in html, path
        assert "/static/govuk/govuk-frontend.min.css" in html, path


def test_no_page_loads_anything_from_another_host_nor_inline(web: Web) -> None:
    for path, html in _pages(web).items():
        fetched = FETCHED.findall(html)
        assert fetched and all(u.startswith("/") and not u.startswith("//") for u in fetched), \
            (path, fetched)
        assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html) is None, path  # inline script
        # Inline style outside the charts (server-drawn SVG, the charts' own concern).
        page = re.sub(r"<svg\b.*?</svg>", "", html, flags=re.S)
        assert re.search(r"<style\b|\sstyle=", page) is None, path


def test_the_page_scripts_and_styles_are_served(web: Web) -> None:
    for asset in ("/static/govuk/govuk-frontend.min.css", "/static/govuk/govuk-frontend.min.js",
                  "/static/govuk-init.js", "/static/style.css"):
        assert web.client.get(asset).status_code == 200, asset
    init = web.client.get("/static/govuk-init.js").text
    assert 'from "/static/govuk/govuk-frontend.min.js"' in init and "initAll()" in init


def _stated_version() -> str:
    readme = (GOVUK / "README.md").read_text()
    found = re.search(r"GOV\.UK Frontend \*\*(\d+\.\d+\.\d+)\*\*", readme)
    assert found
    return found.group(1)


def test_the_vendored_files_are_the_version_stated() -> None:
    version = (GOVUK / "VERSION").read_text().strip()
    assert version == _stated_version()
    script = (ROOT / "script/vendor-govuk").read_text()
    assert f"GOVUK_FRONTEND_VERSION={version} " in script
    css = (GOVUK / "govuk-frontend.min.css").read_text()
    assert re.search(rf'--govuk-frontend-version: ?"{re.escape(version)}"', css)
    assert f'const version="{version}"' in (GOVUK / "govuk-frontend.min.js").read_text()
    assert "Crown Copyright" in (GOVUK / "LICENSE").read_text()


@pytest.mark.parametrize("forbidden", ["GDS Transport", "/fonts/", "@font-face", "@import"])
def test_the_css_has_no_govuk_font_nor_outside_import(forbidden: str) -> None:
    assert forbidden not in (GOVUK / "govuk-frontend.min.css").read_text()


def test_only_the_built_files_are_shipped() -> None:
    """No font, crest or logo file (GOV.UK's only), nor anything else unneeded."""
    assert sorted(p.name for p in GOVUK.rglob("*") if p.is_file()) == [
        "LICENSE", "README.md", "VERSION", "govuk-frontend.min.css", "govuk-frontend.min.js"]


def test_the_package_data_ships_the_vendored_files() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    for pattern in ('"**/*.css"', '"**/*.js"', '"web/static/govuk/*"'):
        assert pattern in pyproject, pattern


def test_the_pager_is_govuk_pagination_keeping_the_filters() -> None:
    from mobilise.web.pages.render import TEMPLATES
    from mobilise.web.params import Pager

    pager = TEMPLATES.env.get_template("pager.html").module.pager  # type: ignore[attr-defined]
    html = str(pager(Pager.of(2, 50, 2400, status="sent"), "Outbox pages"))
    assert 'class="govuk-pagination"' in html and 'aria-label="Outbox pages"' in html
    assert "Showing 51–100 of 2,400. Page 2 of 48" in html
    assert re.search(r'href="\?status=sent&page=2" aria-label="Page 2" aria-current="page"', html)
    assert re.search(r'class="govuk-pagination__prev">\s*<a [^>]*href="\?status=sent&page=1"', html)
    assert re.search(r'class="govuk-pagination__next">\s*<a [^>]*href="\?status=sent&page=3"', html)
    assert html.count("govuk-pagination__item--ellipsis") == 1  # 1 2 3 4 … 48
    single = str(pager(Pager.of(1, 50, 10)))
    assert "Showing 1–10 of 10" in single and "govuk-pagination" not in single


def test_a_refused_sign_in_is_an_error_summary_and_a_field_error(web: Web) -> None:
    refused = web.login("admin", "not the password").text
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', refused, re.S)
    assert summary and '<a href="#username">' in summary.group(0)
    assert 'class="govuk-form-group govuk-form-group--error"' in refused
    assert 'aria-describedby="username-error"' in refused
