"""The navigation shows each role what it may use, and error pages keep the frame
(navigation, who is signed in, Sign out)."""

from __future__ import annotations

import re

from mobilise.core import auth
from mobilise.core.db import session_scope
from mobilise.web.auth import RoleGuard
from mobilise.web.pages.render import NAVIGATION
from tests.factories import ADMIN
from tests.web.conftest import PASSWORD, Web, all_routes


def _links(html: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Main"[^>]*>(.*?)</nav>', html, re.DOTALL)
    return re.findall(r'<a [^>]*href="([^"]+)"', nav.group(1)) if nav else []


def test_each_link_admits_the_roles_of_its_page(web: Web) -> None:
    guards = {}
    for route in all_routes(web.app):
        if "GET" in route.methods:
            for dep in route.dependant.dependencies:
                if isinstance(dep.call, RoleGuard):
                    guards[route.path] = dep.call.roles
    for label, href, roles in NAVIGATION:
        assert guards.get(href) == roles, f"{label} ({href}): {guards.get(href)} != {roles}"


def _sign_in_as(web: Web, name: str, roles: list[str]) -> None:
    with session_scope(web.settings) as s:
        auth.add_user(s, ADMIN, name, PASSWORD, roles)
    assert web.login(name).status_code == 303


def test_a_records_manager_sees_only_what_they_may_open(web: Web) -> None:
    _sign_in_as(web, "rm", ["records"])
    links = _links(web.client.get("/").text)
    assert "/retention" in links and "/people" in links
    assert "/handover" not in links and "/audit" not in links
    for href in links:
        assert web.client.get(href).status_code == 200, href


def test_error_pages_keep_the_navigation_and_sign_out(web: Web) -> None:
    _sign_in_as(web, "desk", ["service-desk"])
    for path, status in [("/audit", 403), ("/no-such-page", 404), ("/people/999999", 404)]:
        r = web.client.get(path)
        assert r.status_code == status, path
        assert "/handover" in _links(r.text), path
        assert "Sign out" in r.text and "desk" in r.text, path


def test_nobody_signed_in_gets_no_navigation_on_a_missing_page(web: Web) -> None:
    r = web.client.get("/no-such-page")
    assert r.status_code == 404 and _links(r.text) == [] and "Sign out" not in r.text
