"""Behaviours Microsoft documents that the emulator once ignored or refused: delta as a
function and with timestamp tokens, conditional headers, $select, $filter and $orderby on
children, moves, upload URLs on their own host, and consistent request ids."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from urllib.parse import quote, urlparse

from tests.emulator.conftest import Graph, assert_graph_error


def test_delta_forms_and_scope(graph: Graph) -> None:
    graph.put_file("a.txt", b"a").raise_for_status()
    drive = graph.http.get(graph.drive).json()["id"]
    root = graph.http.get(f"{graph.drive}/root").json()["id"]
    names = set()
    for form in (f"/drives/{drive}/root/delta", f"/drives/{drive}/root/delta()",
                 f"/drives/{drive}/items/root/delta()", f"/drives/{drive}/items/{root}/delta",
                 f"/drives/{drive}/root/microsoft.graph.delta()"):
        page = graph.http.get(form)
        assert page.status_code == 200, (form, page.text)
        names.add(frozenset(i["name"] for i in page.json()["value"]))
    assert names == {frozenset({"root", "a.txt"})}
    token = parse_token(graph.http.get(f"/drives/{drive}/root/delta").json())
    graph.put_file("b.txt", b"b").raise_for_status()
    for form in (f"/drives/{drive}/root/delta(token='{token}')",
                 f"/drives/{drive}/items/root/delta(token={token})",
                 f"/drives/{drive}/root/delta?token={token}"):
        changed = {i["name"] for i in graph.http.get(form).json()["value"]}
        assert "b.txt" in changed and "a.txt" not in changed, form
    folder = graph.mkdir("", "Sub").json()["id"]
    # OneDrive for Business: delta only on the root folder.
    assert_graph_error(graph.http.get(f"/drives/{drive}/items/{folder}/delta()"), 400,
                       "invalidRequest")


def parse_token(page: dict[str, object]) -> str:
    from urllib.parse import parse_qs

    return parse_qs(urlparse(str(page["@odata.deltaLink"])).query)["token"][0]


def test_delta_token_as_a_timestamp(graph: Graph) -> None:
    graph.put_file("before.txt", b"1").raise_for_status()
    time.sleep(1.1)
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    time.sleep(1.1)
    graph.put_file("after.txt", b"2").raise_for_status()
    page = graph.http.get(f"{graph.drive}/root/delta", params={"token": moment}).json()
    names = {i["name"] for i in page["value"]}
    assert "after.txt" in names and "before.txt" not in names


def test_encoded_path_addressing_and_session(graph: Graph) -> None:
    assert graph.mkdir("", "Docs").status_code == 201
    encoded = quote("root:/Docs:", safe="")
    item = graph.http.get(f"{graph.drive}/items/{encoded}")
    assert item.status_code == 200 and item.json()["name"] == "Docs"
    assert graph.http.get(f"{graph.drive}/items/root/children").json()["value"][0]["name"] \
        == "Docs"
    docs_id = item.json()["id"]
    by_id_path = graph.http.get(f"{graph.drive}/items/{docs_id}:/:")
    assert by_id_path.status_code == 200
    session = graph.http.post(f"{graph.drive}/items/{quote('root:/Docs/s.bin:', safe='')}"
                              "/createUploadSession", json={"item": {}})
    assert session.status_code == 200, session.text
    url = session.json()["uploadUrl"]
    # Upload URLs live on another host name than Graph's.
    assert urlparse(url).hostname == graph.emulator.upload_host != "127.0.0.1"
    done = graph.plain.put(url, content=b"abc", headers={"Content-Range": "bytes 0-2/3"})
    assert done.status_code == 201
    moved_host = url.replace(f"//{graph.emulator.upload_host}:", "//127.0.0.1:")
    assert graph.plain.get(moved_host).status_code == 404


def test_conditional_headers(graph: Graph) -> None:
    item = graph.put_file("c.txt", b"v1").json()
    path = f"{graph.drive}/root:/c.txt:"
    assert graph.http.get(path, headers={"If-None-Match": item["eTag"]}).status_code == 304
    assert_graph_error(graph.http.patch(path, json={"name": "d.txt"},
                                        headers={"If-Match": '"{stale},1"'}),
                       412, "resourceModified")
    assert_graph_error(graph.http.delete(path, headers={"If-Match": '"{stale},1"'}),
                       412, "resourceModified")
    assert_graph_error(graph.http.put(f"{path}/content", content=b"v2",
                                      headers={"If-None-Match": "*"}), 412, "resourceModified")
    assert graph.http.delete(path, headers={"If-Match": item["cTag"]}).status_code == 204


def test_select_filter_orderby(graph: Graph) -> None:
    graph.mkdir("", "F").raise_for_status()
    for name, size in (("b.txt", 3), ("a.txt", 1), ("c.doc", 2)):
        graph.put_file(f"F/{name}", b"x" * size).raise_for_status()
    graph.mkdir("F", "Zed").raise_for_status()
    base = f"{graph.drive}/root:/F:/children"
    item = graph.http.get(f"{graph.drive}/root:/F/a.txt:", params={"$select": "id,name"})
    assert set(item.json()) == {"id", "name"}
    files = graph.http.get(base, params={"$filter": "file ne null", "$orderby": "size desc"})
    assert [i["name"] for i in files.json()["value"]] == ["b.txt", "c.doc", "a.txt"]
    txt = graph.http.get(base, params={"$filter": "startswith(name,'a') or x eq 1"})
    assert_graph_error(txt, 400, "invalidRequest")       # refused, never ignored
    paged = graph.http.get(base, params={"$orderby": "name desc", "$top": 2}).json()
    names = [i["name"] for i in paged["value"]]
    names += [i["name"] for i in graph.http.get(paged["@odata.nextLink"]).json()["value"]]
    assert names == ["Zed", "c.doc", "b.txt", "a.txt"]


def test_move_by_parent_reference(graph: Graph) -> None:
    target = graph.mkdir("", "Target").json()
    graph.put_file("m.txt", b"move me").raise_for_status()
    moved = graph.http.patch(f"{graph.drive}/root:/m.txt:",
                             json={"parentReference": {"id": target["id"]}, "name": "n.txt"})
    assert moved.status_code == 200
    assert moved.json()["parentReference"]["id"] == target["id"]
    assert graph.http.get(f"{graph.drive}/root:/Target/n.txt:").status_code == 200
    assert graph.http.get(f"{graph.drive}/root:/m.txt:").status_code == 404
    by_path = graph.http.patch(f"{graph.drive}/root:/Target/n.txt:",
                               json={"parentReference": {"path": "/drive/root:"}})
    assert by_path.status_code == 200
    assert graph.http.get(f"{graph.drive}/root:/n.txt:").status_code == 200
    assert_graph_error(graph.http.patch(f"{graph.drive}/root:/Target:", json={
        "parentReference": {"id": target["id"]}}), 400, "invalidRequest")


def test_client_request_id_is_always_answered(graph: Graph) -> None:
    answer = graph.plain.get(f"{graph.emulator.graph_url}/users")   # no token: 401
    assert answer.headers["client-request-id"] == answer.headers["request-id"]
    sent = graph.http.get(f"{graph.drive}/root:/none:", headers={"client-request-id": "mine"})
    assert sent.headers["client-request-id"] == "mine"
    assert sent.json()["error"]["innerError"]["request-id"] == sent.headers["request-id"]
