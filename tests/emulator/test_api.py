"""The emulator's documented behaviour: users, drives, paging, folders, uploads, delta,
tokens, persistence and fault injection."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from mobilise.emulator.server import EmulatorProcess
from tests.emulator.conftest import Graph, assert_graph_error, token_for
from tests.storage.onedrive_fixture import (
    fresh_upn,
    provision,
    request_log,
    set_faults,
    start_emulator,
)
from tests.storage.quickxor_reference import quickxor_b64

UNIT = 327_680


def test_drive_is_404_until_provisioned(onedrive_emulator: EmulatorProcess) -> None:
    upn = fresh_upn()
    with onedrive_emulator.admin() as admin:
        admin.post("/users", json={"userPrincipalName": upn}).raise_for_status()
    graph = Graph(onedrive_emulator, upn)
    user = graph.http.get(f"/users/{upn}").json()
    assert user["userPrincipalName"] == upn
    assert graph.http.get(f"/users/{user['id']}").json()["id"] == user["id"]
    assert_graph_error(graph.http.get(f"/users/{upn}/drive"), 404, "itemNotFound")
    provision(onedrive_emulator, upn, quota=10_000)
    drive = graph.http.get(f"/users/{upn}/drive").json()
    assert drive["driveType"] == "business"
    assert drive["owner"]["user"]["id"] == user["id"]
    assert drive["quota"]["state"] == "normal"
    assert graph.http.get(f"/drives/{drive['id']}").json()["id"] == drive["id"]


def test_quota_states(onedrive_emulator: EmulatorProcess) -> None:
    upn = fresh_upn()
    provision(onedrive_emulator, upn, quota=1000)
    graph = Graph(onedrive_emulator, upn)
    for size, state in ((850, "normal"), (60, "nearing"), (85, "critical")):
        graph.put_file(f"f{size}", b"x" * size).raise_for_status()
        assert graph.http.get(graph.drive).json()["quota"]["state"] == state


def test_users_paging(onedrive_emulator: EmulatorProcess) -> None:
    for _ in range(3):
        provision(onedrive_emulator, fresh_upn())
    graph = Graph(onedrive_emulator, fresh_upn())
    page = graph.http.get("/users", params={"$top": 2}).json()
    seen = [u["id"] for u in page["value"]]
    while "@odata.nextLink" in page:
        page = graph.http.get(page["@odata.nextLink"]).json()
        seen += [u["id"] for u in page["value"]]
    assert len(seen) == len(set(seen)) >= 3


def test_children_paging_with_opaque_next_link(graph: Graph) -> None:
    graph.mkdir("", "Many").raise_for_status()
    names = {f"file-{i:02}.txt" for i in range(7)}
    for name in names:
        graph.put_file(f"Many/{name}", name.encode()).raise_for_status()
    url = f"{graph.drive}/root:/Many:/children"
    page = graph.http.get(url, params={"$top": 3}).json()
    pages = [page]
    while "@odata.nextLink" in page:
        link = page["@odata.nextLink"]
        assert "$skiptoken" in parse_qs(urlparse(link).query)
        page = graph.http.get(link).json()
        pages.append(page)
    assert [len(p["value"]) for p in pages] == [3, 3, 1]
    assert {i["name"] for p in pages for i in p["value"]} == names
    folder = graph.http.get(f"{graph.drive}/root:/Many:").json()
    assert folder["folder"]["childCount"] == 7


def test_folder_conflict_behaviours(graph: Graph) -> None:
    created = graph.mkdir("", "Reports")
    assert created.status_code == 201 and created.json()["folder"] == {"childCount": 0}
    assert_graph_error(graph.mkdir("", "reports"), 409, "nameAlreadyExists")
    renamed = graph.mkdir("", "Reports", "rename")
    assert renamed.status_code == 201 and renamed.json()["name"] == "Reports 1"
    graph.put_file("Reports/inside.txt", b"x").raise_for_status()
    replaced = graph.mkdir("", "Reports", "replace")
    assert replaced.status_code == 201 and replaced.json()["id"] != created.json()["id"]
    assert replaced.json()["folder"]["childCount"] == 0


def test_simple_upload_created_then_replaced(graph: Graph) -> None:
    first = graph.put_file("note.txt", b"hello world")
    assert first.status_code == 201
    body = first.json()
    assert body["file"]["hashes"]["quickXorHash"] == "aCgDG9jwBhDc4Q1yawMZAAAAAAA="
    assert body["parentReference"]["path"] == "/drive/root:"
    second = graph.put_file("note.txt", b"goodbye")
    assert second.status_code == 200 and second.json()["id"] == body["id"]
    assert_graph_error(graph.put_file("note.txt", b"x", **{
        "@microsoft.graph.conflictBehavior": "fail"}), 409, "nameAlreadyExists")
    renamed = graph.put_file("note.txt", b"x", **{"@microsoft.graph.conflictBehavior": "rename"})
    assert renamed.json()["name"] == "note 1.txt"
    content = graph.http.get(f"{graph.drive}/root:/note.txt:/content")
    assert content.status_code == 302
    assert graph.plain.get(content.headers["location"]).content == b"goodbye"


def test_upload_session_lifecycle(graph: Graph) -> None:
    data = bytes(range(256)) * (3 * UNIT // 256) + b"tail"
    session = graph.session("big.bin", fileSystemInfo={
        "createdDateTime": "2019-03-04T05:06:07Z", "lastModifiedDateTime": "2020-01-02T03:04:05Z"})
    assert session.status_code == 200
    url = session.json()["uploadUrl"]
    assert session.json()["nextExpectedRanges"] == ["0-"]
    fragment = 2 * UNIT
    first = graph.plain.put(url, content=data[:fragment],
                            headers={"Content-Range": f"bytes 0-{fragment - 1}/{len(data)}"})
    assert first.status_code == 202
    assert first.json()["nextExpectedRanges"] == [f"{fragment}-{len(data) - 1}"]
    status = graph.plain.get(url).json()
    assert status["nextExpectedRanges"] == [f"{fragment}-{len(data) - 1}"]
    assert status["expirationDateTime"].endswith("Z")
    last = graph.plain.put(url, content=data[fragment:], headers={
        "Content-Range": f"bytes {fragment}-{len(data) - 1}/{len(data)}"})
    assert last.status_code == 201
    item = last.json()
    assert item["size"] == len(data)
    assert item["file"]["hashes"]["quickXorHash"] == quickxor_b64(data)
    assert item["fileSystemInfo"] == {"createdDateTime": "2019-03-04T05:06:07Z",
                                      "lastModifiedDateTime": "2020-01-02T03:04:05Z"}
    assert_graph_error(graph.plain.get(url), 404, "itemNotFound", "uploadSessionNotFound")


def test_upload_session_cancel_and_expiry(graph: Graph) -> None:
    url = graph.session("cancel.bin").json()["uploadUrl"]
    assert graph.plain.delete(url).status_code == 204
    assert_graph_error(graph.plain.get(url), 404, "itemNotFound", "uploadSessionNotFound")
    set_faults(graph.emulator, session_idle_seconds=0.5)
    url = graph.session("expire.bin").json()["uploadUrl"]
    assert graph.plain.put(url, content=b"a" * UNIT,
                           headers={"Content-Range": f"bytes 0-{UNIT - 1}/{2 * UNIT}"}
                           ).status_code == 202
    time.sleep(1.0)
    late = graph.plain.put(url, content=b"a" * UNIT, headers={
        "Content-Range": f"bytes {UNIT}-{2 * UNIT - 1}/{2 * UNIT}"})
    assert_graph_error(late, 404, "itemNotFound", "uploadSessionNotFound")


def test_delta_paging_changes_and_deletions(graph: Graph) -> None:
    graph.mkdir("", "A").raise_for_status()
    for i in range(5):
        graph.put_file(f"A/{i}.txt", b"x" * i).raise_for_status()
    url = f"{graph.drive}/root/delta"
    page = graph.http.get(url, params={"$top": 2}).json()
    items = list(page["value"])
    while "@odata.nextLink" in page:
        assert "@odata.deltaLink" not in page
        page = graph.http.get(page["@odata.nextLink"]).json()
        items += page["value"]
    delta_link = page["@odata.deltaLink"]
    assert "token" in parse_qs(urlparse(delta_link).query)
    names = {i["name"] for i in items}
    assert names >= {"root", "A", "0.txt", "4.txt"}
    assert all("path" not in i["parentReference"] for i in items)
    gone = graph.http.get(f"{graph.drive}/root:/A/2.txt:").json()["id"]
    graph.http.delete(f"{graph.drive}/root:/A/2.txt:").raise_for_status()
    graph.put_file("A/new.txt", b"new").raise_for_status()
    changes = graph.http.get(delta_link).json()
    by_id = {i["id"]: i for i in changes["value"]}
    assert by_id[gone]["deleted"] == {}
    assert "new.txt" in {i.get("name") for i in changes["value"]}
    latest = graph.http.get(url, params={"token": "latest"}).json()
    assert latest["value"] == [] and "@odata.deltaLink" in latest
    gone_token = graph.http.get(url, params={"token": "999999999"})
    assert_graph_error(gone_token, 410, "resyncRequired", "resyncChangesApplyDifferences")
    # "a Location header containing a new nextLink that starts a fresh delta enumeration"
    fresh = graph.http.get(gone_token.headers["location"]).json()
    assert {"root", "A", "0.txt"} <= {i["name"] for i in fresh["value"]}


def test_openid_configuration_and_token_errors(onedrive_emulator: EmulatorProcess) -> None:
    tls = onedrive_emulator.tls()
    config = httpx.get(f"{onedrive_emulator.authority}/v2.0/.well-known/openid-configuration",
                       verify=tls).json()
    assert config["token_endpoint"] == f"{onedrive_emulator.authority}/oauth2/v2.0/token"
    assert "authorization_endpoint" in config
    endpoint = config["token_endpoint"]
    form = {"client_id": "mobilise-app", "client_secret": "wrong",
            "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default"}
    refused = httpx.post(endpoint, data=form, verify=tls)
    assert refused.status_code == 400
    body = refused.json()
    assert body["error"] == "invalid_client" and body["error_codes"] == [7000215]
    assert body["error_description"].startswith("AADSTS7000215")
    unknown = httpx.post(endpoint, data={**form, "client_id": "nobody"}, verify=tls)
    assert unknown.status_code == 400 and unknown.json()["error"] == "unauthorized_client"
    scope = httpx.post(endpoint, data={**form, "client_secret": "emulator-secret",
                                       "scope": "User.Read"}, verify=tls)
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"
    assert token_for(onedrive_emulator)


def test_state_survives_restart(tmp_path: Path) -> None:
    emulator = start_emulator(tmp_path / "root")
    upn = fresh_upn()
    try:
        provision(emulator, upn)
        graph = Graph(emulator, upn)
        graph.put_file("kept.txt", b"still here").raise_for_status()
        path = urlparse(graph.session("half.bin").json()["uploadUrl"]).path
        graph.plain.put(f"{emulator.file_url}{path}", content=b"h" * UNIT, headers={
            "Content-Range": f"bytes 0-{UNIT - 1}/{UNIT + 3}"}).raise_for_status()
    finally:
        emulator.stop()
    again = EmulatorProcess(tmp_path / "root").start()   # a new port, the same root
    try:
        graph = Graph(again, upn)
        location = graph.http.get(f"{graph.drive}/root:/kept.txt:/content").headers["location"]
        assert graph.plain.get(location).content == b"still here"
        url = f"{again.file_url}{path}"
        assert graph.plain.get(url).json()["nextExpectedRanges"] == [f"{UNIT}-{UNIT + 2}"]
        done = graph.plain.put(url, content=b"end", headers={
            "Content-Range": f"bytes {UNIT}-{UNIT + 2}/{UNIT + 3}"})
        assert done.status_code == 201
        assert done.json()["file"]["hashes"]["quickXorHash"] == quickxor_b64(b"h" * UNIT + b"end")
    finally:
        again.stop()


def _statuses(graph: Graph, count: int) -> list[int | str]:
    seen: list[int | str] = []
    for _ in range(count):
        try:
            seen.append(graph.http.get(graph.drive).status_code)
        except httpx.TransportError:
            seen.append("reset")
    return seen


def test_faults_are_seeded_and_reproducible(graph: Graph) -> None:
    rates = {"throttle_rate": 0.2, "unavailable_rate": 0.1, "reset_rate": 0.1,
             "retry_after": 0.01}
    set_faults(graph.emulator, seed=7, **rates)
    first = _statuses(graph, 60)
    set_faults(graph.emulator, seed=7, **rates)
    assert _statuses(graph, 60) == first
    assert {429, 503, "reset", 200} <= set(first)
    set_faults(graph.emulator, seed=8, **rates)
    assert _statuses(graph, 60) != first


def test_throttled_answers_carry_retry_after_and_are_logged(graph: Graph) -> None:
    set_faults(graph.emulator, throttle_rate=1.0, retry_after=2.5)
    with graph.emulator.admin() as admin:
        admin.delete("/requests")
    response = graph.http.get(graph.drive, headers={"client-request-id": "abc"})
    assert_graph_error(response, 429, "activityLimitReached", "throttledRequest")
    assert response.headers["retry-after"] == "2.5"
    (row,) = [r for r in request_log(graph.emulator) if r["client_request_id"] == "abc"]
    assert row["status"] == 429 and row["retry_after"] == 2.5 and row["finished"] >= row["started"]


def test_resource_unit_budget_throttles_per_app(graph: Graph) -> None:
    set_faults(graph.emulator, ru_per_minute=5)
    statuses = [graph.http.get(graph.drive) for _ in range(8)]
    assert [r.status_code for r in statuses[:5]] == [200] * 5
    throttled = statuses[5]
    assert_graph_error(throttled, 429, "activityLimitReached", "throttledRequest")
    assert int(throttled.headers["retry-after"]) >= 1
    assert throttled.headers["ratelimit-limit"] == "5"


def test_latency_is_added(graph: Graph) -> None:
    set_faults(graph.emulator, latency_ms=100, latency_rate=0.5, seed=1)
    with graph.emulator.admin() as admin:
        admin.delete("/requests")
    for _ in range(20):
        graph.http.get(graph.drive).raise_for_status()
    rows = request_log(graph.emulator)
    delayed = [r for r in rows if r["latency"]]
    assert 0 < len(delayed) < len(rows)
    assert all(0 < r["latency"] <= 0.2 for r in delayed)
    # the answer was held back by at least the latency the log says was added
    assert all(r["finished"] - r["started"] >= r["latency"] for r in delayed)


@pytest.mark.parametrize("upn_path", ["users", "drives"])
def test_path_and_id_addressing_agree(graph: Graph, upn_path: str) -> None:
    graph.mkdir("", "Docs").raise_for_status()
    item = graph.put_file("Docs/a.txt", b"abc").json()
    drive_id = graph.http.get(graph.drive).json()["id"]
    prefix = graph.drive if upn_path == "users" else f"/drives/{drive_id}"
    by_id = graph.http.get(f"{prefix}/items/{item['id']}").json()
    by_path = graph.http.get(f"{prefix}/root:/Docs/a.txt").json()
    parent = item["parentReference"]["id"]
    by_parent = graph.http.get(f"{prefix}/items/{parent}:/a.txt:").json()
    assert by_id["id"] == by_path["id"] == by_parent["id"] == item["id"]
    assert by_path["parentReference"]["path"] == "/drive/root:/Docs"


def test_delta_repeats_an_item_changed_during_paging(graph: Graph) -> None:
    for i in range(4):
        graph.put_file(f"r{i}.txt", b"1").raise_for_status()
    first = graph.http.get(f"{graph.drive}/root/delta", params={"$top": 2}).json()
    seen = [i["id"] for i in first["value"]]
    changed = next(i for i in first["value"] if i.get("name", "").startswith("r"))
    graph.put_file(changed["name"], b"22").raise_for_status()
    page = first
    while "@odata.nextLink" in page:
        page = graph.http.get(page["@odata.nextLink"]).json()
        seen += [i["id"] for i in page["value"]]
    assert seen.count(changed["id"]) == 2
    again = graph.http.get(page["@odata.deltaLink"]).json()
    assert changed["id"] not in [i["id"] for i in again["value"]]


def test_removal_during_a_first_enumeration_is_reported(graph: Graph) -> None:
    for i in range(4):
        graph.put_file(f"d{i}.txt", b"1").raise_for_status()
    first = graph.http.get(f"{graph.drive}/root/delta", params={"$top": 2}).json()
    victim = next(i for i in first["value"] if i.get("name", "").startswith("d"))
    graph.http.delete(f"{graph.drive}/items/{victim['id']}").raise_for_status()
    page, later = first, []
    while "@odata.nextLink" in page:
        page = graph.http.get(page["@odata.nextLink"]).json()
        later += page["value"]
    assert {"id": victim["id"], "deleted": {}}.items() <= next(
        i for i in later if i["id"] == victim["id"]).items()
