"""An upload whose process is killed midway resumes, in a new process, from the server's
nextExpectedRanges without sending again the fragments the server already has."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from mobilise.emulator.server import EmulatorProcess
from mobilise.storage.onedrive import UploadJournal, first_expected
from tests.storage.onedrive_fixture import (
    fresh_upn,
    make_onedrive_backend,
    onedrive_emulator,
    provision,
    request_log,
    set_faults,
)
from tests.storage.onedrive_upload_child import FRAGMENT
from tests.storage.quickxor_reference import quickxor_b64

__all__ = ["onedrive_emulator"]
FRAGMENTS = 24
ROOT = Path(__file__).resolve().parents[2]


def fragment_puts(emulator: EmulatorProcess, after: int = 0) -> list[dict]:
    return [r for r in request_log(emulator)
            if r["id"] > after and r["method"] == "PUT" and r["path"].startswith("/_upload/")]


def test_killed_upload_resumes_from_next_expected_ranges(
        onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    upn = fresh_upn()
    provision(onedrive_emulator, upn)
    source = tmp_path / "evidence.bin"
    data = os.urandom(FRAGMENTS * FRAGMENT + 4321)
    source.write_bytes(data)
    journal = tmp_path / "journal"
    # Slow every request down so the child is surely killed in the middle.
    set_faults(onedrive_emulator, latency_ms=60, latency_rate=1.0, seed=11)
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.storage.onedrive_upload_child",
         onedrive_emulator.graph_url, onedrive_emulator.authority, str(onedrive_emulator.ca),
         upn, str(journal), str(source)], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 60
        while len([r for r in fragment_puts(onedrive_emulator) if r["status"] == 202]) < 6:
            assert child.poll() is None, "the upload finished or failed before the kill"
            assert time.monotonic() < deadline, "the upload did not start"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    # A fragment in flight at the kill may still land (its body was already sent): wait
    # until the service has finished with every request before asking where it stands.
    while any(r["finished"] is None for r in request_log(onedrive_emulator)):
        assert time.monotonic() < deadline + 30
        time.sleep(0.05)
    set_faults(onedrive_emulator)

    (record,) = UploadJournal(journal).pending()
    status = httpx.get(record["uploadUrl"], verify=onedrive_emulator.tls()).json()
    resume_at = first_expected(status["nextExpectedRanges"])
    assert resume_at is not None and resume_at % FRAGMENT == 0
    assert FRAGMENT * 6 <= resume_at < len(data)
    last_before = max(r["id"] for r in request_log(onedrive_emulator))

    backend = make_onedrive_backend(onedrive_emulator, journal, upn=upn, fragment_size=FRAGMENT)
    modified = datetime.fromtimestamp(int(source.stat().st_mtime), UTC)
    with source.open("rb") as stream:
        entry = backend.write(source.name, stream, len(data), modified=modified)

    assert entry.hashes["quickxor"] == quickxor_b64(data)
    assert entry.modified == modified
    assert backend.open_read(source.name).read() == data
    after = [r for r in request_log(onedrive_emulator) if r["id"] > last_before]
    assert not [r for r in after if r["path"].endswith("/createUploadSession")]
    starts = [int(r["content_range"].split()[1].split("-")[0])
              for r in fragment_puts(onedrive_emulator, last_before)]
    # Exactly the missing fragments, in order, starting where the server said.
    assert starts == list(range(resume_at, len(data), FRAGMENT))
    assert [r["method"] for r in after if r["path"].startswith("/_upload/")][0] == "GET"
    assert UploadJournal(journal).pending() == []
