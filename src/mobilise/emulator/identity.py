"""The Microsoft identity platform's part: OpenID configuration and the client-credentials
token endpoint, with a client secret or a certificate-signed client assertion (RS256 or
PS256 JWT whose key is the registered certificate's). Signing users in (the
authorisation-code grant) is in ``signin``."""

from __future__ import annotations

import base64
import json
import time
from typing import Any
from urllib.parse import parse_qs

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from mobilise.emulator.store import Store

TOKEN_LIFETIME = 3599
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenRefused(Exception):
    def __init__(self, error: str, description: str, code: int) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.code = code

    def body(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description}",
            "error_codes": [self.code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": "00000000-0000-0000-0000-000000000000",
            "correlation_id": "00000000-0000-0000-0000-000000000000",
        }


def openid_configuration(base: str, tenant: str) -> dict[str, Any]:
    issuer = f"{base}/{tenant}/v2.0"
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
                             "preferred_username", "name", "tid", "ver", "at_hash", "c_hash",
                             "email"],
        "request_uri_parameter_supported": False,
        "token_endpoint_auth_methods_supported": [
            "client_secret_post", "private_key_jwt", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "EU",
    }


def issue_token(store: Store, body: bytes) -> dict[str, Any]:
    form = read_form(body)
    if form.get("grant_type") != "client_credentials":
        raise TokenRefused(
            "unsupported_grant_type", "The provided grant_type is not supported here.", 70003)
    scope = form.get("scope", "")
    if not scope.endswith("/.default"):
        raise TokenRefused(
            "invalid_scope", f"The provided value for scope '{scope}' is not valid. Client "
            "credential flows must have a scope value with /.default suffixed.", 1002012)
    client_id = authenticate_client(store, form)
    token = store.issue_token(client_id, TOKEN_LIFETIME)
    return {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME,
            "ext_expires_in": TOKEN_LIFETIME, "access_token": token}


def read_form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def authenticate_client(store: Store, form: dict[str, str]) -> str:
    """The client id of a confidential client that proved itself with its secret or a
    certificate-signed assertion; refused otherwise."""
    client_id = form.get("client_id", "")
    app = store.app(client_id)
    if app is None:
        raise TokenRefused(
            "unauthorized_client", f"Application with identifier '{client_id}' was not found "
            "in the directory.", 700016)
    if "client_secret" in form:
        if app["secret"] is None or form["client_secret"] != app["secret"]:
            raise TokenRefused(
                "invalid_client", "Invalid client secret provided. Ensure the secret being "
                "sent in the request is the client secret value, not the client secret ID.",
                7000215)
    elif form.get("client_assertion_type") == ASSERTION_TYPE:
        _check_assertion(form.get("client_assertion", ""), client_id, app["certificate_pem"])
    else:
        raise TokenRefused(
            "invalid_client", "The request body must contain the following parameter: "
            "'client_assertion' or 'client_secret'.", 7000218)
    return client_id


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _check_assertion(assertion: str, client_id: str, certificate_pem: str | None) -> None:
    refused = TokenRefused(
        "invalid_client", "Client assertion failed signature validation.", 7000274)
    if certificate_pem is None:
        raise TokenRefused(
            "invalid_client", "No certificate is registered for this application.", 700027)
    try:
        head_b64, claims_b64, sig_b64 = assertion.split(".")
        header = json.loads(_b64url(head_b64))
        claims = json.loads(_b64url(claims_b64))
        signature = _b64url(sig_b64)
    except (ValueError, json.JSONDecodeError) as exc:
        raise refused from exc
    key = x509.load_pem_x509_certificate(certificate_pem.encode()).public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise refused
    signed = f"{head_b64}.{claims_b64}".encode()
    alg = header.get("alg")
    pad: padding.AsymmetricPadding
    if alg == "RS256":
        pad = padding.PKCS1v15()
    elif alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    else:
        raise refused
    try:
        key.verify(signature, signed, pad, hashes.SHA256())
    except InvalidSignature as exc:
        raise refused from exc
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise refused
    if float(claims.get("exp", 0)) < time.time():
        raise TokenRefused("invalid_client", "The client assertion has expired.", 700024)
