"""Sign-in with Microsoft Entra ID: OpenID Connect, authorisation code with PKCE, through
MSAL as a confidential client (it makes the state, nonce and PKCE verifier, and redeems
the code with the client secret). The ID token is then checked here as well, against the
tenant's published keys: MSAL checks the nonce, audience and issuer but not the signature,
and a login must not rest on a token nobody verified.

Who the signed-in person is, and with which roles, is decided in ``people.logins``."""

from __future__ import annotations

import hashlib
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import jwt
import msal
import requests

from mobilise.core.errors import NotAuthenticated
from mobilise.core.settings import Settings

# Clocks of two machines differ: tokens are accepted this long either side of exp/nbf.
LEEWAY_SECONDS = 120
# What a sign-in keeps between its two legs (in the signed session cookie): MSAL's flow.
FLOW_KEYS = ("state", "redirect_uri", "scope", "code_verifier", "nonce", "claims_challenge")


@dataclass(frozen=True)
class Identity:
    """Who the identity platform says signed in (from a verified ID token)."""

    oid: str
    upn: str
    name: str
    app_roles: tuple[str, ...]
    groups: tuple[str, ...]


def nonce_claim(nonce: str) -> str:
    """MSAL sends a hash of its flow's nonce, and the ID token carries that hash."""
    return hashlib.sha256(nonce.encode("ascii")).hexdigest()


class SignInFailed(NotAuthenticated):
    """A sign-in with Microsoft that did not prove who is signing in (401)."""


def validate_id_token(token: str, keys: list[dict[str, Any]], *, issuer: str, audience: str,
                      nonce: str, leeway: float = LEEWAY_SECONDS) -> dict[str, Any]:
    """The token's claims, once its signature (RS256, by one of ``keys``, a JWKS list),
    issuer, audience, lifetime and nonce are right; SignInFailed saying which is not."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise SignInFailed("the ID token is not a JSON web token") from exc
    if header.get("alg") != "RS256":
        raise SignInFailed(f"the ID token is signed with {header.get('alg')!r}, not RS256")
    key = next((k for k in keys if k.get("kid") == header.get("kid")), None)
    if key is None:
        raise SignInFailed("the ID token is signed with a key the tenant does not publish")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, jwt.PyJWK(key, "RS256").key, algorithms=["RS256"], audience=audience,
            issuer=issuer, leeway=leeway,
            options={"require": ["iss", "aud", "exp", "iat", "nonce", "oid"]})
    except jwt.InvalidSignatureError as exc:
        raise SignInFailed("the ID token's signature does not verify") from exc
    except jwt.ExpiredSignatureError as exc:
        raise SignInFailed("the ID token has expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise SignInFailed("the ID token is not valid yet") from exc
    except jwt.InvalidIssuerError as exc:
        raise SignInFailed(f"the ID token was not issued by {issuer}") from exc
    except jwt.InvalidAudienceError as exc:
        raise SignInFailed("the ID token is meant for another application") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise SignInFailed(f"the ID token has no {exc.claim!r} claim") from exc
    except jwt.PyJWTError as exc:
        raise SignInFailed(f"the ID token is not valid: {exc}") from exc
    if claims["nonce"] != nonce_claim(nonce):
        raise SignInFailed("the ID token's nonce is not this sign-in's (a replayed token?)")
    return claims


def identity_of(claims: dict[str, Any]) -> Identity:
    upn = str(claims.get("preferred_username") or claims.get("upn") or "")
    if not upn:
        raise SignInFailed("the ID token names no user (ask for the profile scope)")
    return Identity(oid=str(claims["oid"]), upn=upn, name=str(claims.get("name") or upn),
                    app_roles=tuple(str(r) for r in claims.get("roles") or ()),
                    groups=tuple(str(g) for g in claims.get("groups") or ()))


class _NoTokens(msal.TokenCache):  # type: ignore[misc]
    """MSAL's cache, kept empty: sign-in needs only the ID token once, and a web process
    must not gather the refresh and access tokens of everyone who ever signed in."""

    def add(self, event: Any, now: Any = None) -> None:
        return None


class EntraSignIn:
    """One per web process: MSAL's application and the tenant's signing keys, fetched on
    first use and fetched again when a token names a key not seen yet (key rollover)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._app: Any = None
        self._keys: list[dict[str, Any]] | None = None
        self._config: dict[str, Any] | None = None
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        s = self.settings
        return bool(s.entra_authority and s.entra_client_id and s.entra_client_secret)

    def _http(self) -> requests.Session:
        http = requests.Session()
        if self.settings.entra_ca_bundle is not None:
            # A private CA must win over REQUESTS_CA_BUNDLE from the environment.
            http.trust_env = False
            http.verify = str(self.settings.entra_ca_bundle)
        return http

    def _application(self) -> Any:
        with self._lock:
            if self._app is None:
                s = self.settings
                assert s.entra_client_secret is not None
                self._app = msal.ConfidentialClientApplication(
                    s.entra_client_id, client_credential=s.entra_client_secret.get_secret_value(),
                    authority=s.entra_authority, instance_discovery=False,
                    http_client=self._http(), token_cache=_NoTokens())
            return self._app

    def _discovery(self) -> dict[str, Any]:
        if self._config is None:
            url = f"{str(self.settings.entra_authority).rstrip('/')}/v2.0/.well-known/" \
                  "openid-configuration"
            self._config = self._get(url)
        return self._config

    def _get(self, url: str) -> dict[str, Any]:
        try:
            answer = self._http().get(url, timeout=30)
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
        except (requests.RequestException, ValueError) as exc:
            raise SignInFailed(f"could not reach the identity platform: {exc}") from exc
        return body

    def keys(self, kid: str | None) -> list[dict[str, Any]]:
        if self._keys is None or not any(k.get("kid") == kid for k in self._keys):
            self._keys = list(self._get(self._discovery()["jwks_uri"]).get("keys", []))
        return self._keys

    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """The identity platform's sign-in address, and the flow to keep until the way back."""
        try:
            with warnings.catch_warnings():
                # MSAL recommends form_post; but a cross-site POST back would carry no
                # SameSite=Lax cookie, so the flow would be lost. The code in the query is
                # worth nothing without the client secret and the PKCE verifier.
                warnings.filterwarnings("ignore", message="response_mode='form_post'")
                flow = self._application().initiate_auth_code_flow(
                    [], redirect_uri=redirect_uri, response_mode="query")
        except (requests.RequestException, ValueError) as exc:
            raise SignInFailed(f"could not reach the identity platform: {exc}") from exc
        return str(flow["auth_uri"]), {k: flow[k] for k in FLOW_KEYS if k in flow}

    def finish(self, flow: dict[str, Any], answer: dict[str, str]) -> Identity:
        """Redeem the code of ``answer`` (the query the identity platform sent back) and
        verify the ID token it buys."""
        if answer.get("error"):
            raise SignInFailed(f"Microsoft refused the sign-in: {answer.get('error')}: "
                               f"{answer.get('error_description', '')}".rstrip(": "))
        try:
            result = self._application().acquire_token_by_auth_code_flow(flow, answer)
        except ValueError as exc:  # state missing or not this sign-in's
            raise SignInFailed("this sign-in was not started here, or has been used: "
                               "start again") from exc
        except RuntimeError as exc:  # MSAL's own nonce check
            raise SignInFailed("the ID token's nonce is not this sign-in's") from exc
        except requests.RequestException as exc:
            raise SignInFailed(f"could not reach the identity platform: {exc}") from exc
        if "id_token" not in result:
            raise SignInFailed(f"Microsoft refused the sign-in: {result.get('error')}: "
                               f"{result.get('error_description')}")
        token = str(result["id_token"])
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.DecodeError as exc:
            raise SignInFailed("the ID token is not a JSON web token") from exc
        claims = validate_id_token(
            token, self.keys(kid), issuer=str(self._discovery()["issuer"]),
            audience=str(self.settings.entra_client_id), nonce=str(flow.get("nonce", "")))
        return identity_of(claims)
