"""The fast path for small local files keeps every guarantee of the general copier."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from mobilise.migration import localcopy
from mobilise.migration.files import SMALL_FILE, Outcome, PlannedFile, Step
from mobilise.migration.journal import Journal, journal_path, read_journal
from mobilise.migration.sync import SyncOptions, collector_paused, sync_person
from mobilise.migration.verify import verify_person
from mobilise.storage.local import LocalBackend
from mobilise.storage.quickxor import QuickXorHash
from tests.migration.conftest import GuardedTree, make_tree, tree_snapshot

FAST = SyncOptions(concurrency=4, max_concurrency=8)


def local(root: Path) -> LocalBackend:
    return LocalBackend(root, durable=False)


def batched(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the files each batch of the fast path was given."""
    sizes: list[int] = []
    original = localcopy.copy_batch

    def counting(batch: localcopy.Batch, **options: Any) -> localcopy.BatchResult:
        sizes.append(len(batch.files))
        return original(batch, **options)

    monkeypatch.setattr(localcopy, "copy_batch", counting)
    return sizes


@pytest.mark.parametrize("durable", [False, True])
def test_small_files_go_in_batches_verified_with_their_times(
        source_tree: GuardedTree, destination_root: Path, durable: bool,
        monkeypatch: pytest.MonkeyPatch) -> None:
    sizes = batched(monkeypatch)
    monkeypatch.setattr(localcopy, "BATCH_FILES", 7)
    result = sync_person(local(source_tree.root), LocalBackend(destination_root, durable=durable),
                         options=FAST)
    assert result.count(Outcome.COPIED) == 60 and result.complete
    assert sum(sizes) == 60 and max(sizes) <= 7 and len(sizes) >= 9
    assert tree_snapshot(destination_root) == tree_snapshot(source_tree.root)
    for f in result.files:
        assert f.hash == QuickXorHash((source_tree.root / f.path).read_bytes()).b64digest()
    assert not [n for n in os.listdir(destination_root) if n.startswith(".mobilise-")]
    again = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    assert again.count(Outcome.SKIPPED) == 60


def test_large_files_and_wrapped_backends_take_the_general_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    dest.mkdir()
    (source / "big.bin").write_bytes(os.urandom(SMALL_FILE + 1))
    (source / "small.txt").write_bytes(b"small")

    class Wrapped(LocalBackend):
        pass

    sizes = batched(monkeypatch)
    result = sync_person(local(source), local(dest), options=FAST)
    assert sizes == [1] and result.count(Outcome.COPIED) == 2
    sizes.clear()
    (source / "other.txt").write_bytes(b"other")
    sync_person(Wrapped(source, durable=False), local(dest), options=FAST)
    assert sizes == []
    assert verify_person(local(source), local(dest)).ok


def test_a_source_changed_while_its_batch_runs_is_not_verified_and_moves_next_round(
        source_tree: GuardedTree, destination_root: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    victim = sorted(p for p in tree_snapshot(source_tree.root)
                    if p.startswith("Documents/file-"))[0]
    original = localcopy._write_one

    def write_then_change(item: Any, partial: str, durable: bool) -> bool:
        written = original(item, partial, durable)
        if item.planned.path == victim:
            (source_tree.root / victim).write_bytes(b"edited meanwhile")
        return written

    monkeypatch.setattr(localcopy, "_write_one", write_then_change)
    source = local(source_tree.root)
    path = journal_path(tmp_path, "p", "r")
    with Journal(path) as journal:
        first = sync_person(source, local(destination_root), journal=journal, options=FAST)
    source_tree.accept_change()
    outcomes = {f.path: f for f in first.files}
    assert outcomes[victim].outcome is Outcome.SOURCE_CHANGED
    assert outcomes[victim].hash is None
    assert not first.complete
    assert {r.path: r.outcome for r in read_journal(path)}[victim] == "source_changed"
    monkeypatch.setattr(localcopy, "_write_one", original)
    second = sync_person(source, local(destination_root), options=FAST)
    assert {f.path: f.outcome for f in second.files}[victim] is Outcome.COPIED
    assert (destination_root / victim).read_bytes() == b"edited meanwhile"
    assert verify_person(source, local(destination_root)).ok


def test_a_file_changed_between_listing_and_reading_is_left_for_the_next_round(
        tmp_path: Path) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    dest.mkdir()
    (source / "a.txt").write_bytes(b"listed")
    backend = local(source)
    entry = backend.stat("a.txt")
    (source / "a.txt").write_bytes(b"changed after the listing")
    planned = PlannedFile(entry, "a.txt", "main", Step.COPY_NEW)
    batches, rest = localcopy.batches(backend, {"main": local(dest)}, [planned])
    assert rest == []
    result = localcopy.copy_batch(batches[0])
    assert [f.outcome for f in result.done] == [Outcome.SOURCE_CHANGED]
    assert not (dest / "a.txt").exists()


def test_a_copy_that_reads_back_wrong_is_handed_to_the_general_copier(
        source_tree: GuardedTree, destination_root: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = localcopy.quickxor_b64_many
    calls = {"n": 0}

    def wrong_on_read_back(buffers: list[bytes]) -> list[str]:
        calls["n"] += 1
        digests = original(buffers)
        # Every second call hashes what arrived: say the first copy arrived different.
        if calls["n"] % 2 == 0 and digests:
            digests[0] = "A" * 27 + "="
        return digests

    monkeypatch.setattr(localcopy, "quickxor_b64_many", wrong_on_read_back)
    fallback: list[str] = []
    original_copy = localcopy.copy_batch

    def recording(batch: localcopy.Batch, **options: Any) -> localcopy.BatchResult:
        outcome = original_copy(batch, **options)
        fallback.extend(p.path for p in outcome.fallback)
        return outcome

    monkeypatch.setattr(localcopy, "copy_batch", recording)
    result = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    assert fallback and result.count(Outcome.COPIED) == 60
    assert verify_person(local(source_tree.root), local(destination_root)).ok


def test_links_and_folders_in_the_way_are_reported_by_the_general_path(
        tmp_path: Path) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    (source / "docs").mkdir(parents=True)
    dest.mkdir()
    (source / "docs" / "a.txt").write_bytes(b"a")
    (source / "docs" / "b.txt").write_bytes(b"b")
    (dest / "docs" / "b.txt").mkdir(parents=True)  # a folder where a file must go
    result = sync_person(local(source), local(dest), options=FAST)
    outcomes = {f.path: f for f in result.files}
    assert outcomes["docs/a.txt"].outcome is Outcome.COPIED
    assert outcomes["docs/b.txt"].outcome is Outcome.FAILED
    assert "KindMismatch" in (outcomes["docs/b.txt"].reason or "")


def test_a_file_swapped_for_a_link_after_listing_is_never_followed(tmp_path: Path) -> None:
    source, dest, secret = tmp_path / "src", tmp_path / "dst", tmp_path / "secret.txt"
    source.mkdir()
    dest.mkdir()
    secret.write_bytes(b"outside the drive")
    (source / "a.txt").write_bytes(b"a")
    backend = local(source)
    planned = PlannedFile(backend.stat("a.txt"), "a.txt", "main", Step.COPY_NEW)
    (source / "a.txt").unlink()
    (source / "a.txt").symlink_to(secret)
    batches, _ = localcopy.batches(backend, {"main": local(dest)}, [planned])
    result = localcopy.copy_batch(batches[0])
    assert result.done == [] and [p.path for p in result.fallback] == ["a.txt"]
    assert not (dest / "a.txt").exists()


def test_batches_group_by_folder_and_respect_the_limits(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    dest.mkdir()
    make_tree(source, 200, seed=9)
    monkeypatch.setattr(localcopy, "BATCH_FILES", 30)
    monkeypatch.setattr(localcopy, "BATCH_FOLDERS", 2)
    backend = local(source)
    planned = [PlannedFile(backend.stat(p), p, "main", Step.COPY_NEW)
               for p in tree_snapshot(source) if p.endswith(".dat")]
    batches, rest = localcopy.batches(backend, {"main": local(dest)}, planned)
    assert rest == []
    assert sorted(p.path for b in batches for p in b.files) == sorted(p.path for p in planned)
    for batch in batches:
        assert len(batch.files) <= 30 and len(batch.folders) <= 2
        for folder in batch.folders:
            assert {p.path.rpartition("/")[0] for p in folder.files} == {folder.source_folder}


def test_the_journal_takes_one_write_per_batch_and_survives_a_torn_batch(
        tmp_path: Path) -> None:
    from mobilise.migration.journal import Record

    path = tmp_path / "j.jsonl"
    with Journal(path) as journal:
        journal.append_many([Record(path=f"f{i}", outcome="copied", size=i) for i in range(5)])
        journal.append_many([])
    with open(path, "ab") as raw:
        raw.write(b'{"path":"torn","outc')  # a crash in the middle of the next batch
    with Journal(path) as journal:
        journal.append_many([Record(path="after", outcome="copied")])
    assert [r.path for r in read_journal(path)] == ["f0", "f1", "f2", "f3", "f4", "after"]


def test_the_collector_is_paused_while_syncs_run_and_restored_after() -> None:
    import gc

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # someone else's choice is kept
    finally:
        gc.enable()


def test_large_files_are_copied_by_the_kernel_verified_with_their_times(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    (source / "big").mkdir(parents=True)
    dest.mkdir()
    data = os.urandom(SMALL_FILE + 12345)
    (source / "big" / "a.bin").write_bytes(data)
    os.utime(source / "big" / "a.bin", ns=(1_600_000_000_123_456_789,) * 2)
    snapshot = tree_snapshot(source)
    kernel: list[int] = []
    original = os.copy_file_range

    def counting(*args: Any) -> int:
        kernel.append(args[2])
        return original(*args)

    monkeypatch.setattr(os, "copy_file_range", counting)
    for verify in (True, False):
        target = dest / str(verify)
        target.mkdir()
        result = sync_person(local(source), local(target),
                             options=SyncOptions(verify=verify))
        [copied] = result.files
        assert copied.outcome is Outcome.COPIED
        assert copied.hash == (QuickXorHash(data).b64digest() if verify else None)
        assert (target / "big" / "a.bin").read_bytes() == data
        assert (target / "big" / "a.bin").stat().st_mtime_ns == 1_600_000_000_123_456_000
    assert kernel
    assert tree_snapshot(source) == snapshot


def test_a_large_copy_the_kernel_cannot_make_goes_the_general_way(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    dest.mkdir()
    data = os.urandom(SMALL_FILE * 2)
    (source / "a.bin").write_bytes(data)

    def refuse(*args: Any) -> int:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", refuse)
    result = sync_person(local(source), local(dest), options=FAST)
    assert [f.outcome for f in result.files] == [Outcome.COPIED]
    assert (dest / "a.bin").read_bytes() == data
    assert not [n for n in os.listdir(dest) if n.startswith(".mobilise-")]


def test_a_large_source_changed_while_the_kernel_copies_it_is_not_verified(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source, dest = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    dest.mkdir()
    (source / "a.bin").write_bytes(os.urandom(SMALL_FILE * 2))
    original = os.copy_file_range

    def copy_then_edit(*args: Any) -> int:
        count = original(*args)
        with open(source / "a.bin", "r+b") as edit:
            edit.write(b"edited")
        return count

    monkeypatch.setattr(os, "copy_file_range", copy_then_edit)
    result = sync_person(local(source), local(dest), options=FAST)
    assert [(f.outcome, f.hash) for f in result.files] == [(Outcome.SOURCE_CHANGED, None)]
    monkeypatch.setattr(os, "copy_file_range", original)
    again = sync_person(local(source), local(dest), options=FAST)
    assert [f.outcome for f in again.files] == [Outcome.COPIED]
    assert (dest / "a.bin").read_bytes() == (source / "a.bin").read_bytes()


def test_overlapping_syncs_still_collect_now_and_then(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from mobilise.migration import sync

    collected: list[int] = []
    monkeypatch.setattr(gc, "collect", lambda *a: collected.append(1) or 0)
    monkeypatch.setattr(sync, "COLLECT_AT_LEAST_EVERY", 0.0)
    with collector_paused():
        with collector_paused():
            pass  # another sync is still running: the collector stays off, but runs once
        assert collected == [1] and not gc.isenabled()
    assert gc.isenabled()


def test_copying_and_verifying_leave_the_sources_last_access_as_it_was(
        tmp_path: Path) -> None:
    """A retention rule archives files "not opened for six years": a copy that refreshed
    their access times would turn the next round's decision to migrate (the sweep after
    cutover then copied 744 archived demo files into OneDrive). Both paths, batched small
    files and kernel-copied large ones, and the verification read the source."""
    source, dest = tmp_path / "src", tmp_path / "dst"
    source.mkdir()
    dest.mkdir()
    (source / "big.bin").write_bytes(os.urandom(SMALL_FILE + 1))
    (source / "small.txt").write_bytes(b"small")
    accessed, modified = 1_420_070_400 * 10**9, 1_451_606_400 * 10**9  # 2015, 2016
    for name in ("big.bin", "small.txt"):
        os.utime(source / name, ns=(accessed, modified))
    result = sync_person(local(source), local(dest), options=FAST)
    assert result.count(Outcome.COPIED) == 2
    assert verify_person(local(source), local(dest)).ok
    assert {os.stat(source / n).st_atime_ns for n in ("big.bin", "small.txt")} == {accessed}
