"""Running the emulator: in this process (``serve``) or as a child process that tests and
the demo start, wait for, and stop (``EmulatorProcess``)."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mobilise.emulator.app import Emulator
from mobilise.emulator.store import Store
from mobilise.emulator.tls import ensure_tls

DEFAULT_CLIENT_ID = "mobilise-app"
DEFAULT_CLIENT_SECRET = "emulator-secret"
DEFAULT_TENANT = "mobilise-tenant"
# Upload and download URLs are served under this second host name (Microsoft serves them
# from the tenant's SharePoint host), so a client that attaches tokens by host sends none.
DEFAULT_UPLOAD_HOST = "localhost"


def register_default_app(root: Path, client_id: str, client_secret: str) -> None:
    store = Store(root)
    try:
        if store.app(client_id) is None:
            store.add_app(client_id, client_secret, None)
    finally:
        store.close()


def serve(root: Path, *, host: str = "127.0.0.1", port: int = 8443,
          tenant: str = DEFAULT_TENANT, faults: dict[str, Any] | None = None,
          client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET,
          log_level: str = "warning", upload_host: str | None = DEFAULT_UPLOAD_HOST) -> None:
    import uvicorn

    root.mkdir(parents=True, exist_ok=True)
    tls = ensure_tls(root, tuple(dict.fromkeys(
        ["127.0.0.1", "localhost", *([upload_host] if upload_host else [])])))
    register_default_app(root, client_id, client_secret)
    app = Emulator(root, tenant=tenant, faults=faults, upload_host=upload_host)
    uvicorn.run(app, host=host, port=port, ssl_certfile=str(tls.cert),
                ssl_keyfile=str(tls.key), log_level=log_level, access_log=False,
                timeout_keep_alive=30, timeout_graceful_shutdown=1)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmulatorProcess:
    """A child process serving the emulator on a loopback port."""

    root: Path
    port: int = field(default_factory=free_port)
    faults: dict[str, Any] = field(default_factory=dict)
    tenant: str = DEFAULT_TENANT
    upload_host: str = DEFAULT_UPLOAD_HOST
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def file_url(self) -> str:
        """Where upload and download URLs live (the second host name)."""
        return f"https://{self.upload_host}:{self.port}"

    @property
    def ca(self) -> Path:
        return self.root / "tls" / "ca.pem"

    @property
    def graph_url(self) -> str:
        return f"{self.url}/v1.0"

    @property
    def authority(self) -> str:
        return f"{self.url}/{self.tenant}"

    def start(self, timeout: float = 30.0) -> EmulatorProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "mobilise.emulator", "serve", "--root", str(self.root),
                   "--port", str(self.port), "--tenant", self.tenant,
                   "--upload-host", self.upload_host]
        for name, value in self.faults.items():
            command += ["--fault", f"{name}={value}"]
        log = (self.root / "emulator.log").open("ab")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
        self.process = subprocess.Popen(command, stdout=log, stderr=log, env=env)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"emulator exited with {self.process.returncode}; see "
                    f"{self.root / 'emulator.log'}")
            try:
                if self.ca.exists():
                    httpx.get(f"{self.url}/_emulator/health", verify=self.tls(), timeout=2)
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"emulator did not answer on port {self.port} in {timeout}s")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def admin(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/_emulator", verify=self.tls(), timeout=30)

    def tls(self) -> ssl.SSLContext:
        """A client TLS context trusting the emulator's CA."""
        return ssl.create_default_context(cafile=str(self.ca))
