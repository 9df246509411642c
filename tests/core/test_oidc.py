"""The ID token check of sign-in with Microsoft: each refusal on its own."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from mobilise.core.oidc import SignInFailed, identity_of, nonce_claim, validate_id_token

ISSUER = "https://login.example/tenant-1/v2.0"
CLIENT = "mobilise-client"
NONCE = "flow-nonce"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


KEY, OTHER_KEY = _key(), _key()


def jwks_of(key: rsa.RSAPrivateKey, kid: str = "k1") -> list[dict[str, Any]]:
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return [{**public, "kid": kid, "use": "sig"}]


def token(key: rsa.RSAPrivateKey = KEY, kid: str = "k1", alg: str = "RS256",
          **changes: Any) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": CLIENT, "exp": now + 3600, "iat": now, "nbf": now,
              "nonce": nonce_claim(NONCE), "oid": "oid-1", "tid": "tenant-1",
              "preferred_username": "jo.bloggs@example.police.uk", "name": "Jo Bloggs",
              "roles": ["Records.Manager"], "groups": ["g-1"], **changes}
    claims = {k: v for k, v in claims.items() if v is not None}
    if alg == "HS256":
        return jwt.encode(claims, "a-shared-secret-of-32-bytes-or-more!", algorithm=alg,
                          headers={"kid": kid})
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def check(raw: str, keys: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return validate_id_token(raw, keys if keys is not None else jwks_of(KEY), issuer=ISSUER,
                             audience=CLIENT, nonce=NONCE)


def test_a_good_token_gives_its_identity() -> None:
    identity = identity_of(check(token()))
    assert identity.oid == "oid-1" and identity.upn == "jo.bloggs@example.police.uk"
    assert identity.app_roles == ("Records.Manager",) and identity.groups == ("g-1",)


@pytest.mark.parametrize(("raw", "says"), [
    (lambda: token(iss="https://login.example/another-tenant/v2.0"), "not issued by"),
    (lambda: token(aud="another-app"), "another application"),
    (lambda: token(key=OTHER_KEY), "signature does not verify"),
    (lambda: token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200,
                   nbf=int(time.time()) - 7200), "expired"),
    (lambda: token(nbf=int(time.time()) + 3600), "not valid yet"),
    (lambda: token(nonce=nonce_claim("another sign-in")), "nonce"),
    (lambda: token(nonce=None), "'nonce'"),
    (lambda: token(kid="unpublished"), "does not publish"),
    (lambda: token(alg="HS256"), "not RS256"),
    (lambda: "not.a.token", "not a JSON web token"),
], ids=["issuer", "audience", "signature", "expired", "not-yet", "nonce", "no-nonce",
        "unknown-key", "hmac", "garbage"])
def test_refusals(raw: Any, says: str) -> None:
    with pytest.raises(SignInFailed, match=says):
        check(raw())


def test_clock_skew_within_leeway_is_accepted() -> None:
    now = int(time.time())
    check(token(exp=now - 30, iat=now - 3630, nbf=now - 3630))


def test_a_token_naming_no_user_gives_no_identity() -> None:
    with pytest.raises(SignInFailed, match="names no user"):
        identity_of(check(token(preferred_username=None)))
