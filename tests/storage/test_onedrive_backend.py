"""The onedrive backend against the emulator over HTTPS."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mobilise.emulator.server import EmulatorProcess
from mobilise.graph import DriveNotProvisioned, PathTooLong, QuotaExceeded
from mobilise.storage.base import (
    Backend,
    Capability,
    EntryExists,
    EntryKind,
    EntryNotFound,
    NameRejected,
)
from mobilise.storage.onedrive import (
    FolderNotEmpty,
    HashMismatch,
    OneDriveBackend,
    SizeMismatch,
    UploadJournal,
    first_expected,
)
from tests.storage.onedrive_fixture import (
    emulator_settings,
    fresh_upn,
    make_client,
    make_onedrive_backend,
    onedrive_emulator,
    request_log,
    set_faults,
)
from tests.storage.quickxor_reference import quickxor_b64

__all__ = ["onedrive_emulator"]
UNIT = 327_680
MODIFIED = datetime(2021, 6, 7, 8, 9, 10, tzinfo=UTC)
CREATED = datetime(2019, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.fixture
def backend(onedrive_emulator: EmulatorProcess, tmp_path: Path) -> OneDriveBackend:
    set_faults(onedrive_emulator)
    return make_onedrive_backend(onedrive_emulator, tmp_path / "journal",
                                 fragment_size=UNIT, simple_upload_limit=4 * UNIT)


def test_is_a_backend_with_its_capabilities(backend: OneDriveBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.capabilities == {Capability.NATIVE_HASH, Capability.QUOTA,
                                    Capability.DELTA, Capability.RESUMABLE_UPLOAD,
                                    Capability.CREATED_TIME}


def test_fragment_size_must_follow_the_rules(onedrive_emulator: EmulatorProcess,
                                             tmp_path: Path) -> None:
    for bad in (UNIT + 1, 60 * 1024 * 1024):
        with pytest.raises(ValueError):
            make_onedrive_backend(onedrive_emulator, tmp_path, fragment_size=bad)


def test_not_provisioned(onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    backend = OneDriveBackend(make_client(onedrive_emulator), fresh_upn(), journal_dir=tmp_path)
    with pytest.raises(DriveNotProvisioned):
        backend.stat("")


@pytest.mark.parametrize("size", [0, 1, 1000, 4 * UNIT, 4 * UNIT + 1, 7 * UNIT + 123])
@pytest.mark.parametrize("timestamps", [True, False])
def test_round_trip(backend: OneDriveBackend, size: int, timestamps: bool) -> None:
    data = os.urandom(size)
    times = {"modified": MODIFIED, "created": CREATED} if timestamps else {}
    entry = backend.write("Docs/Sub/file.bin", io.BytesIO(data), size, **times)
    assert entry.size == size and entry.kind is EntryKind.FILE
    assert entry.hashes == {"quickxor": quickxor_b64(data)}
    if timestamps:
        assert (entry.modified, entry.created) == (MODIFIED, CREATED)
    assert backend.open_read("Docs/Sub/file.bin").read() == data
    assert backend.stat("Docs/Sub/file.bin") == entry


def test_replace_keeps_one_file(backend: OneDriveBackend) -> None:
    backend.write("a.txt", io.BytesIO(b"one"), 3)
    backend.write("a.txt", io.BytesIO(b"second"), 6, modified=MODIFIED)
    assert [(e.name, e.size) for e in backend.list("")] == [("a.txt", 6)]
    big = os.urandom(3 * UNIT)
    backend.write("a.txt", io.BytesIO(big), len(big), modified=MODIFIED)
    assert backend.open_read("a.txt").read() == big


def test_folders_list_and_remove(backend: OneDriveBackend) -> None:
    folder = backend.mkdir("One/Two")
    assert folder.kind is EntryKind.FOLDER
    assert backend.mkdir("One/Two").id == folder.id   # existing folder is fine
    backend.write("One/Two/x.txt", io.BytesIO(b"x"), 1)
    backend.write("One/y.txt", io.BytesIO(b"yy"), 2)
    listed = {(e.path, e.kind) for e in backend.list("One")}
    assert listed == {("One/Two", EntryKind.FOLDER), ("One/y.txt", EntryKind.FILE)}
    with pytest.raises(FolderNotEmpty):
        backend.remove("One/Two")
    backend.remove("One/Two/x.txt")
    backend.remove("One/Two")
    with pytest.raises(EntryNotFound):
        backend.stat("One/Two")
    with pytest.raises(EntryExists):
        backend.mkdir("One/y.txt")
    # the folder can come back after removal (the backend's folder cache was dropped)
    backend.write("One/Two/z.txt", io.BytesIO(b"z"), 1)


def test_set_times(backend: OneDriveBackend) -> None:
    backend.write("t.txt", io.BytesIO(b"t"), 1)
    backend.set_times("t.txt", modified=MODIFIED, created=CREATED)
    entry = backend.stat("t.txt")
    assert (entry.modified, entry.created) == (MODIFIED, CREATED)


def test_listing_pages(backend: OneDriveBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("mobilise.storage.onedrive.LIST_PAGE", 3)
    for i in range(8):
        backend.write(f"Many/{i}.txt", io.BytesIO(b"x"), 1)
    assert sorted(e.name for e in backend.list("Many")) == [f"{i}.txt" for i in range(8)]


def test_full_listing_through_delta(backend: OneDriveBackend) -> None:
    expected = {}
    for path in ("a.txt", "A/b.txt", "A/B/c.txt", "Z/d.txt"):
        data = os.urandom(50)
        backend.write(path, io.BytesIO(data), len(data))
        expected[path] = quickxor_b64(data)
    first = backend.delta(None)
    files = {e.path: e.hashes["quickxor"] for e in first.entries if e.kind is EntryKind.FILE}
    folders = {e.path for e in first.entries if e.kind is EntryKind.FOLDER}
    assert files == expected and folders == {"A", "A/B", "Z"}
    assert {e.path for e in backend.list_all()} == set(files) | folders
    removed_id = backend.stat("Z/d.txt").id
    backend.remove("Z/d.txt")
    backend.write("A/B/new.txt", io.BytesIO(b"n"), 1)
    later = backend.delta(first.token)
    assert removed_id in later.removed and not later.resynced
    assert "A/B/new.txt" in {e.path for e in later.entries}
    stale = backend.delta("999999999")
    assert stale.resynced and "A/B/new.txt" in {e.path for e in stale.entries}


def test_quota(onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    backend = make_onedrive_backend(onedrive_emulator, tmp_path, quota=10_000)
    backend.write("f", io.BytesIO(b"x" * 9_500), 9_500)
    quota = backend.quota()
    assert (quota.total, quota.used, quota.remaining, quota.state) == (10_000, 9_500, 500,
                                                                       "nearing")
    with pytest.raises(QuotaExceeded):
        backend.write("g", io.BytesIO(b"x" * 600), 600, modified=MODIFIED)


def test_bad_names_and_paths(backend: OneDriveBackend) -> None:
    for name in ("CON", "a|b", "trailing.", "~$lock.docx"):
        with pytest.raises(NameRejected):
            backend.write(f"ok/{name}", io.BytesIO(b"x"), 1)
    with pytest.raises(PathTooLong):
        backend.write("/".join(["d" * 200, "e" * 200]), io.BytesIO(b"x"), 1)
    with pytest.raises(NameRejected):
        backend.write(os.fsdecode(b"bad-\xff.txt"), io.BytesIO(b"x"), 1)


class CorruptingTransport(httpx.HTTPTransport):
    """Flips one byte of every fragment on its way to the service."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT" and "/_upload/" in request.url.path:
            body = bytearray(request.read())
            body[0] ^= 0xFF
            request = httpx.Request(request.method, request.url, headers=request.headers,
                                    content=bytes(body))
        return super().handle_request(request)


def test_hash_mismatch_is_detected(onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    settings = emulator_settings(onedrive_emulator)
    transport = CorruptingTransport(verify=onedrive_emulator.tls())
    client = make_client(onedrive_emulator, transport=transport)
    assert client.settings.graph_ca_bundle == settings.graph_ca_bundle
    backend = make_onedrive_backend(onedrive_emulator, tmp_path, client=client,
                                    fragment_size=UNIT)
    with pytest.raises(HashMismatch):
        backend.write("bent.bin", io.BytesIO(b"a" * 1000), 1000, modified=MODIFIED)


def test_expired_session_in_the_journal_starts_again(
        onedrive_emulator: EmulatorProcess, backend: OneDriveBackend) -> None:
    data = os.urandom(3 * UNIT)
    key = UploadJournal.key(backend.drive_id, "late.bin", len(data), MODIFIED)
    backend.journal.save(key, {"uploadUrl": f"{onedrive_emulator.file_url}/_upload/gone"})
    entry = backend.write("late.bin", io.BytesIO(data), len(data), modified=MODIFIED)
    assert entry.hashes["quickxor"] == quickxor_b64(data)
    assert backend.journal.load(key) is None


class CuttingTransport(httpx.HTTPTransport):
    """Delivers chosen fragments, then loses the service's answer, once each: the
    service acted, the client cannot know."""

    def __init__(self, cut_starts: set[int], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.cut_starts = set(cut_starts)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        content_range = request.headers.get("content-range", "")
        if request.method == "PUT" and content_range:
            start = int(content_range.split()[1].split("-")[0])
            if start in self.cut_starts:
                self.cut_starts.discard(start)
                response.read()
                raise httpx.RemoteProtocolError("answer lost", request=request)
        return response


def test_lost_answers_to_fragments_are_worked_out(
        onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    transport = CuttingTransport({UNIT, 2 * UNIT}, verify=onedrive_emulator.tls())
    client = make_client(onedrive_emulator, transport=transport)
    backend = make_onedrive_backend(onedrive_emulator, tmp_path, client=client,
                                    fragment_size=UNIT)
    data = os.urandom(3 * UNIT)
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    entry = backend.write("cut.bin", io.BytesIO(data), len(data), modified=MODIFIED)
    assert entry.hashes["quickxor"] == quickxor_b64(data)
    assert backend.open_read("cut.bin").read() == data
    log = [(r["method"], r["status"]) for r in request_log(onedrive_emulator)
           if r["path"].startswith("/_upload/")]
    # fragment 2 arrived, its answer was lost, the retry was told 416, the status said go on;
    # the last fragment completed the file, its retry found no session, the file was there.
    assert log == [("PUT", 202), ("PUT", 202), ("PUT", 416), ("GET", 200), ("PUT", 201),
                   ("PUT", 404)]
    assert not list(backend.journal.folder.glob("*.json"))


def test_first_expected() -> None:
    assert first_expected(["26-"]) == 26
    assert first_expected(["77829-99375", "12345-55232"]) == 12345
    assert first_expected([]) is None


def test_request_log_records_fragments(onedrive_emulator: EmulatorProcess,
                                       backend: OneDriveBackend) -> None:
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    data = os.urandom(3 * UNIT)
    backend.write("logged.bin", io.BytesIO(data), len(data), modified=MODIFIED)
    ranges = [r["content_range"] for r in request_log(onedrive_emulator)
              if r["method"] == "PUT" and r["path"].startswith("/_upload/")]
    assert ranges == [f"bytes {i * UNIT}-{(i + 1) * UNIT - 1}/{3 * UNIT}" for i in range(3)]


def test_backend_contract_edges(backend: OneDriveBackend) -> None:
    backend.write("file.txt", io.BytesIO(b"old"), 3)
    with pytest.raises(EntryNotFound):
        list(backend.list("file.txt"))
    with pytest.raises(EntryNotFound):
        backend.stat("file.txt/below")
    backend.mkdir("folder")
    with pytest.raises(EntryExists):
        backend.write("folder", io.BytesIO(b"x"), 1)
    for path in ("../escape", "a/./b", "a//b"):
        with pytest.raises(NameRejected):
            backend.write(path, io.BytesIO(b"x"), 1)


@pytest.mark.parametrize("size", [10, 3 * UNIT])
def test_short_stream_leaves_the_old_file(backend: OneDriveBackend, size: int) -> None:
    backend.write("keep.bin", io.BytesIO(b"old"), 3)
    with pytest.raises(SizeMismatch):
        backend.write("keep.bin", io.BytesIO(b"s" * (size - 1)), size, modified=MODIFIED)
    assert backend.open_read("keep.bin").read() == b"old"
    assert backend.journal.pending() == []


@pytest.mark.parametrize("size", [3, 2 * UNIT])
def test_long_stream_leaves_the_old_file(backend: OneDriveBackend, size: int) -> None:
    backend.write("keep.bin", io.BytesIO(b"old"), 3)
    with pytest.raises(SizeMismatch):
        backend.write("keep.bin", io.BytesIO(b"l" * (size + 1)), size, modified=MODIFIED)
    assert backend.open_read("keep.bin").read() == b"old"


class Trickle(io.RawIOBase):
    """Hands out at most 1,000 bytes per read, like a network body."""

    def __init__(self, data: bytes) -> None:
        self.inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self.inner.read(min(size, 1000) if size >= 0 else 1000)


def test_short_reads_are_not_short_streams(backend: OneDriveBackend) -> None:
    data = os.urandom(2 * UNIT + 5)
    for times in ({}, {"modified": MODIFIED}):
        entry = backend.write("trickle.bin", Trickle(data), len(data), **times)  # type: ignore[arg-type]
        assert entry.hashes["quickxor"] == quickxor_b64(data)


@pytest.mark.parametrize("name", ["50% off #1 & co.txt", "naïve résumé.docx", "日本語 ノート.txt",
                                  "a+b=c;d,e'f.txt", "[brackets] {braces} (parens).md",
                                  "emoji 📁.txt", "dots.in.the.middle.txt"])
def test_odd_names_round_trip(backend: OneDriveBackend, name: str) -> None:
    backend.write(f"Odd {name}/{name}", io.BytesIO(b"odd"), 3, modified=MODIFIED)
    assert [e.name for e in backend.list(f"Odd {name}")] == [name]
    assert backend.open_read(f"Odd {name}/{name}").read() == b"odd"
    assert {e.path for e in backend.list_all()} == {f"Odd {name}", f"Odd {name}/{name}"}


def test_from_settings(onedrive_emulator: EmulatorProcess, tmp_path: Path) -> None:
    from mobilise.core.errors import InvalidInput
    from tests.storage.onedrive_fixture import provision

    upn = fresh_upn()
    provision(onedrive_emulator, upn)
    settings = emulator_settings(onedrive_emulator, data_dir=tmp_path,
                                 graph_fragment_size=2 * UNIT)
    backend = OneDriveBackend.from_settings(settings, upn=upn, client=make_client(
        onedrive_emulator))
    assert backend.journal.folder == tmp_path / "upload-journal"
    assert backend.fragment_size == 2 * UNIT
    backend.write("via-settings.txt", io.BytesIO(b"s"), 1)
    with pytest.raises(InvalidInput):
        OneDriveBackend.from_settings(settings)


def test_delta_links_are_followed_verbatim(onedrive_emulator: EmulatorProcess,
                                           backend: OneDriveBackend) -> None:
    backend.write("a.txt", io.BytesIO(b"a"), 1)
    first = backend.delta(None)
    assert first.token.startswith("https://")           # the deltaLink itself is the token
    backend.write("b.txt", io.BytesIO(b"b"), 1)
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    later = backend.delta(first.token)
    asked = [r["path"] for r in request_log(onedrive_emulator) if r["method"] == "GET"]
    link = httpx.URL(first.token)
    assert asked[0] == link.raw_path.decode()            # nothing added, nothing rebuilt
    assert "b.txt" in {e.path for e in later.entries}


def test_gone_delta_restarts_from_its_location(onedrive_emulator: EmulatorProcess,
                                               backend: OneDriveBackend) -> None:
    backend.write("a.txt", io.BytesIO(b"a"), 1)
    stale = f"{onedrive_emulator.graph_url}/drives/{backend.drive_id}/root/delta?token=999999"
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    listing = backend.delta(stale)
    assert listing.resynced and "a.txt" in {e.path for e in listing.entries}
    asked = [(r["path"], r["status"]) for r in request_log(onedrive_emulator)
             if r["method"] == "GET"]
    # The 410, then exactly the Location it carried (a fresh enumeration from scratch).
    assert asked[0][1] == 410
    assert asked[1] == (f"/v1.0/drives/{backend.drive_id}/root/delta", 200)


def test_refused_names_as_real_graph_reports_them(backend: OneDriveBackend) -> None:
    """Real Graph sends no inner invalidPath code, only the message."""
    from mobilise.graph import InvalidName

    with pytest.raises(NameRejected) as refused:
        backend.write("a<b.txt", io.BytesIO(b"x"), 1)
    assert isinstance(refused.value, InvalidName)
    assert not refused.value.inner_codes


def test_graph_errors_reach_storage_callers_as_both(backend: OneDriveBackend) -> None:
    from mobilise.graph import ItemNotFound

    with pytest.raises(EntryNotFound) as missing:
        backend.stat("nothing/here.txt")
    assert isinstance(missing.value, ItemNotFound) and missing.value.http_status == 404


def test_session_kept_after_507_is_committed_later(onedrive_emulator: EmulatorProcess,
                                                   tmp_path: Path) -> None:
    """A 507 at the last fragment keeps the session ("Handle upload errors"): once there is
    room, the next write of the same file commits it without sending the bytes again."""
    from tests.storage.onedrive_fixture import provision

    upn = fresh_upn()
    backend = make_onedrive_backend(onedrive_emulator, tmp_path / "journal", upn=upn,
                                    quota=2 * UNIT, fragment_size=UNIT)
    data = os.urandom(3 * UNIT)
    with pytest.raises(QuotaExceeded):
        backend.write("later.bin", io.BytesIO(data), len(data), modified=MODIFIED)
    provision(onedrive_emulator, upn, quota=10 * UNIT)
    with onedrive_emulator.admin() as admin:
        admin.delete("/requests")
    entry = backend.write("later.bin", io.BytesIO(data), len(data), modified=MODIFIED)
    assert entry.size == len(data) and entry.hashes["quickxor"] == quickxor_b64(data)
    sent = [r for r in request_log(onedrive_emulator)
            if r["method"] == "PUT" and r["path"].startswith("/_upload/")]
    assert sent == []                                     # committed, not uploaded again
    assert not list((tmp_path / "journal").glob("*.json"))
