"""Local H: drive → the Graph emulator over HTTPS, through injected 429s, 503s and cut
connections: every file arrives and verifies by quickXorHash, the second round copies
nothing, and a file changed during its upload moves in the next round."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from mobilise.emulator.server import EmulatorProcess
from mobilise.migration.files import Outcome
from mobilise.migration.sync import SyncOptions, sync_person
from mobilise.migration.verify import verify_person
from mobilise.storage.local import LocalBackend
from tests.migration.conftest import GuardedTree
from tests.storage.onedrive_fixture import (
    make_client,
    make_onedrive_backend,
    onedrive_emulator,
    set_faults,
)

__all__ = ["onedrive_emulator"]
UNIT = 327_680


def test_sync_into_onedrive_through_faults_verifies_every_file(
        onedrive_emulator: EmulatorProcess, source_tree: GuardedTree, tmp_path: Path) -> None:
    client = make_client(onedrive_emulator, graph_max_retries=12)
    onedrive = make_onedrive_backend(onedrive_emulator, tmp_path / "journal", client=client,
                                     fragment_size=UNIT, simple_upload_limit=16 * 1024)
    onedrive.stat("")
    set_faults(onedrive_emulator, seed=7, throttle_rate=0.10, unavailable_rate=0.03,
               reset_rate=0.02, retry_after=0.05)
    try:
        source = LocalBackend(source_tree.root)
        first = sync_person(source, onedrive, options=SyncOptions(concurrency=6))
        assert first.count(Outcome.COPIED) == 60, [f.reason for f in first.files
                                                    if f.outcome is not Outcome.COPIED]
        again = sync_person(source, onedrive, options=SyncOptions(concurrency=6))
        assert again.count(Outcome.SKIPPED) == 60
    finally:
        set_faults(onedrive_emulator)
    check = verify_person(source, onedrive)
    assert check.ok and len(check.verified) == 60


class ChangingSource(LocalBackend):
    def __init__(self, root: Path, victim: str) -> None:
        super().__init__(root)
        self.victim = victim
        self.done = False

    def open_read(self, path: str) -> BinaryIO:
        stream = super().open_read(path)
        if path == self.victim and not self.done:
            self.done = True
            full = Path(self.root) / path
            with open(full, "ab") as f:
                f.write(b"appended while uploading")
            os.utime(full, (2_000_000_000, 2_000_000_000))
        return stream


def test_file_changed_during_upload_to_onedrive_moves_next_round(
        onedrive_emulator: EmulatorProcess, source_tree: GuardedTree, tmp_path: Path) -> None:
    onedrive = make_onedrive_backend(onedrive_emulator, tmp_path / "journal",
                                     fragment_size=UNIT, simple_upload_limit=16 * 1024)
    victim = max((p for p in source_tree.snapshot if source_tree.snapshot[p][0] != "folder"),
                 key=lambda p: source_tree.snapshot[p][1])
    source = ChangingSource(source_tree.root, victim)
    first = sync_person(source, onedrive, options=SyncOptions(
        stale_partial_after=timedelta(0)))
    source_tree.accept_change()
    assert {f.path: f.outcome for f in first.files}[victim] is Outcome.SOURCE_CHANGED
    second = sync_person(source, onedrive)
    assert {f.path: f.outcome for f in second.files}[victim] is Outcome.COPIED
    assert verify_person(source, onedrive).ok
