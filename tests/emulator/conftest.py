from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mobilise.emulator.server import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, EmulatorProcess
from tests.storage.onedrive_fixture import fresh_upn, onedrive_emulator, provision, set_faults

__all__ = ["onedrive_emulator"]


def token_for(emulator: EmulatorProcess) -> str:
    answer = httpx.post(
        f"{emulator.authority}/oauth2/v2.0/token",
        verify=emulator.tls(),
        data={
            "client_id": DEFAULT_CLIENT_ID,
            "client_secret": DEFAULT_CLIENT_SECRET,
            "grant_type": "client_credentials",
            "scope": "https://graph.microsoft.com/.default",
        },
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


class Graph:
    """Plain HTTPS calls to the emulator, so its tests do not lean on our own client."""

    def __init__(self, emulator: EmulatorProcess, upn: str) -> None:
        self.emulator = emulator
        self.upn = upn
        self.http = httpx.Client(
            base_url=emulator.graph_url,
            verify=emulator.tls(),
            headers={"Authorization": f"Bearer {token_for(emulator)}"},
            timeout=60,
        )
        self.plain = httpx.Client(verify=emulator.tls(), timeout=60)

    @property
    def drive(self) -> str:
        return f"/users/{self.upn}/drive"

    def put_file(self, path: str, data: bytes, **params: str) -> httpx.Response:
        return self.http.put(f"{self.drive}/root:/{path}:/content", content=data, params=params)

    def mkdir(self, parent: str, name: str, conflict: str = "fail") -> httpx.Response:
        where = (
            f"{self.drive}/root:/{parent}:/children" if parent else f"{self.drive}/root/children"
        )
        return self.http.post(
            where, json={"name": name, "folder": {}, "@microsoft.graph.conflictBehavior": conflict}
        )

    def session(self, path: str, **item: Any) -> httpx.Response:
        return self.http.post(
            f"{self.drive}/root:/{path}:/createUploadSession", json={"item": item}
        )


@pytest.fixture
def graph(onedrive_emulator: EmulatorProcess) -> Iterator[Graph]:
    set_faults(onedrive_emulator)
    upn = fresh_upn()
    provision(onedrive_emulator, upn)
    client = Graph(onedrive_emulator, upn)
    yield client
    client.http.close()
    client.plain.close()


def assert_graph_error(
    response: httpx.Response, status: int, code: str, inner: str | None = None
) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    inner_error = error["innerError"]
    assert set(inner_error) >= {"date", "request-id", "client-request-id"}
    # Real Graph names an inner code only where it has a more specific one.
    assert inner_error.get("code") == inner
    # The body's request-id is the one in the header, on every error.
    assert inner_error["request-id"] == response.headers["request-id"]
    assert inner_error["client-request-id"] == response.headers["client-request-id"]
