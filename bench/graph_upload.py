"""Upload throughput of the onedrive backend against the Graph emulator, compared in the
same run with the anchor: bare httpx requests doing the same uploads (no pacer, no retry
logic, no hashing, no journal, no verification). The ratio is the cost of our client.

    PYTHONPATH=src python bench/graph_upload.py [--small 300] [--large-mib 64]
"""

from __future__ import annotations

import argparse
import io
import os
import ssl
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx

from mobilise.core.settings import Settings
from mobilise.emulator.server import EmulatorProcess
from mobilise.graph import GraphClient, Pacer
from mobilise.storage.onedrive import OneDriveBackend

FRAGMENT = 10 * 1024 * 1024
STAMP = datetime(2020, 1, 1, tzinfo=UTC)


def timed(work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def anchor(emulator: EmulatorProcess, upn: str, small: list[bytes],
           large: bytes) -> tuple[float, float]:
    token = httpx.post(f"{emulator.authority}/oauth2/v2.0/token", verify=emulator.tls(), data={
        "client_id": "mobilise-app", "client_secret": "emulator-secret",
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default"}).json()["access_token"]
    tls = ssl.create_default_context(cafile=str(emulator.ca))
    http = httpx.Client(base_url=emulator.graph_url, verify=tls, timeout=120,
                        headers={"Authorization": f"Bearer {token}"})
    plain = httpx.Client(verify=tls, timeout=120)
    drive = f"/users/{upn}/drive"
    http.post(f"{drive}/root/children", json={"name": "anchor", "folder": {}})

    def smalls() -> None:
        for i, data in enumerate(small):
            http.put(f"{drive}/root:/anchor/s{i}.bin:/content", content=data).raise_for_status()

    def big() -> None:
        url = http.post(f"{drive}/root:/anchor/large.bin:/createUploadSession",
                        json={"item": {}}).json()["uploadUrl"]
        for start in range(0, len(large), FRAGMENT):
            chunk = large[start:start + FRAGMENT]
            plain.put(url, content=chunk, headers={
                "Content-Range": f"bytes {start}-{start + len(chunk) - 1}/{len(large)}"}
            ).raise_for_status()

    return timed(smalls), timed(big)


def ours(emulator: EmulatorProcess, upn: str, small: list[bytes], large: bytes,
         journal: Path) -> tuple[float, float]:
    settings = Settings(graph_url=emulator.graph_url, graph_authority=emulator.authority,
                        graph_ca_bundle=emulator.ca)
    backend = OneDriveBackend(GraphClient(settings, pacer=Pacer(10_000_000)), upn,
                              journal_dir=journal, fragment_size=FRAGMENT)
    backend.mkdir("ours")

    def smalls() -> None:
        for i, data in enumerate(small):
            backend.write(f"ours/s{i}.bin", io.BytesIO(data), len(data))

    def big() -> None:
        backend.write("ours/large.bin", io.BytesIO(large), len(large), modified=STAMP)

    return timed(smalls), timed(big)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large-mib", type=int, default=64)
    args = parser.parse_args()
    small = [os.urandom(64 * 1024) for _ in range(args.small)]
    large = os.urandom(args.large_mib * 1024 * 1024)
    with tempfile.TemporaryDirectory() as tmp:
        emulator = EmulatorProcess(Path(tmp) / "emulator").start()
        try:
            upn = "bench.person@example.police.uk"
            with emulator.admin() as admin:
                admin.post("/drives", json={"userPrincipalName": upn, "quota": 1024**4})
            a_small, a_large = anchor(emulator, upn, small, large)
            o_small, o_large = ours(emulator, upn, small, large, Path(tmp) / "journal")
        finally:
            emulator.stop()
    print(f"{args.small} x 64 KiB files: anchor {args.small / a_small:7.1f} files/s, "
          f"onedrive backend {args.small / o_small:7.1f} files/s, ratio {a_small / o_small:.2f}")
    mib = args.large_mib
    print(f"one {mib} MiB file:    anchor {mib / a_large:7.1f} MiB/s,  "
          f"onedrive backend {mib / o_large:7.1f} MiB/s,  ratio {a_large / o_large:.2f}")


if __name__ == "__main__":
    main()
