"""App-only tokens from the Microsoft identity platform through MSAL (client credentials,
with a client secret or a certificate). MSAL caches the token and renews it shortly before
expiry, so most calls cost no request."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from mobilise.core.settings import Settings
from mobilise.graph.errors import (
    ServiceFailed,
    ServiceUnreachable,
    Unauthenticated,
    refused_connection,
)

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class TokenSource(Protocol):
    def token(self) -> str: ...

    def invalidate(self) -> None: ...


def certificate_credential(path: Path, thumbprint: str | None) -> dict[str, str]:
    """MSAL's certificate credential from one PEM file holding the key and certificate."""
    pem = path.read_bytes()
    key = serialization.load_pem_private_key(pem, password=None)
    cert = x509.load_pem_x509_certificate(pem)
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return {
        "private_key": key_pem,
        "thumbprint": thumbprint or cert.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
        "public_certificate": cert.public_bytes(serialization.Encoding.PEM).decode(),
    }


class MsalTokenSource:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._app: Any = None   # made on first use: MSAL fetches the authority's metadata
        self._lock = threading.Lock()

    def _application(self) -> Any:
        if self._app is None:
            settings = self._settings
            credential: Any
            if settings.graph_certificate_path is not None:
                credential = certificate_credential(
                    settings.graph_certificate_path, settings.graph_certificate_thumbprint)
            else:
                credential = settings.graph_client_secret.get_secret_value()
            http = requests.Session()
            if settings.graph_ca_bundle is not None:
                # requests lets REQUESTS_CA_BUNDLE override a session's verify; a private CA
                # must win, so the environment is not consulted for this session.
                http.trust_env = False
                http.verify = str(settings.graph_ca_bundle)
            self._app = msal.ConfidentialClientApplication(
                settings.graph_client_id,
                client_credential=credential,
                authority=settings.graph_authority,
                instance_discovery=False,
                http_client=http,
                token_cache=msal.TokenCache(),
            )
        return self._app

    def token(self) -> str:
        with self._lock:
            try:
                result = self._application().acquire_token_for_client(scopes=[GRAPH_SCOPE])
            except (requests.RequestException, ValueError) as exc:
                authority = self._settings.graph_authority
                if refused_connection(exc):
                    # Nothing listens there: minutes of back-off would not change that.
                    raise ServiceUnreachable(
                        f"the token endpoint ({authority}) refused the connection: is the "
                        "identity platform (or the Graph emulator) running at that "
                        "address?") from exc
                # Not a refusal: the identity platform could not be reached. Retryable.
                raise ServiceFailed(f"could not reach the token endpoint ({authority}): "
                                    f"{exc}") from exc
        if "access_token" not in result:
            raise Unauthenticated(
                f"token refused: {result.get('error')}: {result.get('error_description')}",
                code=str(result.get("error", "")))
        return str(result["access_token"])

    def invalidate(self) -> None:
        with self._lock:
            if self._app is not None:
                self._app.remove_tokens_for_client()
