"""Run one person's sync in its own process, so a test can SIGKILL it anywhere.

    python sync_child.py SOURCE DESTINATION DATA_DIR ROUND
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from mobilise.migration.journal import Journal, journal_path
from mobilise.migration.sync import SyncOptions, sync_person
from mobilise.storage.local import LocalBackend


def main() -> None:
    source, destination, data_dir, round_name = sys.argv[1:5]
    # Durable writes (fsync per file) make the run long enough to be killed anywhere.
    options = SyncOptions(concurrency=4, max_concurrency=4,
                          stale_partial_after=timedelta(0))
    with Journal(journal_path(Path(data_dir), "p1", round_name)) as journal:
        result = sync_person(LocalBackend(source, durable=False),
                             LocalBackend(destination, durable=True),
                             journal=journal, options=options)
    print(result.by_outcome(), flush=True)
    sys.exit(0 if result.complete else 1)


if __name__ == "__main__":
    main()
