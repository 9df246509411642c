"""The emulator refuses each documented bad name, path, size and fragment with the
documented status and Graph-shaped error body."""

from __future__ import annotations

import pytest

from mobilise.emulator.names import MAX_FILE_SIZE, server_relative_prefix
from tests.emulator.conftest import Graph, assert_graph_error
from tests.storage.onedrive_fixture import fresh_upn, provision

BAD_NAMES = [
    'quote"d',
    "star*",
    "colon:",
    "less<",
    "more>",
    "question?",
    "back\\slash",
    "pipe|",
    " leading",
    "trailing ",
    "trailing.",
    "ctrl\x01char",
    "del\x7fchar",
    ".lock",
    "CON",
    "con",
    "PRN",
    "AUX",
    "NUL",
    "COM0",
    "COM9",
    "LPT1",
    "lpt9",
    "desktop.ini",
    "Desktop.INI",
    "~$report.docx",
    "x_vti_y",
    "_vti_cnf",
]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_bad_file_name_refused(graph: Graph, name: str) -> None:
    # The name goes in the JSON body of an upload session, so any character can be sent.
    response = graph.http.post(
        f"{graph.drive}/root:/placeholder:/createUploadSession", json={"item": {}}
    )
    assert response.status_code == 200
    response = graph.mkdir("", name)
    # Real Graph: 400 invalidRequest, no inner code; illegal characters in its own words.
    assert_graph_error(response, 400, "invalidRequest")
    assert response.json()["error"]["message"].startswith("The provided name")


@pytest.mark.parametrize(
    "name",
    [n for n in BAD_NAMES if "/" not in n and ":" not in n and "?" not in n and "\\" not in n],
)
def test_bad_name_refused_on_simple_upload(graph: Graph, name: str) -> None:
    from urllib.parse import quote

    response = graph.http.put(
        f"{graph.drive}/root:/{quote(name, safe='')}:/content", content=b"data"
    )
    assert_graph_error(response, 400, "invalidRequest")


def test_illegal_characters_answer_as_real_graph_does(graph: Graph) -> None:
    response = graph.mkdir("", "a<b")
    assert_graph_error(response, 400, "invalidRequest")
    assert response.json()["error"]["message"] == (
        "The provided name cannot contain any illegal characters.")


def test_folder_rules(graph: Graph) -> None:
    assert_graph_error(graph.mkdir("", "forms"), 400, "invalidRequest")
    assert_graph_error(graph.mkdir("", "~tmp"), 400, "invalidRequest")
    assert graph.mkdir("", "Team").status_code == 201
    # Real SharePoint libraries refuse a folder called forms below the root too...
    assert_graph_error(graph.mkdir("Team", "Forms"), 400, "invalidRequest")
    # ...but a file may be called forms anywhere.
    assert graph.put_file("forms", b"x").status_code == 201
    assert graph.put_file("Team/forms", b"x").status_code == 201


def test_path_length_counts_the_personal_prefix(graph: Graph) -> None:
    budget = 400 - len(server_relative_prefix(graph.upn))
    assert graph.mkdir("", "d" * 200).status_code == 201
    fits = "d" * 200 + "/" + "f" * (budget - 201)
    assert graph.put_file(fits, b"ok").status_code == 201
    too_long = "d" * 200 + "/" + "g" * (budget - 200)
    assert_graph_error(graph.put_file(too_long, b"no"), 400, "invalidRequest", "pathIsTooLong")


def test_path_budget_differs_per_person(onedrive_emulator) -> None:  # type: ignore[no-untyped-def]
    short, long = "a.b@example.police.uk", fresh_upn("a-much-longer-given-name.surname")
    for upn in (short, long):
        provision(onedrive_emulator, upn)
    name = "n" * (400 - len(server_relative_prefix(short)))
    assert Graph(onedrive_emulator, short).put_file(name[:255], b"x").status_code == 201
    path = (
        "p" * 100 + "/" + "r" * 100 + "/" + "q" * (400 - len(server_relative_prefix(short)) - 202)
    )
    for upn, expected in ((short, 201), (long, 400)):
        graph = Graph(onedrive_emulator, upn)
        graph.mkdir("", "p" * 100)
        graph.mkdir("p" * 100, "r" * 100)
        assert graph.put_file(path, b"x").status_code == expected


def test_segment_longer_than_255_refused(graph: Graph) -> None:
    assert graph.mkdir("", "s" * 255).status_code == 201
    assert_graph_error(graph.mkdir("", "s" * 256), 400, "invalidRequest", "pathIsTooLong")


def test_declared_size_over_250_gb_refused(graph: Graph) -> None:
    response = graph.session("huge.bin", fileSize=MAX_FILE_SIZE + 1)
    assert_graph_error(response, 400, "invalidRequest", "maxFileSizeExceeded")


def test_content_range_total_over_250_gb_refused(graph: Graph) -> None:
    url = graph.session("huge.bin").json()["uploadUrl"]
    response = graph.plain.put(
        url,
        content=b"x" * 327_680,
        headers={"Content-Range": f"bytes 0-327679/{MAX_FILE_SIZE + 1}"},
    )
    assert_graph_error(response, 400, "invalidRequest", "maxFileSizeExceeded")


def test_quota_refused_with_507(onedrive_emulator) -> None:  # type: ignore[no-untyped-def]
    upn = fresh_upn()
    provision(onedrive_emulator, upn, quota=1000)
    graph = Graph(onedrive_emulator, upn)
    assert graph.put_file("fits.bin", b"x" * 900).status_code == 201
    assert_graph_error(graph.put_file("over.bin", b"x" * 200), 507, "quotaLimitReached")
    assert_graph_error(graph.session("big.bin", fileSize=101), 507, "quotaLimitReached")
    # Replacing a file frees its old size first.
    assert graph.put_file("fits.bin", b"y" * 1000).status_code == 200
    drive = graph.http.get(graph.drive).json()
    assert drive["quota"] == {
        "total": 1000,
        "used": 1000,
        "remaining": 0,
        "deleted": 0,
        "state": "exceeded",
    }


def test_quota_checked_when_the_last_fragment_lands(onedrive_emulator) -> None:  # type: ignore[no-untyped-def]
    upn = fresh_upn()
    provision(onedrive_emulator, upn, quota=100)
    graph = Graph(onedrive_emulator, upn)
    url = graph.session("undeclared.bin").json()["uploadUrl"]
    response = graph.plain.put(
        url, content=b"z" * 101, headers={"Content-Range": "bytes 0-100/101"}
    )
    assert_graph_error(response, 507, "quotaLimitReached")


UNIT = 327_680


@pytest.mark.parametrize(
    ("first", "second", "status", "code", "inner"),
    [
        # overlap: the same first fragment twice
        ((0, UNIT - 1, 3 * UNIT), (0, UNIT - 1, 3 * UNIT), 416, "invalidRange", "fragmentOverlap"),
        # out of order: skipping the second fragment
        (
            (0, UNIT - 1, 3 * UNIT),
            (2 * UNIT, 3 * UNIT - 1, 3 * UNIT),
            400,
            "invalidRequest",
            "fragmentOutOfOrder",
        ),
        # a different total from the first fragment's
        (
            (0, UNIT - 1, 3 * UNIT),
            (UNIT, 2 * UNIT - 1, 4 * UNIT),
            400,
            "invalidRequest",
            "fragmentLengthMismatch",
        ),
    ],
)
def test_fragment_rules(graph: Graph, first, second, status, code, inner) -> None:  # type: ignore[no-untyped-def]
    url = graph.session("fragments.bin").json()["uploadUrl"]
    if first is not None:
        start, end, total = first
        ok = graph.plain.put(
            url,
            content=b"a" * (end - start + 1),
            headers={"Content-Range": f"bytes {start}-{end}/{total}"},
        )
        assert ok.status_code == 202
    start, end, total = second
    response = graph.plain.put(
        url,
        content=b"b" * (end - start + 1),
        headers={"Content-Range": f"bytes {start}-{end}/{total}"},
    )
    assert_graph_error(response, status, code, inner)


def test_fragments_not_a_multiple_of_320_kib_are_taken(graph: Graph) -> None:
    """Microsoft only warns such sizes may fail to commit "some files"; the service takes
    them, and Microsoft's own SDK sends ranges one byte longer than its chunk size."""
    url = graph.session("odd.bin").json()["uploadUrl"]
    first = graph.plain.put(url, content=b"a" * (UNIT + 10),
                            headers={"Content-Range": f"bytes 0-{UNIT + 9}/{2 * UNIT}"})
    assert first.status_code == 202
    assert first.json()["nextExpectedRanges"] == [f"{UNIT + 10}-{2 * UNIT - 1}"]
    rest = f"bytes {UNIT + 10}-{2 * UNIT - 1}/{2 * UNIT}"
    last = graph.plain.put(url, content=b"b" * (UNIT - 10), headers={"Content-Range": rest})
    assert last.status_code == 201
    assert last.json()["size"] == 2 * UNIT


def test_fragment_of_60_mib_refused(graph: Graph) -> None:
    url = graph.session("big.bin").json()["uploadUrl"]
    size = 60 * 1024 * 1024
    response = graph.plain.put(
        url, content=b"\0" * size, headers={"Content-Range": f"bytes 0-{size - 1}/{2 * size}"}
    )
    assert_graph_error(response, 413, "invalidRequest", "maxFragmentLengthExceeded")


def test_fragment_with_authorization_refused(graph: Graph) -> None:
    url = graph.session("auth.bin").json()["uploadUrl"]
    response = graph.http.put(url, content=b"a" * 10, headers={"Content-Range": "bytes 0-9/10"})
    assert_graph_error(response, 401, "unauthenticated")


def test_name_conflict_at_the_last_fragment(graph: Graph) -> None:
    assert graph.put_file("taken.txt", b"first").status_code == 201
    url = graph.session("taken.txt", **{"@microsoft.graph.conflictBehavior": "fail"}).json()[
        "uploadUrl"
    ]
    response = graph.plain.put(url, content=b"second", headers={"Content-Range": "bytes 0-5/6"})
    assert_graph_error(response, 409, "nameAlreadyExists")
    # The session is kept until it expires, every byte received, waiting for a commit...
    kept = graph.plain.get(url)
    assert kept.status_code == 200 and kept.json()["nextExpectedRanges"] == []
    # ...which a PUT with @microsoft.graph.sourceUrl makes, with the conflict resolved.
    done = graph.http.put(f"{graph.drive}/root:/taken.txt:", json={
        "name": "taken.txt", "@microsoft.graph.conflictBehavior": "rename",
        "@microsoft.graph.sourceUrl": url})
    assert done.status_code == 201, done.text
    assert done.json()["name"] == "taken 1.txt" and done.json()["size"] == 6
    assert_graph_error(graph.plain.get(url), 404, "itemNotFound", "uploadSessionNotFound")


def test_quota_at_the_last_fragment_keeps_the_session(onedrive_emulator) -> None:  # type: ignore[no-untyped-def]
    upn = fresh_upn()
    provision(onedrive_emulator, upn, quota=100)
    graph = Graph(onedrive_emulator, upn)
    url = graph.session("later.bin").json()["uploadUrl"]
    response = graph.plain.put(url, content=b"z" * 101,
                               headers={"Content-Range": "bytes 0-100/101"})
    assert_graph_error(response, 507, "quotaLimitReached")
    assert graph.plain.get(url).json()["nextExpectedRanges"] == []
    provision(onedrive_emulator, upn, quota=1000)   # room made: commit the kept session
    done = graph.http.put(f"{graph.drive}/root:/later.bin:", json={
        "name": "later.bin", "@microsoft.graph.sourceUrl": url})
    assert done.status_code == 201 and done.json()["size"] == 101


def test_defer_commit_waits_for_an_empty_post(graph: Graph) -> None:
    url = graph.http.post(f"{graph.drive}/root:/deferred.txt:/createUploadSession",
                          json={"item": {}, "deferCommit": True}).json()["uploadUrl"]
    sent = graph.plain.put(url, content=b"held", headers={"Content-Range": "bytes 0-3/4"})
    assert sent.status_code == 202 and sent.json()["nextExpectedRanges"] == []
    assert graph.http.get(f"{graph.drive}/root:/deferred.txt:").status_code == 404
    done = graph.plain.post(url, content=b"")
    assert done.status_code == 201 and done.json()["size"] == 4


def test_unknown_route_and_missing_item_are_graph_errors(graph: Graph) -> None:
    assert_graph_error(graph.http.get(f"{graph.drive}/root:/nothing-here:"), 404, "itemNotFound")
    assert_graph_error(graph.http.get("/drives/b!nope"), 404, "itemNotFound")
    response = graph.plain.get(f"{graph.emulator.graph_url}{graph.drive}")
    assert_graph_error(response, 401, "unauthenticated")
