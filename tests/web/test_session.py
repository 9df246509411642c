from __future__ import annotations

from sqlalchemy import select

from mobilise.core import auth
from mobilise.core.db import session_scope
from tests.web.conftest import Web


def test_login_session_and_logout(web: Web) -> None:
    r = web.login("viewer")
    assert r.status_code == 303
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()
    page = web.client.get("/people?q=alex3")
    assert page.status_code == 200
    assert "Alex3 Smith" in page.text
    token = web.csrf()
    assert web.client.post("/logout", data={"csrf_token": token},
                           follow_redirects=False).status_code == 303
    assert web.client.get("/people").status_code == 401


def test_wrong_password(web: Web) -> None:
    r = web.login("viewer", "not the password")
    assert r.status_code == 401
    assert "wrong username or password" in r.text


def test_form_post_without_csrf_is_refused(web: Web) -> None:
    assert web.login("viewer").status_code == 303
    r = web.client.post("/logout", data={}, follow_redirects=False)
    assert r.status_code == 403
    r = web.client.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False)
    assert r.status_code == 403
    assert web.client.get("/people").status_code == 200


def test_login_without_csrf_is_refused(web: Web) -> None:
    r = web.client.post("/login", data={"username": "viewer", "password": "x" * 20})
    assert r.status_code == 403


def test_login_lockout_after_repeated_failures(web: Web) -> None:
    # One source address: blocked after its own (lower) limit, the account not locked.
    for _ in range(web.settings.login_address_attempts):
        r = web.login("viewer", "wrong password!")
        assert r.status_code == 401
        assert "wrong username or password" in r.text
    r = web.login("viewer")
    assert r.status_code == 401
    assert "too many failed attempts" in r.text
    with session_scope(web.settings) as s:
        blocked = s.scalars(select(auth.LoginThrottle.scope)
                            .where(auth.LoginThrottle.blocked_until > 0)).all()
        assert blocked == ["address"]


def test_passwords_are_argon2(web: Web) -> None:
    with session_scope(web.settings) as s:
        user = auth.get_user(s, "admin")
        assert user.password_hash.startswith("$argon2")
        assert all(t.token_hash != web.tokens["admin"] for t in user.tokens)
