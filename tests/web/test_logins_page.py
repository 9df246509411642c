"""The administrators' Logins page: every login with its person, linked and unlinked."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from mobilise.core import auth
from mobilise.core.audit import AuditEntry
from mobilise.core.db import session_scope
from tests.web.conftest import Web


def _post(web: Web, username: str, person: str) -> str:
    page = web.client.get("/users")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    answer = web.client.post(f"/users/{username}/person",
                             data={"csrf_token": token.group(1), "person": person})
    return f"{answer.status_code} {answer.text}"


def test_an_administrator_links_and_unlinks_a_login(web: Web) -> None:
    assert web.login("admin").status_code == 303
    listed = web.client.get("/users")
    assert listed.status_code == 200 and "programme" in listed.text
    assert re.search(r'href="/users" aria-current="page">\s*<strong[^>]*>Logins</strong>',
                     listed.text)
    done = _post(web, "programme", "alex4.smith@example.police.uk")
    assert done.startswith("200") and "programme is now Alex4 Smith (100004)" in done
    assert 'href="/people/100004"' in done
    refused = _post(web, "programme", "100005")
    assert refused.startswith("409") and "unlink it first" in refused
    missing = _post(web, "viewer", "nobody")
    assert missing.startswith("404") and "no person" in missing
    assert "linked to no person" in _post(web, "programme", "")
    with session_scope(web.settings) as s:
        assert auth.get_user(s, "programme").person_id is None
        counts = dict(s.execute(select(AuditEntry.action, func.count()).where(
            AuditEntry.action.in_(["user.link", "user.unlink"])).group_by(AuditEntry.action)
        ).tuples().all())
    assert counts == {"user.link": 1, "user.unlink": 1}


def test_only_administrators_see_logins(web: Web) -> None:
    assert web.login("programme").status_code == 303
    assert web.client.get("/users").status_code == 403
    assert 'href="/users"' not in web.client.get("/").text
