"""1,000 files through 10% 429s, 2% 503s and 1% cut connections: every file arrives and
verifies by quickXorHash, and no retry reaches the service before its Retry-After ran out."""

from __future__ import annotations

import io
import random
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mobilise.emulator.server import EmulatorProcess
from mobilise.storage.base import EntryKind
from tests.storage.onedrive_fixture import (
    make_client,
    make_onedrive_backend,
    onedrive_emulator,
    request_log,
    set_faults,
)
from tests.storage.quickxor_reference import quickxor_b64

__all__ = ["onedrive_emulator"]
FILES = 1000
UNIT = 327_680
RETRY_AFTER = 0.05


def corpus(seed: int) -> dict[str, tuple[bytes, datetime | None]]:
    rng = random.Random(seed)
    files: dict[str, tuple[bytes, datetime | None]] = {}
    for i in range(FILES):
        size = rng.choice([0, 1, rng.randrange(2, 4000), rng.randrange(4000, 200_000)])
        if i % 100 == 0:
            size = rng.randrange(2 * UNIT, 4 * UNIT)   # several fragments
        stamp = datetime(2015, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(10**8))
        files[f"wave-{i % 7}/person-{i % 13}/file-{i:04}.bin"] = (
            rng.randbytes(size), stamp if i % 2 else None)
    return files


def test_thousand_files_through_faults(onedrive_emulator: EmulatorProcess,
                                       tmp_path: Path) -> None:
    client = make_client(onedrive_emulator, graph_max_retries=12)
    backend = make_onedrive_backend(onedrive_emulator, tmp_path / "journal", client=client,
                                    fragment_size=UNIT, simple_upload_limit=64 * 1024)
    backend.stat("")
    files = corpus(20240501)
    set_faults(onedrive_emulator, seed=99, throttle_rate=0.10, unavailable_rate=0.02,
               reset_rate=0.01, retry_after=RETRY_AFTER)
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    try:
        with ThreadPoolExecutor(8) as pool:
            entries = list(pool.map(
                lambda item: backend.write(item[0], io.BytesIO(item[1][0]), len(item[1][0]),
                                           modified=item[1][1]),
                files.items()))
        log = request_log(onedrive_emulator)
    finally:
        set_faults(onedrive_emulator)

    # Every write was verified against the server's hash; check it again from a listing.
    assert [e.hashes["quickxor"] for e in entries] == [quickxor_b64(d) for d, _ in files.values()]
    listed = {e.path: e for e in backend.list_all() if e.kind is EntryKind.FILE}
    assert set(listed) == set(files)
    for path, (data, stamp) in files.items():
        assert listed[path].hashes["quickxor"] == quickxor_b64(data), path
        assert listed[path].size == len(data)
        if stamp is not None:
            assert listed[path].modified == stamp

    # The faults really happened...
    statuses = [r["status"] for r in log]
    assert statuses.count(429) > 50 and statuses.count(503) > 5
    assert sum(1 for r in log if r["fault"] in ("reset-before", "reset-after")) > 5
    # ...and each retry came after the Retry-After given to its previous attempt.
    attempts: dict[str, list[dict]] = defaultdict(list)
    for row in log:
        attempts[row["client_request_id"]].append(row)
    checked = 0
    for request_id, rows in attempts.items():
        if request_id is None:
            continue
        for previous, retry in zip(rows, rows[1:], strict=False):
            if previous["retry_after"] is not None:
                assert retry["started"] >= previous["finished"] + previous["retry_after"] - 1e-3
                checked += 1
    assert checked > 50
