"""A separate process that uploads one file to the emulator with the onedrive backend, to
be killed midway by tests/storage/test_onedrive_resume.py.

    python -m tests.storage.onedrive_upload_child GRAPH_URL AUTHORITY CA UPN JOURNAL FILE
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from mobilise.core.settings import Settings
from mobilise.graph import GraphClient, Pacer
from mobilise.storage.onedrive import OneDriveBackend

FRAGMENT = 327_680


def upload(graph_url: str, authority: str, ca: str, upn: str, journal: str, file: str) -> None:
    settings = Settings(graph_url=graph_url, graph_authority=authority,
                        graph_ca_bundle=Path(ca), graph_backoff_base_seconds=0.05)
    backend = OneDriveBackend(GraphClient(settings, pacer=Pacer(600_000)), upn,
                              journal_dir=Path(journal), fragment_size=FRAGMENT)
    source = Path(file)
    modified = datetime.fromtimestamp(int(source.stat().st_mtime), UTC)
    with source.open("rb") as stream:
        backend.write(source.name, stream, source.stat().st_size, modified=modified)


if __name__ == "__main__":
    upload(*sys.argv[1:7])
