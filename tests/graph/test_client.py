"""The Graph client against the emulator over HTTPS, and its retry rules against scripted
transports."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from mobilise import __version__
from mobilise.core.settings import Settings
from mobilise.emulator.server import EmulatorProcess
from mobilise.graph import (
    GraphClient,
    ItemNotFound,
    NameExists,
    Pacer,
    ServiceFailed,
    ServiceUnreachable,
    Throttled,
    Unauthenticated,
    user_agent,
)
from tests.storage.onedrive_fixture import (
    emulator_settings,
    fresh_upn,
    make_client,
    onedrive_emulator,
    provision,
    request_log,
    set_faults,
)

__all__ = ["onedrive_emulator"]


class StaticTokens:
    def __init__(self) -> None:
        self.invalidated = 0

    def token(self) -> str:
        return f"token-{self.invalidated}"

    def invalidate(self) -> None:
        self.invalidated += 1


def scripted(answers: list[Callable[[httpx.Request], httpx.Response]]
             ) -> tuple[GraphClient, list[httpx.Request], list[float], Pacer]:
    seen: list[httpx.Request] = []
    script: Iterator[Callable[[httpx.Request], httpx.Response]] = iter(answers)

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(script)(request)

    slept: list[float] = []
    pauses: list[float] = []

    class RecordingPacer(Pacer):
        def pause(self, seconds: float) -> None:
            pauses.append(seconds)

    settings = Settings(graph_url="https://graph.test/v1.0", organisation="Met Test",
                        graph_max_retries=4)
    client = GraphClient(settings, tokens=StaticTokens(), pacer=RecordingPacer(60_000),
                         transport=httpx.MockTransport(handle), sleep=slept.append)
    client.pauses = pauses  # type: ignore[attr-defined]
    return client, seen, slept, client.pacer


def answer(status: int, body: dict | None = None, **headers: str):  # type: ignore[no-untyped-def]
    return lambda request: httpx.Response(status, json=body or {}, headers=headers)


def test_user_agent_and_one_client_request_id_across_retries() -> None:
    client, seen, _, _ = scripted([answer(503, Retry_After="1"), answer(200, {"ok": True})])
    assert client.get_json("me") == {"ok": True}
    assert seen[0].headers["user-agent"] == f"NONISV|Met Test|Mobilise/{__version__}"
    assert user_agent("Met Test") == seen[1].headers["user-agent"]
    assert seen[0].headers["client-request-id"] == seen[1].headers["client-request-id"]


def test_throttling_pauses_the_pacer_for_the_larger_wait() -> None:
    client, seen, slept, _ = scripted([
        lambda r: httpx.Response(429, headers={"Retry-After": "1.5", "RateLimit-Reset": "4"}),
        answer(200)])
    client.get_json("x")
    assert client.pauses == [4.0]  # type: ignore[attr-defined]
    assert slept == [] and len(seen) == 2


def test_server_errors_back_off_exponentially_with_a_cap() -> None:
    client, seen, slept, _ = scripted([answer(500)] * 4 + [answer(200)])
    client.backoff_base, client.backoff_cap = 1.0, 3.0
    client.get_json("x")
    assert len(slept) == 4
    for attempt, wait in enumerate(slept):
        ceiling = min(3.0, 2.0**attempt)
        assert ceiling / 2 <= wait <= ceiling


def test_connection_errors_are_retried_then_reported() -> None:
    def cut(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    client, seen, slept, _ = scripted([cut] * 5)
    with pytest.raises(ServiceFailed):
        client.get_json("x")
    assert len(seen) == 5 and len(slept) == 4


def test_a_refused_connection_is_reported_after_two_quick_retries() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            raise httpx.ConnectError("All connection attempts failed", request=request) from exc

    client, seen, slept, _ = scripted([refused] * 5)
    with pytest.raises(ServiceUnreachable, match="refused"):
        client.get_json("x")
    assert len(seen) == 3 and len(slept) == 2  # not graph_max_retries (4) times


def test_a_token_endpoint_that_refuses_connections_fails_in_seconds() -> None:
    import time

    from mobilise.emulator.server import free_port
    from mobilise.graph.auth import MsalTokenSource

    port = free_port()  # nothing listens there
    settings = Settings(graph_url=f"https://127.0.0.1:{port}/v1.0",
                        graph_authority=f"https://127.0.0.1:{port}/mobilise-tenant",
                        graph_max_retries=8)
    slept: list[float] = []
    started = time.monotonic()
    client = GraphClient(settings, tokens=MsalTokenSource(settings), sleep=slept.append)
    with client, pytest.raises(ServiceUnreachable, match="token endpoint .* refused"):
        client.get_json("me/drive")
    assert len(slept) == 2 and time.monotonic() - started < 10
    assert not ServiceUnreachable("x").retryable  # engines do not retry it file by file


@pytest.mark.parametrize(("status", "code", "cls"), [
    (404, "itemNotFound", ItemNotFound), (409, "nameAlreadyExists", NameExists)])
def test_semantic_errors_are_never_retried(status, code, cls) -> None:  # type: ignore[no-untyped-def]
    client, seen, slept, _ = scripted([answer(status, {"error": {"code": code, "message": "m"}})])
    with pytest.raises(cls):
        client.get_json("x")
    assert len(seen) == 1 and slept == []


def test_throttling_that_never_ends_is_reported_as_throttled() -> None:
    client, seen, _, _ = scripted([answer(429, Retry_After="0")] * 5)
    with pytest.raises(Throttled):
        client.get_json("x")
    assert len(seen) == 5


def test_401_fetches_a_new_token_once() -> None:
    client, seen, _, _ = scripted([answer(401), answer(200)])
    client.get_json("x")
    assert [r.headers["authorization"] for r in seen] == ["Bearer token-0", "Bearer token-1"]


# --- against the emulator -------------------------------------------------------------
def test_secret_auth_and_paging(onedrive_emulator: EmulatorProcess) -> None:
    for _ in range(5):
        provision(onedrive_emulator, fresh_upn())
    client = make_client(onedrive_emulator)
    users = list(client.items("users", params={"$top": 2}))
    assert len(users) >= 5 and len({u["id"] for u in users}) == len(users)


def test_token_is_cached(onedrive_emulator: EmulatorProcess) -> None:
    client = make_client(onedrive_emulator)
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    for _ in range(5):
        client.get_json("users", params={"$top": 1})
    token_calls = [r for r in request_log(onedrive_emulator) if r["path"].endswith("/token")]
    assert len(token_calls) == 1


def test_wrong_secret_is_unauthenticated(onedrive_emulator: EmulatorProcess) -> None:
    client = GraphClient(emulator_settings(onedrive_emulator, graph_client_secret="wrong"),
                         pacer=Pacer(60_000))
    with pytest.raises(Unauthenticated, match="invalid_client"):
        client.get_json("users")


def make_certificate(folder: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mobilise-cert-app")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    path = folder / "app.pem"
    path.write_text(key_pem + cert_pem)
    return path, cert_pem


def test_certificate_auth(onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    path, cert_pem = make_certificate(tmp_path)
    with onedrive_emulator.admin() as admin:
        admin.post("/apps", json={"client_id": "cert-app", "certificate_pem": cert_pem})
    settings = emulator_settings(onedrive_emulator, graph_client_id="cert-app",
                                 graph_certificate_path=path)
    client = GraphClient(settings, pacer=Pacer(60_000))
    assert "value" in client.get_json("users", params={"$top": 1})
    other, _ = make_certificate(_subdir(tmp_path))
    wrong = GraphClient(emulator_settings(onedrive_emulator, graph_client_id="cert-app",
                                          graph_certificate_path=other), pacer=Pacer(60_000))
    with pytest.raises(Unauthenticated, match="invalid_client"):
        wrong.get_json("users")


def _subdir(tmp_path: Path) -> Path:
    folder = tmp_path / "other"
    folder.mkdir()
    return folder


def test_client_retries_through_injected_faults(onedrive_emulator: EmulatorProcess) -> None:
    upn = fresh_upn()
    provision(onedrive_emulator, upn)
    set_faults(onedrive_emulator, seed=3, throttle_rate=0.3, unavailable_rate=0.1,
               reset_rate=0.1, retry_after=0.05)
    try:
        client = make_client(onedrive_emulator, graph_max_retries=12)
        for _ in range(30):
            assert client.get_json(f"users/{upn}/drive")["driveType"] == "business"
    finally:
        set_faults(onedrive_emulator)
    statuses = {r["status"] for r in request_log(onedrive_emulator)}
    assert {429, 503} <= statuses


def test_downloads_survive_cut_connections(onedrive_emulator: EmulatorProcess,
                                           tmp_path: Path) -> None:
    from tests.storage.onedrive_fixture import make_onedrive_backend

    client = make_client(onedrive_emulator, graph_max_retries=16)
    backend = make_onedrive_backend(onedrive_emulator, tmp_path, client=client)
    data = bytes(range(256)) * 4096
    backend.write("read-me.bin", io.BytesIO(data), len(data))
    set_faults(onedrive_emulator, seed=5, reset_rate=0.2, throttle_rate=0.1, retry_after=0.01)
    try:
        for _ in range(10):
            assert backend.open_read("read-me.bin").read() == data
    finally:
        set_faults(onedrive_emulator)
    faults = {r["fault"] for r in request_log(onedrive_emulator)}
    assert {"reset-before", "reset-after"} & faults


def test_an_identity_platform_that_refuses_connections_is_unreachable(tmp_path: Path) -> None:
    from mobilise.emulator.server import free_port

    settings = Settings(graph_authority=f"https://127.0.0.1:{free_port()}/tenant",
                        graph_ca_bundle=None, graph_max_retries=2,
                        graph_backoff_base_seconds=0.01)
    with pytest.raises(ServiceUnreachable) as refused:
        GraphClient(settings, pacer=Pacer(60_000)).get_json("users")
    # A ServiceFailed, as before, but not retryable: nothing listens, and retrying (file
    # by file, for minutes) will not change that.
    assert isinstance(refused.value, ServiceFailed) and not refused.value.retryable
