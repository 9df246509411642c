from __future__ import annotations

import tempfile
from pathlib import Path

from tests.devices.fleet import manifest_row, write_manifest
from tests.factories import ROSTER_HEADER, person_row, write_csv
from tests.web.conftest import Web


def test_paging_and_filters(web: Web) -> None:
    r = web.client.get("/api/v1/people?limit=5", headers=web.as_("viewer"))
    body = r.json()
    assert r.status_code == 200 and body["total"] == 12 and len(body["items"]) == 5
    assert "offset=5" in body["next"]
    last = web.client.get("/api/v1/people?limit=5&offset=10", headers=web.as_("viewer")).json()
    assert len(last["items"]) == 2 and last["next"] is None
    one = web.client.get("/api/v1/people?q=alex7.smith", headers=web.as_("viewer")).json()
    assert [p["number"] for p in one["items"]] == ["100007"]
    none = web.client.get("/api/v1/people?org_unit=NW", headers=web.as_("viewer")).json()
    assert none["total"] == 0


def test_person_by_number_and_upn(web: Web) -> None:
    a = web.client.get("/api/v1/people/100003", headers=web.as_("viewer")).json()
    b = web.client.get("/api/v1/people/alex3.smith@example.police.uk",
                       headers=web.as_("viewer")).json()
    assert a == b and a["org_unit"] == "CE"
    missing = web.client.get("/api/v1/people/999999", headers=web.as_("viewer"))
    assert missing.status_code == 404
    assert missing.json()["title"] == "Not found"


def test_bad_query_is_422_not_500(web: Web) -> None:
    for query in ["limit=0", "limit=100000", "offset=-1", "status=retired", "eligible=perhaps"]:
        r = web.client.get(f"/api/v1/people?{query}", headers=web.as_("viewer"))
        assert r.status_code == 422, query
        assert r.headers["content-type"].startswith("application/problem+json")


def test_import_over_api_is_all_or_nothing(web: Web, tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "bad.csv", ROSTER_HEADER,
                    [person_row(1), person_row(2, upn="broken")])
    with bad.open("rb") as fh:
        r = web.client.post("/api/v1/people/import", headers=web.as_("programme"),
                            files={"file": ("bad.csv", fh, "text/csv")})
    assert r.status_code == 422
    assert any(":3:4: upn" in e for e in r.json()["errors"])
    good = write_csv(tmp_path / "good.csv", ROSTER_HEADER, [person_row(i) for i in range(13)])
    with good.open("rb") as fh:
        r = web.client.post("/api/v1/people/import?dry_run=true", headers=web.as_("programme"),
                            files={"file": ("good.csv", fh, "text/csv")})
    assert r.json()["added"] == ["100012"]
    assert web.client.get("/api/v1/people", headers=web.as_("viewer")).json()["total"] == 12


def test_openapi_schema(web: Web) -> None:
    schema = web.client.get("/api/v1/openapi.json", headers=web.as_("viewer")).json()
    assert "/api/v1/people" in schema["paths"]
    assert "/api/v1/people/{key}" in schema["paths"]


def test_person_page_shows_history(web: Web) -> None:
    web.login("viewer")
    page = web.client.get("/people/100002")
    assert page.status_code == 200
    assert "person.add" in page.text and "alex2.smith@example.police.uk" in page.text
    web.login("admin")
    assert "Chain intact" in web.client.get("/audit?verify=true").text


def test_import_problems_name_the_uploaded_file_not_a_temporary_one(web: Web,
                                                                    tmp_path: Path) -> None:
    bad = write_csv(tmp_path / "x.csv", ROSTER_HEADER, [person_row(1), person_row(2, upn="no")])
    for sent in ["roster March.csv", "C:\\Users\\pm\\roster March.csv"]:
        with bad.open("rb") as fh:
            r = web.client.post("/api/v1/people/import", headers=web.as_("programme"),
                                files={"file": (sent, fh, "text/csv")})
        assert r.status_code == 422
        errors = r.json()["errors"]
        assert errors and all(e.startswith("roster March.csv:") for e in errors), errors
        assert tempfile.gettempdir() not in r.text
    manifest = write_manifest(tmp_path / "m.csv", [manifest_row(1), ["PO-1", "12", "", "", "", ""]])
    with manifest.open("rb") as fh:
        r = web.client.post("/api/v1/handsets/manifests", headers=web.as_("programme"),
                            files={"file": ("delivery 7.csv", fh, "text/csv")})
    assert r.status_code == 422
    assert all(e.startswith("delivery 7.csv:") for e in r.json()["errors"]), r.json()
