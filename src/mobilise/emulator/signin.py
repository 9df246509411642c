"""Signing users in: the OpenID Connect authorisation-code flow as the Microsoft identity
platform serves it (v2.0 endpoints). ``/authorize`` shows a minimal sign-in page for the
directory's users (no password: the emulator plays the user's side too) and redirects
back with ``code`` and ``state``; the token endpoint redeems a code once, for the client
that asked for it, with the same ``redirect_uri`` and the PKCE verifier, and answers with an
RS256 ``id_token`` signed by the key published at ``/{tenant}/discovery/v2.0/keys``."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from mobilise.emulator.identity import TOKEN_LIFETIME, TokenRefused, authenticate_client
from mobilise.emulator.store import Store

CODE_LIFETIME = 600  # Microsoft: authorisation codes are short lived, about ten minutes
ID_TOKEN_LIFETIME = 3600
# The OIDC scopes MSAL always asks for; the rest name a resource's permissions.
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}


class SignInRefused(Exception):
    """A sign-in request that cannot be sent back to the app: shown on the page instead
    (Microsoft does the same for an unknown app or an unregistered reply URL)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.message = f"AADSTS{code}: {message}"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _int_b64(value: int) -> str:
    return _b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


# --- the signing key ----------------------------------------------------------------------
def signing_key(store: Store) -> rsa.RSAPrivateKey:
    """The tenant's token signing key, made once per root and kept (tokens issued before a
    restart stay verifiable, as the published key does not change)."""
    pem = store.get_meta("signing_key")
    if pem is None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        store.set_meta("signing_key", pem)
    loaded = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(loaded, rsa.RSAPrivateKey)
    return loaded


def key_id(key: rsa.RSAPrivateKey) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return _b64url(hashlib.sha1(der).digest())  # noqa: S324 - a thumbprint, as Entra's x5t


def jwks(store: Store, issuer: str) -> dict[str, Any]:
    key = signing_key(store)
    numbers = key.public_key().public_numbers()
    kid = key_id(key)
    return {"keys": [{"kty": "RSA", "use": "sig", "kid": kid, "x5t": kid,
                      "n": _int_b64(numbers.n), "e": _int_b64(numbers.e), "issuer": issuer}]}


# --- /authorize -----------------------------------------------------------------------------
def check_request(store: Store, params: dict[str, str]) -> None:
    """Refusals shown on the page: no redirect to a URL the app did not register."""
    client_id = params.get("client_id", "")
    app = store.app(client_id)
    if app is None:
        raise SignInRefused(700016, f"Application with identifier '{client_id}' was not "
                                    "found in the directory.")
    redirect_uri = params.get("redirect_uri", "")
    registered = json.loads(app["redirect_uris"]) if app["redirect_uris"] else None
    if not redirect_uri or (registered is not None and redirect_uri not in registered):
        raise SignInRefused(50011, f"The redirect URI '{redirect_uri}' specified in the "
                                   "request does not match the redirect URIs configured for "
                                   f"the application '{client_id}'.")


def request_error(params: dict[str, str]) -> tuple[str, str] | None:
    """Refusals sent back to the app's redirect URI as ``error`` and its description."""
    if params.get("response_type") != "code":
        return ("unsupported_response_type", "AADSTS700054: response_type "
                f"'{params.get('response_type', '')}' is not enabled for the application.")
    if "openid" not in params.get("scope", "").split():
        return ("invalid_scope", "AADSTS90009: Sign-in needs the openid scope.")
    method = params.get("code_challenge_method", "plain")
    if params.get("code_challenge") and method not in ("plain", "S256"):
        return ("invalid_request", "AADSTS50149: Invalid Code_Challenge_method parameter.")
    return None


def back_to_app(params: dict[str, str], answer: dict[str, str]) -> str:
    """Where the browser goes next: the redirect URI with the answer in the query (the
    default for ``response_type=code``) or in the fragment."""
    if params.get("state"):
        answer = {**answer, "state": params["state"]}
    separator = "#" if params.get("response_mode") == "fragment" else (
        "&" if "?" in params["redirect_uri"] else "?")
    return params["redirect_uri"] + separator + urlencode(answer)


def issue_code(store: Store, params: dict[str, str], upn: str) -> str:
    user = store.user(upn)
    if user is None or "@" not in upn:
        raise SignInRefused(50034, f"The user account {upn} does not exist in the directory. "
                                   "To sign into this application, the account must be added "
                                   "to the directory.")
    code = secrets.token_urlsafe(48)
    store.add_code(code, {
        "client_id": params["client_id"], "redirect_uri": params["redirect_uri"],
        "user_id": user["id"], "scope": params.get("scope", ""), "nonce": params.get("nonce"),
        "challenge": params.get("code_challenge"),
        "challenge_method": params.get("code_challenge_method", "plain")}, CODE_LIFETIME)
    return code


AUTHORIZE_FIELDS = ("client_id", "response_type", "redirect_uri", "scope", "state", "nonce",
                    "code_challenge", "code_challenge_method", "response_mode", "prompt",
                    "client_info")


def sign_in_page(params: dict[str, str], error: str | None = None) -> str:
    """The emulator's sign-in page: pick a directory user by UPN (no password)."""
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(params[name])}">'
        for name in AUTHORIZE_FIELDS if name in params)
    hint = html.escape(params.get("login_hint", ""))
    problem = f'<p role="alert" id="error">{html.escape(error)}</p>' if error else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>Sign in to your account (emulator)</title></head><body><main>"
        "<h1>Sign in</h1><p>Microsoft identity platform emulator: no password is asked.</p>"
        f'{problem}<form method="post">{hidden}'
        '<label for="upn">Email or user principal name</label> '
        f'<input id="upn" name="login" type="email" value="{hint}" required> '
        '<button type="submit">Next</button></form></main></body></html>')


def error_page(message: str) -> str:
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in '
            'error (emulator)</title></head><body><main><h1>Sorry, but we are having trouble '
            f'signing you in.</h1><p role="alert">{html.escape(message)}</p></main></body>'
            "</html>")


# --- the token endpoint ---------------------------------------------------------------------
def _verifier_matches(code: dict[str, Any], verifier: str | None) -> bool:
    challenge = code["challenge"]
    if not challenge:
        return True
    if not verifier:
        return False
    if code["challenge_method"] == "S256":
        return bool(_b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
                    == challenge)
    return bool(verifier == challenge)


def _checked_code(store: Store, form: dict[str, str], client_id: str) -> dict[str, Any]:
    code = store.code(form.get("code", ""))
    if code is None:
        raise TokenRefused("invalid_grant", "Malformed or invalid authorization code.", 9002313)
    if code["redeemed"]:
        raise TokenRefused("invalid_grant", "OAuth2 Authorization code was already redeemed, "
                           "please retry with a new valid code or use an existing refresh "
                           "token.", 54005)
    if code["expires"] < time.time():
        raise TokenRefused("invalid_grant", "The provided authorization code or refresh token "
                           "has expired due to inactivity. Send a new interactive "
                           "authorization request for this user and resource.", 70008)
    if code["client_id"] != client_id:
        raise TokenRefused("invalid_grant", "The provided authorization code was issued to "
                           "another application.", 70000)
    if form.get("redirect_uri") != code["redirect_uri"]:
        raise TokenRefused("invalid_grant", "The reply URL specified in the request does not "
                           "match the reply URL of the authorization request.", 500112)
    if not _verifier_matches(code, form.get("code_verifier")):
        raise TokenRefused("invalid_grant", "The Code_Verifier does not match the "
                           "code_challenge supplied in the authorization request.", 501481)
    return code


def redeem(store: Store, form: dict[str, str], issuer: str, tenant: str) -> dict[str, Any]:
    """``grant_type=authorization_code``: the ID token (and an access token) for a code."""
    client_id = authenticate_client(store, form)
    code = _checked_code(store, form, client_id)
    if not store.redeem_code(code["code"]):  # another redemption came first
        raise TokenRefused("invalid_grant", "OAuth2 Authorization code was already redeemed, "
                           "please retry with a new valid code or use an existing refresh "
                           "token.", 54005)
    user = store.user(code["user_id"])
    if user is None:
        raise TokenRefused("invalid_grant", "The user account no longer exists.", 50034)
    scopes = set(code["scope"].split())
    claims = id_token_claims(user, client_id, issuer, tenant, scopes, code["nonce"])
    key = signing_key(store)
    id_token = jwt.encode(claims, key, algorithm="RS256",
                          headers={"kid": key_id(key), "typ": "JWT"})
    resource = sorted(scopes - OIDC_SCOPES) or ["User.Read"]
    client_info = _b64url(json.dumps({"uid": user["id"], "utid": tenant}).encode())
    # The access token is opaque and Graph here does not take it: the emulator serves
    # application permissions only.
    return {"token_type": "Bearer", "scope": " ".join(resource),
            "expires_in": TOKEN_LIFETIME, "ext_expires_in": TOKEN_LIFETIME,
            "access_token": secrets.token_urlsafe(32), "id_token": id_token,
            "client_info": client_info}


def id_token_claims(user: dict[str, Any], client_id: str, issuer: str, tenant: str,
                    scopes: set[str], nonce: str | None) -> dict[str, Any]:
    """The v2.0 ID token's claims (Microsoft's "ID token claims reference"): ``sub`` is
    pairwise (per application), ``oid`` the user's object id in every application."""
    now = int(time.time())
    sub = _b64url(hashlib.sha256(f"{client_id}:{user['id']}".encode()).digest())
    claims: dict[str, Any] = {
        "ver": "2.0", "iss": issuer, "sub": sub, "aud": client_id, "exp": now + ID_TOKEN_LIFETIME,
        "iat": now, "nbf": now, "oid": user["id"], "tid": tenant,
        "uti": secrets.token_urlsafe(16)}
    if nonce:
        claims["nonce"] = nonce
    if "profile" in scopes:
        claims["name"] = user["display_name"]
        claims["preferred_username"] = user["upn"]
    if "email" in scopes and user.get("mail"):
        claims["email"] = user["mail"]
    # Present only when the user has some: an app role assignment, group membership.
    if user.get("app_roles") and json.loads(user["app_roles"]):
        claims["roles"] = json.loads(user["app_roles"])
    if user.get("groups") and json.loads(user["groups"]):
        claims["groups"] = json.loads(user["groups"])
    return claims
