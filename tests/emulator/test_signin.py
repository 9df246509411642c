"""Signing users in through the emulator: the authorisation-code flow with PKCE, driven by
MSAL (Microsoft's library, not ours) and by plain HTTPS for the refusals."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import msal
import pytest
import requests

from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorProcess
from tests.storage.onedrive_fixture import fresh_upn

REDIRECT = "https://mobilise.example/auth/callback"


def msal_app(emulator: EmulatorProcess, secret: str = DEFAULT_CLIENT_SECRET) -> Any:
    http = requests.Session()
    http.trust_env = False
    http.verify = str(emulator.ca)
    return msal.ConfidentialClientApplication(
        DEFAULT_CLIENT_ID, client_credential=secret, authority=emulator.authority,
        instance_discovery=False, http_client=http)


def add_user(emulator: EmulatorProcess, **assigned: list[str]) -> str:
    upn = fresh_upn("signin")
    with emulator.admin() as admin:
        admin.post("/users", json={"userPrincipalName": upn, **assigned}).raise_for_status()
    return upn


def sign_in(emulator: EmulatorProcess, auth_uri: str, upn: str) -> httpx.Response:
    """What a person does on the sign-in page: open it, give their UPN, press Next."""
    with httpx.Client(verify=emulator.tls()) as browser:
        page = browser.get(auth_uri)
        assert page.status_code == 200, page.text
        assert 'name="login"' in page.text
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_uri).query).items()}
        return browser.post(auth_uri.split("?")[0], data={**query, "login": upn})


def redirect_answer(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_msal_signs_a_user_in_and_the_id_token_verifies(
        onedrive_emulator: EmulatorProcess) -> None:
    upn = add_user(onedrive_emulator, appRoles=["Records.Manager"], groups=["g-1", "g-2"])
    app = msal_app(onedrive_emulator)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT)
    assert "code_challenge=" in flow["auth_uri"] and "code_challenge_method=S256" in flow[
        "auth_uri"]
    answer = redirect_answer(sign_in(onedrive_emulator, flow["auth_uri"], upn))
    assert answer["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, answer)
    assert "id_token" in result, result
    claims = result["id_token_claims"]
    assert claims["preferred_username"] == upn
    assert claims["roles"] == ["Records.Manager"] and claims["groups"] == ["g-1", "g-2"]
    assert claims["tid"] == onedrive_emulator.tenant and claims["ver"] == "2.0"
    # The signature verifies with the key the discovery document's jwks_uri publishes.
    with httpx.Client(verify=onedrive_emulator.tls()) as http:
        config = http.get(f"{onedrive_emulator.authority}/v2.0/.well-known/"
                          "openid-configuration").json()
        keys = http.get(config["jwks_uri"]).json()["keys"]
    header = jwt.get_unverified_header(result["id_token"])
    key = next(k for k in keys if k["kid"] == header["kid"])
    verified = jwt.decode(result["id_token"], jwt.PyJWK(key, "RS256").key, ["RS256"],
                          audience=DEFAULT_CLIENT_ID, issuer=config["issuer"])
    assert verified["oid"] == claims["oid"]
    assert verified["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()


def test_a_user_without_roles_gets_no_roles_claim(onedrive_emulator: EmulatorProcess) -> None:
    upn = add_user(onedrive_emulator)
    app = msal_app(onedrive_emulator)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT)
    result = app.acquire_token_by_auth_code_flow(
        flow, redirect_answer(sign_in(onedrive_emulator, flow["auth_uri"], upn)))
    assert "roles" not in result["id_token_claims"]
    assert "groups" not in result["id_token_claims"]


def _challenge(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(
        b"=").decode()


def _code(emulator: EmulatorProcess, verifier: str) -> str:
    params = {"client_id": DEFAULT_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT,
              "scope": "openid profile", "state": "s1", "nonce": "n1",
              "code_challenge": _challenge(verifier), "code_challenge_method": "S256"}
    auth_uri = f"{emulator.authority}/oauth2/v2.0/authorize?{httpx.QueryParams(params)}"
    return redirect_answer(sign_in(emulator, auth_uri, add_user(emulator)))["code"]


def _redeem(emulator: EmulatorProcess, issued: str, verifier: str, **changes: str
            ) -> httpx.Response:
    data = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET,
            "grant_type": "authorization_code", "code": issued, "redirect_uri": REDIRECT,
            "code_verifier": verifier, **changes}
    return httpx.post(f"{emulator.authority}/oauth2/v2.0/token", data=data,
                      verify=emulator.tls())


@pytest.mark.parametrize(("changes", "error", "code"), [
    ({"code_verifier": "x" * 43}, "invalid_grant", 501481),
    ({"redirect_uri": "https://evil.example/cb"}, "invalid_grant", 500112),
    ({"client_secret": "wrong"}, "invalid_client", 7000215),
    ({"code": "made-up"}, "invalid_grant", 9002313),
])
def test_token_endpoint_refusals(onedrive_emulator: EmulatorProcess, changes: dict[str, str],
                                 error: str, code: int) -> None:
    verifier = secrets.token_urlsafe(48)
    issued = _code(onedrive_emulator, verifier)
    answer = _redeem(onedrive_emulator, issued, verifier, **changes)
    assert answer.status_code == 400
    assert answer.json()["error"] == error and answer.json()["error_codes"] == [code]
    # A refused redemption does not use the code up.
    assert _redeem(onedrive_emulator, issued, verifier).status_code == 200


def test_a_code_is_redeemed_once(onedrive_emulator: EmulatorProcess) -> None:
    verifier = secrets.token_urlsafe(48)
    issued = _code(onedrive_emulator, verifier)
    assert _redeem(onedrive_emulator, issued, verifier).status_code == 200
    again = _redeem(onedrive_emulator, issued, verifier)
    assert again.status_code == 400 and again.json()["error_codes"] == [54005]


def test_unknown_user_stays_on_the_sign_in_page(onedrive_emulator: EmulatorProcess) -> None:
    app = msal_app(onedrive_emulator)
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT)
    answer = sign_in(onedrive_emulator, flow["auth_uri"], "nobody@example.police.uk")
    assert answer.status_code == 400 and "AADSTS50034" in answer.text


def test_unregistered_redirect_uri_is_not_followed(onedrive_emulator: EmulatorProcess) -> None:
    with onedrive_emulator.admin() as admin:
        admin.post("/apps", json={"client_id": "registered-app", "client_secret": "s",
                                  "redirect_uris": [REDIRECT]}).raise_for_status()
    params = {"client_id": "registered-app", "response_type": "code", "scope": "openid",
              "redirect_uri": "https://evil.example/cb"}
    with httpx.Client(verify=onedrive_emulator.tls()) as browser:
        page = browser.get(f"{onedrive_emulator.authority}/oauth2/v2.0/authorize",
                           params=params)
    assert page.status_code == 400 and "AADSTS50011" in page.text
    assert "location" not in page.headers
