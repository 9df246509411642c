from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, BinaryIO

from mobilise.migration.files import Disposition, Outcome
from mobilise.migration.journal import Journal, journal_path, read_journal, verified_hashes
from mobilise.migration.sync import AdaptiveLimit, SyncOptions, remediated_path, sync_person
from mobilise.migration.verify import verify_person
from mobilise.storage.base import StorageError
from mobilise.storage.local import LocalBackend
from mobilise.storage.quickxor import QuickXorHash
from tests.migration.conftest import GuardedTree, tree_snapshot

FAST = SyncOptions(concurrency=4, max_concurrency=8, stale_partial_after=timedelta(0))


def local(root: Path) -> LocalBackend:
    return LocalBackend(root, durable=False)


def files_under(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder) / name
            out[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mtime_ns)
    return out


def test_first_round_copies_everything_with_times_and_second_round_skips(
        source_tree: GuardedTree, destination_root: Path) -> None:
    first = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    assert first.count(Outcome.COPIED) == 60 and first.complete
    assert files_under(destination_root) == files_under(source_tree.root)
    second = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    assert second.count(Outcome.SKIPPED) == 60
    assert second.count(Outcome.COPIED) == 0


def test_every_copy_carries_the_quickxorhash_of_its_content(
        source_tree: GuardedTree, destination_root: Path) -> None:
    result = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    for f in result.files:
        data = (source_tree.root / f.path).read_bytes()
        assert f.hash == QuickXorHash(data).b64digest()


def test_changed_file_is_copied_destination_newer_and_only_are_left_alone(
        source_tree: GuardedTree, destination_root: Path) -> None:
    sync_person(local(source_tree.root), local(destination_root), options=FAST)
    names = sorted(files_under(source_tree.root))
    changed, newer = names[0], names[1]
    (source_tree.root / changed).write_bytes(b"new content")
    source_tree.accept_change()
    (destination_root / newer).write_bytes(b"edited in OneDrive after the pre-seed")
    os.utime(destination_root / newer, (4_000_000_000, 4_000_000_000))
    (destination_root / "made-in-onedrive.txt").write_bytes(b"mine")
    result = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    outcomes = {f.path: f.outcome for f in result.files}
    assert outcomes[changed] is Outcome.COPIED
    assert outcomes[newer] is Outcome.DESTINATION_NEWER
    assert outcomes["made-in-onedrive.txt"] is Outcome.DESTINATION_ONLY
    assert (destination_root / changed).read_bytes() == b"new content"
    assert (destination_root / newer).read_bytes() == b"edited in OneDrive after the pre-seed"
    assert (destination_root / "made-in-onedrive.txt").read_bytes() == b"mine"


def test_renames_dispositions_links_and_collisions(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "Bad:Folder").mkdir(parents=True)
    (source / "Bad:Folder" / "a.txt").write_bytes(b"a")
    (source / "report?.doc").write_bytes(b"r")
    (source / "old.pst").write_bytes(b"archive me")
    (source / "draft.doc").write_bytes(b"review me")
    (source / "junk.tmp").write_bytes(b"dispose")
    (source / "Clash.txt").write_bytes(b"1")
    (source / "other.txt").write_bytes(b"2")
    (source / "undecided.txt").write_bytes(b"?")
    os.symlink("/etc/passwd", source / "link")
    before = tree_snapshot(source)
    main, archive = tmp_path / "main", tmp_path / "archive"
    main.mkdir()
    archive.mkdir()
    renames = {"Bad:Folder": "Bad_Folder", "report?.doc": "report_.doc", "other.txt": "clash.TXT"}
    dispositions = {
        "Bad:Folder/a.txt": "migrate", "report?.doc": "migrate", "old.pst": "archive",
        "draft.doc": "review", "junk.tmp": "dispose", "Clash.txt": "migrate",
        "other.txt": "migrate", "link": "migrate",
    }
    result = sync_person(local(source), local(main), archive=local(archive),
                         dispositions=dispositions, renames=renames, options=FAST)
    by_path = {f.path: f for f in result.files}
    assert by_path["Bad:Folder/a.txt"].dest_path == "Bad_Folder/a.txt"
    assert (main / "Bad_Folder" / "a.txt").read_bytes() == b"a"
    assert (main / "report_.doc").read_bytes() == b"r"
    assert (archive / "old.pst").read_bytes() == b"archive me"
    assert not (main / "old.pst").exists()
    assert by_path["draft.doc"].outcome is Outcome.WAITING
    assert by_path["undecided.txt"].outcome is Outcome.WAITING
    assert by_path["junk.tmp"].outcome is Outcome.NOT_MOVED
    assert by_path["link"].outcome is Outcome.NOT_MOVED
    assert sorted(p.name for p in main.iterdir()) == ["Bad_Folder", "Clash.txt", "report_.doc"]
    assert by_path["other.txt"].outcome is Outcome.NOT_MOVED
    assert "collides" in (by_path["other.txt"].reason or "")
    assert tree_snapshot(source) == before


def test_remediated_path_applies_every_renamed_segment() -> None:
    renames = {"a:b": "a_b", "a:b/c|d": "a:b/c_d", "a:b/c|d/e?.txt": "a:b/c|d/e_.txt"}
    assert remediated_path("a:b/c|d/e?.txt", renames) == "a_b/c_d/e_.txt"
    assert remediated_path("a:b/c|d/f.txt", renames) == "a_b/c_d/f.txt"
    assert remediated_path("a:b/x.txt", renames) == "a_b/x.txt"
    assert remediated_path("plain/x.txt", renames) == "plain/x.txt"


class ChangingSource(LocalBackend):
    """Writes to one file while the sync is reading it, as a person saving a document
    during the pre-seed would."""

    def __init__(self, root: Path, victim: str) -> None:
        super().__init__(root, durable=False)
        self.victim = victim
        self.changed = False

    def open_read(self, path: str) -> BinaryIO:
        stream = super().open_read(path)
        if path == self.victim and not self.changed:
            self.changed = True
            full = Path(self.root) / path
            with open(full, "r+b") as f:  # same size, different content, new time
                f.write(b"X" * min(10, full.stat().st_size))
            os.utime(full, (2_000_000_000, 2_000_000_000))
        return stream


def test_a_file_changed_during_its_upload_is_not_verified_and_moves_next_round(
        source_tree: GuardedTree, destination_root: Path, tmp_path: Path) -> None:
    victim = max(files_under(source_tree.root).items(), key=lambda kv: len(kv[1][0]))[0]
    source = ChangingSource(source_tree.root, victim)
    with Journal(journal_path(tmp_path, "p1", "pre-seed")) as journal:
        first = sync_person(source, local(destination_root), journal=journal, options=FAST)
    source_tree.accept_change()
    outcome = {f.path: f for f in first.files}[victim]
    assert outcome.outcome is Outcome.SOURCE_CHANGED
    assert not first.complete
    records = [r for r in read_journal(journal_path(tmp_path, "p1", "pre-seed"))
               if r.path == victim]
    assert [r.outcome for r in records] == ["source_changed"] and records[0].hash is None
    second = sync_person(source, local(destination_root), options=FAST)
    assert {f.path: f.outcome for f in second.files}[victim] is Outcome.COPIED
    assert (destination_root / victim).read_bytes() == (source_tree.root / victim).read_bytes()
    assert verify_person(source, local(destination_root)).ok


class Throttled(StorageError):
    retryable = True
    retry_after = 0.001


class ThrottlingDestination(LocalBackend):
    """Answers every third write with a throttling error, as Graph does with a 429."""

    def __init__(self, root: Path) -> None:
        super().__init__(root, durable=False)
        self.calls = 0
        self.lock = threading.Lock()

    def write(self, path: str, stream: BinaryIO, size: int, **times: Any) -> Any:
        with self.lock:
            self.calls += 1
            throttle = self.calls % 3 == 0
        if throttle:
            stream.read(min(size, 100))  # a partly sent body, as a reset connection leaves
            raise Throttled("429 Too Many Requests")
        return super().write(path, stream, size, **times)


def test_throttled_migration_slows_down_and_every_file_verifies(
        source_tree: GuardedTree, destination_root: Path) -> None:
    options = SyncOptions(concurrency=8, max_concurrency=8, max_attempts=10)
    result = sync_person(local(source_tree.root), ThrottlingDestination(destination_root),
                         options=options)
    assert result.count(Outcome.COPIED) == 60
    assert result.throttle_events >= 20
    assert result.final_concurrency < 8
    assert verify_person(local(source_tree.root), local(destination_root)).ok


def test_adaptive_limit_halves_on_throttling_and_grows_slowly() -> None:
    limit = AdaptiveLimit(8, 16)
    limit.throttled()
    assert limit.limit == 4
    limit.throttled()
    limit.throttled()
    limit.throttled()
    assert limit.limit == 1
    for _ in range(4):
        limit.succeeded()
    assert limit.limit == 2
    for _ in range(7):
        limit.succeeded()
    assert limit.limit == 2


def test_verification_catches_a_corrupted_copy_and_the_next_round_repairs_a_missing_one(
        source_tree: GuardedTree, destination_root: Path) -> None:
    sync_person(local(source_tree.root), local(destination_root), options=FAST)
    names = sorted(n for n, (data, _) in files_under(source_tree.root).items() if len(data) > 20)
    corrupt, missing = names[0], names[1]
    target = destination_root / corrupt
    times = target.stat()
    data = bytearray(target.read_bytes())
    data[5] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(times.st_atime_ns, times.st_mtime_ns))  # silent corruption
    (destination_root / missing).unlink()
    check = verify_person(local(source_tree.root), local(destination_root))
    assert {p.path for p in check.problems} == {corrupt, missing}
    assert len(check.verified) == 58
    again = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    assert again.count(Outcome.COPIED) == 1  # the missing one; the corrupt one looks equal
    assert {p.path for p in verify_person(local(source_tree.root),
                                          local(destination_root)).problems} == {corrupt}


def test_journal_tolerates_a_torn_last_record_and_feeds_verification(
        source_tree: GuardedTree, destination_root: Path, tmp_path: Path) -> None:
    path = journal_path(tmp_path, "p1", "pre-seed")
    with Journal(path) as journal:
        sync_person(local(source_tree.root), local(destination_root), journal=journal,
                    options=FAST)
    with open(path, "ab") as f:
        f.write(b'{"path": "torn", "outc')
    assert len(list(read_journal(path))) == 60
    with Journal(path) as journal:  # a writer after a crash starts on a fresh line
        journal.append(read_journal(path).__next__())
    assert len(list(read_journal(path))) == 61
    known = verified_hashes(tmp_path, "p1")
    assert len(known) == 60

    class NoReread(LocalBackend):
        def open_read(self, p: str) -> BinaryIO:
            raise AssertionError("the journal should have saved re-reading the source")

    check = verify_person(NoReread(source_tree.root), local(destination_root),
                          known_hashes=known)
    assert check.ok and len(check.verified) == 60


def test_shards_sync_only_their_folders(source_tree: GuardedTree,
                                        destination_root: Path) -> None:
    result = sync_person(local(source_tree.root), local(destination_root),
                         under=["Documents"], options=FAST)
    assert result.files and all(f.path.startswith("Documents/") for f in result.files)
    assert not (destination_root / "Pictures").exists()


def test_dispose_files_never_move_and_review_files_wait(
        source_tree: GuardedTree, destination_root: Path) -> None:
    names = sorted(files_under(source_tree.root))
    dispositions = {n: Disposition.MIGRATE for n in names}
    dispositions[names[0]] = Disposition.DISPOSE
    dispositions[names[1]] = Disposition.REVIEW
    result = sync_person(local(source_tree.root), local(destination_root),
                         dispositions=dispositions, options=FAST)
    assert result.count(Outcome.COPIED) == 58
    assert not (destination_root / names[0]).exists()
    assert not (destination_root / names[1]).exists()
    check = verify_person(local(source_tree.root), local(destination_root),
                          dispositions=dispositions)
    assert check.ok and [w.path for w in check.waiting] == [names[1]]


def test_shards_together_cover_the_drive_exactly_once(
        source_tree: GuardedTree, destination_root: Path) -> None:
    from mobilise.migration.sync import plan_shards

    shards = plan_shards(local(source_tree.root), max_files=15)
    assert len(shards) >= 3
    seen: list[str] = []
    for shard in shards:
        result = sync_person(local(source_tree.root), local(destination_root), under=shard,
                             options=FAST)
        seen += [f.path for f in result.files]
    assert sorted(seen) == sorted(files_under(source_tree.root))
    assert files_under(destination_root) == files_under(source_tree.root)


def test_own_copy_left_without_its_times_is_repaired_but_a_truly_newer_file_is_not(
        source_tree: GuardedTree, destination_root: Path) -> None:
    sync_person(local(source_tree.root), local(destination_root), options=FAST)
    names = sorted(files_under(source_tree.root))
    same, edited = names[2], names[3]
    os.utime(destination_root / same, (4_000_000_000, 4_000_000_000))  # times never set
    (destination_root / edited).write_bytes(b"edited later in OneDrive")
    os.utime(destination_root / edited, (4_000_000_000, 4_000_000_000))
    result = sync_person(local(source_tree.root), local(destination_root), options=FAST)
    outcomes = {f.path: f.outcome for f in result.files}
    assert outcomes[same] is Outcome.COPIED and outcomes[edited] is Outcome.DESTINATION_NEWER
    assert (destination_root / same).stat().st_mtime_ns == \
        (source_tree.root / same).stat().st_mtime_ns
    assert (destination_root / edited).read_bytes() == b"edited later in OneDrive"


def test_remediation_mapping_from_the_drive_assessment_renames_at_the_destination(
        tmp_path: Path) -> None:
    from mobilise.drives.assess import Action as DriveAction
    from mobilise.drives.remediate import MappingRow, write_mapping
    from mobilise.migration.decisions import remediation_renames

    source = tmp_path / "home"
    (source / "Case: 12").mkdir(parents=True)
    (source / "Case: 12" / "notes?.txt").write_bytes(b"n")
    (source / "ok.txt").write_bytes(b"o")
    rows = [MappingRow("100000", 2, b"Case: 12", "Case: 12", DriveAction.RENAME, "Case_ 12",
                       ("invalid_character",), "':' is not allowed"),
            MappingRow("100000", 3, b"Case: 12/notes?.txt", "Case: 12/notes?.txt",
                       DriveAction.RENAME, "notes_.txt", ("invalid_character",), "'?'")]
    write_mapping(rows, tmp_path / "data", "100000", "scan-1")
    renames = remediation_renames(tmp_path / "data", "100000")
    dest = tmp_path / "onedrive"
    dest.mkdir()
    result = sync_person(local(source), local(dest), renames=renames, options=FAST)
    assert result.count(Outcome.COPIED) == 2
    assert (dest / "Case_ 12" / "notes_.txt").read_bytes() == b"n"
    assert (dest / "ok.txt").exists()
