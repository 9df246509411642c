"""Run one person's sync in its own process, so a test can SIGKILL it anywhere.

    python sync_child.py SOURCE DESTINATION DATA_DIR ROUND
    python sync_child.py SOURCE onedrive DATA_DIR ROUND GRAPH_URL AUTHORITY CA UPN
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from mobilise.migration.journal import Journal, journal_path
from mobilise.migration.sync import SyncOptions, sync_person
from mobilise.storage.base import Backend
from mobilise.storage.local import LocalBackend


def onedrive(data_dir: str, graph_url: str, authority: str, ca: str, upn: str) -> Backend:
    from mobilise.core.settings import Settings
    from mobilise.graph import GraphClient, Pacer
    from mobilise.storage.onedrive import OneDriveBackend

    settings = Settings(graph_url=graph_url, graph_authority=authority,
                        graph_ca_bundle=Path(ca), graph_backoff_base_seconds=0.05)
    return OneDriveBackend(GraphClient(settings, pacer=Pacer(600_000)), upn,
                           journal_dir=Path(data_dir) / "upload-journal",
                           fragment_size=327_680, simple_upload_limit=64 * 1024)


def main() -> None:
    source, destination, data_dir, round_name = sys.argv[1:5]
    # Durable writes (fsync per file) make the run long enough to be killed anywhere.
    options = SyncOptions(concurrency=4, max_concurrency=4,
                          stale_partial_after=timedelta(0))
    target = onedrive(data_dir, *sys.argv[5:9]) if destination == "onedrive" \
        else LocalBackend(destination, durable=True)
    with Journal(journal_path(Path(data_dir), "p1", round_name)) as journal:
        result = sync_person(LocalBackend(source, durable=False), target,
                             journal=journal, options=options)
    print(result.by_outcome(), flush=True)
    sys.exit(0 if result.complete else 1)


if __name__ == "__main__":
    main()
